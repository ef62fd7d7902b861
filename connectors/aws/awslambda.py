"""AWS Lambda: which code each function accepts on deployment (code signing).

(Named `awslambda` because the SDK service, `lambda`, is a Python keyword.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, get_or_absent, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

FUNCTION_TYPE = "AWS::Lambda::Function"
GONE = "ResourceNotFoundException"  # a function deleted between the listing and its call
# What raw keeps of a ListFunctions item: which function, and how its code is packaged. Never its environment
# variables (where secrets end up), nor the code hash, version and dates that change with every deployment.
RAW_FUNCTION_FIELDS = ("FunctionName", "FunctionArn", "PackageType", "Runtime")


@evidence_kind(
    "aws.lambda.function.code_signing",
    regional=True,
    permissions=("lambda:ListFunctions", "lambda:GetFunctionCodeSigningConfig", "lambda:GetCodeSigningConfig"),
)
def collect_function_code_signing(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Every Lambda function of the region: its code signing configuration, the signing profiles it trusts and
    whether code failing the signature checks is rejected or only logged."""
    client = aws.client("lambda", scope)
    functions, list_op = list_all(client, "list_functions", "Functions")

    def assignment(function: dict[str, Any]) -> tuple[dict[str, Any], dict | None, dict[str, Any]]:
        """A function deleted since the listing answers not found: it yields nothing (its state ends)."""
        params = {"FunctionName": function["FunctionName"]}
        resp, op = get_or_absent(client.get_function_code_signing_config, GONE, params)
        return function, resp, op

    assigned = [answer for answer in aws.fan_out(assignment, functions) if answer[1] is not None]
    arns = sorted({resp.get("CodeSigningConfigArn") or "" for _, resp, _ in assigned} - {""})

    def configuration(arn: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """One call per configuration, however many functions share it."""
        params = {"CodeSigningConfigArn": arn}
        resp = client.get_code_signing_config(**params)
        return to_jsonable(strip_metadata(resp)), operation("GetCodeSigningConfig", params, resp)

    configurations = dict(zip(arns, aws.fan_out(configuration, arns), strict=True))
    for function, resp, op in assigned:
        config, config_op = configurations.get(resp.get("CodeSigningConfigArn") or "", (None, None))
        operations = [list_op, op] + ([config_op] if config_op else [])
        yield observe_function_code_signing(to_jsonable(function), to_jsonable(strip_metadata(resp)), config,
                                            scope, source(aws, "lambda", operations))  # fmt: skip


def observe_function_code_signing(
    function: dict[str, Any],
    assignment: dict[str, Any],
    config: dict[str, Any] | None,
    region: str,
    provenance: dict[str, Any],
) -> Evidence:
    """`function`: one ListFunctions item; `assignment`: the GetFunctionCodeSigningConfig answer (no ARN, or an
    empty one, when the function has no configuration); `config`: the GetCodeSigningConfig answer, None then."""
    signing = (config or {}).get("CodeSigningConfig", {})
    return Evidence(
        kind="aws.lambda.function.code_signing",
        resource_id=function["FunctionArn"],
        resource_type=FUNCTION_TYPE,
        region=region,
        observed={
            "package_type": function.get("PackageType", "Zip"),
            "code_signing_config_arn": assignment.get("CodeSigningConfigArn") or None,
            "untrusted_artifact_on_deployment": signing.get("CodeSigningPolicies", {}).get(
                "UntrustedArtifactOnDeployment"
            ),
            "allowed_publishers": sorted(signing.get("AllowedPublishers", {}).get("SigningProfileVersionArns", [])),
        },
        source=provenance,
        raw=redact(
            {
                "function": {k: function[k] for k in RAW_FUNCTION_FIELDS if k in function},
                "code_signing": assignment,
                "code_signing_config": config,
            }
        ),
    )
