"""Compute kinds: Lambda functions' code signing.

Golden tests feed recorded answers to the pure `observe_*` function; collection tests go through real boto3
calls against moto in-process, with the sandbox's moto shims for the code signing configuration calls moto
lacks (see collector/sandbox/aws_compute.py), and the sandbox seeder against the shared moto server.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from collector.sandbox import aws_compute
from connectors import collect_unit
from connectors.aws import AwsClients, AwsTarget, awslambda
from connectors.base import CollectionError, Evidence, GapReason, canonical_json, get_kind
from ea_testkit.golden import PROVENANCE, check_golden, golden_params

EU, US = "eu-west-1", "us-east-1"
KIND = "aws.lambda.function.code_signing"
PLANTED = "planted-env-secret-value"

OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    KIND: lambda c: awslambda.observe_function_code_signing(
        c["function"], c["assignment"], c["config"], c["region"], PROVENANCE
    ),
}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    kept = {k: case["function"][k] for k in awslambda.RAW_FUNCTION_FIELDS if k in case["function"]}
    assert evidence.raw == {"function": kept, "code_signing": case["assignment"], "code_signing_config": case["config"]}
    assert "Environment" not in canonical_json(evidence.raw), "environment variables are where secrets end up"


# --------------------------------------------------------------------------- collection against moto


@pytest.fixture(scope="module", autouse=True)
def shims():
    """moto keeps no code signing configurations (see collector/sandbox/aws_compute.py)."""
    aws_compute.install_moto_shims()


@pytest.fixture
def aws():
    with mock_aws():
        yield AwsClients(AwsTarget(name="prod", regions=(EU, US)))


def _package() -> bytes:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    return package.getvalue()


def _functions(region: str, *specs: dict) -> dict[str, str]:
    """Create functions (name plus CreateFunction settings); their ARNs by name."""
    role = boto3.client("iam").create_role(RoleName=f"functions-{region}", AssumeRolePolicyDocument="{}")["Role"]
    client = boto3.client("lambda", region_name=region)
    arns = {}
    for spec in specs:
        if spec.get("PackageType") == "Image":
            package = {"Code": {"ImageUri": f"123456789012.dkr.ecr.{region}.amazonaws.com/media:1"}}
        else:
            package = {"Code": {"ZipFile": _package()}, "Runtime": "python3.12", "Handler": "handler.handler"}
        arns[spec["FunctionName"]] = client.create_function(Role=role["Arn"], **package, **spec)["FunctionArn"]
    return arns


def _code_signing(region: str, policy: str, *profiles: str) -> str:
    signer = boto3.client("signer", region_name=region)
    versions = [signer.put_signing_profile(profileName=p, platformId="AWSLambda-SHA384-ECDSA")["profileVersionArn"]
                for p in profiles]  # fmt: skip
    return boto3.client("lambda", region_name=region).create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": versions},
        CodeSigningPolicies={"UntrustedArtifactOnDeployment": policy},
    )["CodeSigningConfig"]["CodeSigningConfigArn"]


def _calls(aws: AwsClients, region: str) -> list[str]:
    calls: list[str] = []
    aws.client("lambda", region).meta.events.register("before-call.lambda", lambda model, **_: calls.append(model.name))
    return calls


def test_code_signing_of_every_function_with_one_call_per_configuration(aws):
    """(us-east-1 has no function: one call, no evidence.)"""
    enforced = _code_signing(EU, "Enforce", "release", "hotfix")
    warn_only = _code_signing(EU, "Warn", "release")
    arns = _functions(
        EU,
        {"FunctionName": "chat-webhook-dispatcher", "CodeSigningConfigArn": enforced,
         "Environment": {"Variables": {"WEBHOOK_SECRET": PLANTED}}},
        {"FunctionName": "chat-presence", "CodeSigningConfigArn": enforced},
        {"FunctionName": "thumbnailer", "CodeSigningConfigArn": warn_only},
        {"FunctionName": "export-trigger"},
        {"FunctionName": "media-transcoder", "PackageType": "Image"},
    )  # fmt: skip
    calls, us_calls = _calls(aws, EU), _calls(aws, US)
    found = {e.resource_id: e for e in collect_unit(get_kind(KIND), aws, EU)}
    assert collect_unit(get_kind(KIND), aws, US) == [] and us_calls == ["ListFunctions"]

    assert set(found) == set(arns.values())
    dispatcher = found[arns["chat-webhook-dispatcher"]]
    assert (dispatcher.region, dispatcher.resource_type) == (EU, "AWS::Lambda::Function")
    assert dispatcher.observed["code_signing_config_arn"] == enforced
    assert dispatcher.observed["untrusted_artifact_on_deployment"] == "Enforce"
    assert [p.split("/")[-2] for p in dispatcher.observed["allowed_publishers"]] == ["hotfix", "release"]
    assert found[arns["chat-presence"]].observed == dispatcher.observed
    assert found[arns["thumbnailer"]].observed["untrusted_artifact_on_deployment"] == "Warn"
    assert found[arns["export-trigger"]].observed == {
        "package_type": "Zip", "code_signing_config_arn": None, "untrusted_artifact_on_deployment": None,
        "allowed_publishers": [],
    }  # fmt: skip
    assert found[arns["media-transcoder"]].observed["package_type"] == "Image"
    # One listing, one assignment per function, one read per configuration however many functions share it.
    assert calls.count("ListFunctions") == 1 and calls.count("GetFunctionCodeSigningConfig") == 5
    assert calls.count("GetCodeSigningConfig") == 2
    assert [op["operation"] for op in dispatcher.source["operations"]] == [
        "ListFunctions", "GetFunctionCodeSigningConfig", "GetCodeSigningConfig",
    ]  # fmt: skip
    assert dispatcher.source["operations"][2]["params"] == {"CodeSigningConfigArn": enforced}
    assert [op["operation"] for op in found[arns["export-trigger"]].source["operations"]] == [
        "ListFunctions", "GetFunctionCodeSigningConfig",
    ]  # fmt: skip
    assert dispatcher.raw["function"]["FunctionName"] == "chat-webhook-dispatcher"
    assert PLANTED not in json.dumps([e.raw for e in found.values()]), "environment variables never reach raw"


def test_function_deleted_during_the_unit_yields_no_evidence(aws):
    arns = _functions(EU, {"FunctionName": "kept"}, {"FunctionName": "scratch"})
    lam = boto3.client("lambda", region_name=EU)

    def delete_scratch(params, **_):
        if params["FunctionName"] == "scratch":
            lam.delete_function(FunctionName="scratch")

    aws.client("lambda", EU).meta.events.register(
        "provide-client-params.lambda.GetFunctionCodeSigningConfig", delete_scratch
    )
    found = collect_unit(get_kind(KIND), aws, EU)
    assert [e.resource_id for e in found] == [arns["kept"]]


def test_configuration_denied_is_a_gap_not_an_unsigned_function(aws):
    _functions(EU, {"FunctionName": "chat-presence", "CodeSigningConfigArn": _code_signing(EU, "Enforce", "release")})

    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetCodeSigningConfig")

    aws.client("lambda", EU).meta.events.register("before-call.lambda.GetCodeSigningConfig", deny)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind(KIND), aws, EU)
    assert info.value.reason == GapReason.DENIED and info.value.operation == "GetCodeSigningConfig"


# --------------------------------------------------------------------------- the sandbox seeder


def test_sandbox_seed_signs_the_eu_function_and_leaves_the_us_ones_open(moto_endpoint):
    """(The shared moto server has the shims: conftest installs them before it starts.)"""
    from collector.sandbox.base import client

    role = client("iam", moto_endpoint).create_role(RoleName="rotation", AssumeRolePolicyDocument="{}")["Role"]
    client("lambda", moto_endpoint, EU).create_function(  # as aws_data creates it, unsigned
        FunctionName=aws_compute.ROTATION_FUNCTION, Runtime="python3.12", Role=role["Arn"], Handler="handler.handler",
        Code={"ZipFile": _package()},
    )  # fmt: skip
    aws_compute.seed(moto_endpoint)
    aws = AwsClients(AwsTarget(name="prod", regions=(EU, US), endpoint_url=moto_endpoint))
    try:
        found = {e.resource_id.rsplit(":", 1)[1]: e.observed for region in (EU, US)
                 for e in collect_unit(get_kind(KIND), aws, region)}  # fmt: skip
    finally:
        aws.close()
    assert {name: o["untrusted_artifact_on_deployment"] for name, o in found.items()} == {
        aws_compute.ROTATION_FUNCTION: "Enforce", "legacy-export-trigger": None, "legacy-thumbnailer": "Warn",
    }  # fmt: skip
    assert all(len(o["allowed_publishers"]) == 1 for name, o in found.items() if name != "legacy-export-trigger")
