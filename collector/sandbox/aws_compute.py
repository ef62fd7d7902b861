"""Sandbox compute: which code the Lambda functions accept (code signing).

eu-west-1 is done right: the release signing profile signs the functions' code, and the secrets-rotation
function (from `aws_data`) accepts new code only when that profile signed it. us-east-1 is legacy: the export
trigger has no code signing at all, and the thumbnailer's configuration only warns when a signature does not
check out.

Run after `aws_data` (the rotation function).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import zipfile
from typing import Any
from urllib.parse import unquote

from collector.sandbox.base import client

EU, US = "eu-west-1", "us-east-1"
ROTATION_FUNCTION = "rotate-message-store-db"  # created by aws_data
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}],
}


# --------------------------------------------------------------------------- moto shims


def install_moto_shims() -> None:
    """Where moto 5.2 is not the AWS API, answer as AWS does. Only reaches a moto running in this process (the
    demo's and the tests' ThreadedMotoServer, `mock_aws`); install before the server first serves Lambda.

    - Lambda: CreateCodeSigningConfig, GetCodeSigningConfig and PutFunctionCodeSigningConfig are not
      implemented (moto only keeps a configuration ARN given to CreateFunction). Configurations are kept on
      the region's backend; attaching one sets the ARN moto's GetFunctionCodeSigningConfig answers.
    """
    try:
        from moto.awslambda import urls as lambda_urls
        from moto.awslambda.responses import LambdaResponse
    except ImportError:  # pragma: no cover - the sandbox extra is not installed
        return
    if hasattr(LambdaResponse, "get_code_signing_config"):
        return
    lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/code-signing-configs/?$"] = LambdaResponse.dispatch
    lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/code-signing-configs/(?P<arn>[^/]+)$"] = LambdaResponse.dispatch
    LambdaResponse.create_code_signing_config = _create_code_signing_config
    LambdaResponse.get_code_signing_config = _get_code_signing_config
    LambdaResponse.put_function_code_signing_config = _put_function_code_signing_config


def _configurations(response: Any) -> dict[str, dict[str, Any]]:
    backend = response.backend
    if not hasattr(backend, "evidence_agent_code_signing_configs"):
        backend.evidence_agent_code_signing_configs = {}
    return backend.evidence_agent_code_signing_configs


def _not_found(message: str) -> Exception:
    from moto.awslambda.exceptions import LambdaClientError

    error = LambdaClientError("ResourceNotFoundException", message)
    error.code = 404
    return error


def _create_code_signing_config(self: Any) -> tuple[int, dict[str, str], str]:
    request = json.loads(self.body or "{}")
    config_id = f"csc-{secrets.token_hex(9)[:17]}"
    backend = self.backend
    config = {
        "CodeSigningConfigId": config_id,
        "CodeSigningConfigArn": f"arn:aws:lambda:{backend.region_name}:{backend.account_id}"
        f":code-signing-config:{config_id}",
        "Description": request.get("Description", ""),
        "AllowedPublishers": request["AllowedPublishers"],
        "CodeSigningPolicies": request.get("CodeSigningPolicies") or {"UntrustedArtifactOnDeployment": "Warn"},
        "LastModified": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    }
    _configurations(self)[config["CodeSigningConfigArn"]] = config
    return 201, {}, json.dumps({"CodeSigningConfig": config})


def _get_code_signing_config(self: Any) -> str:
    arn = unquote(self.path.rsplit("/", 1)[-1])
    config = _configurations(self).get(arn)
    if config is None:
        raise _not_found(f"Code signing configuration not found: {arn}")
    return json.dumps({"CodeSigningConfig": config})


def _put_function_code_signing_config(self: Any) -> str:
    name = unquote(self.path.rsplit("/", 2)[-2])
    arn = json.loads(self.body or "{}")["CodeSigningConfigArn"]
    if arn not in _configurations(self):
        raise _not_found(f"Code signing configuration not found: {arn}")
    function = self.backend.get_function(name)  # not found: moto's own ResourceNotFoundException
    function.code_signing_config_arn = arn
    return json.dumps({"CodeSigningConfigArn": arn, "FunctionName": function.function_name})


# --------------------------------------------------------------------------- seeding


def _code(handler: str) -> bytes:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr(f"{handler}.py", "def handler(event, context):\n    return None\n")
    return package.getvalue()


def _code_signing(endpoint: str, region: str, policy: str, description: str) -> str:
    profile = client("signer", endpoint, region).put_signing_profile(
        profileName="acme_release", platformId="AWSLambda-SHA384-ECDSA"
    )["profileVersionArn"]
    return client("lambda", endpoint, region).create_code_signing_config(
        Description=description,
        AllowedPublishers={"SigningProfileVersionArns": [profile]},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
    )["CodeSigningConfig"]["CodeSigningConfigArn"]


def _functions(endpoint: str) -> None:
    enforced = _code_signing(endpoint, EU, "Enforce", "release-signed code only")
    client("lambda", endpoint, EU).put_function_code_signing_config(
        FunctionName=ROTATION_FUNCTION, CodeSigningConfigArn=enforced
    )
    role = client("iam", endpoint, US).create_role(
        RoleName="acme-legacy-export", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )["Role"]["Arn"]
    us = client("lambda", endpoint, US)
    us.create_function(
        FunctionName="legacy-export-trigger", Runtime="python3.12", Role=role, Handler="export.handler",
        Code={"ZipFile": _code("export")},
    )  # fmt: skip
    warn_only = _code_signing(endpoint, US, "Warn", "signature failures are logged only")
    us.create_function(
        FunctionName="legacy-thumbnailer", Runtime="python3.12", Role=role, Handler="thumbnail.handler",
        Code={"ZipFile": _code("thumbnail")}, CodeSigningConfigArn=warn_only,
    )  # fmt: skip


def seed(endpoint: str) -> None:
    """Code signing enforced on the EU function; none, or warnings only, on the US ones."""
    install_moto_shims()
    _functions(endpoint)
