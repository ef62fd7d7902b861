"""CloudWatch Logs: retention, encryption, deletion protection and sensitive-data masking of every log group.

One DescribeLogGroups listing per region and run, shared by the kinds, and one read of the region's
account-level data protection policy (DescribeAccountPolicies) per region and run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, get_or_absent, list_all, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

LOG_GROUP_TYPE = "AWS::Logs::LogGroup"
PAGE_SIZE = 50  # the most DescribeLogGroups returns per page
DATA_PROTECTION_POLICY = "DATA_PROTECTION_POLICY"
# GetDataProtectionPolicy's "no such log group" (a group deleted since the listing): no policy either.
NO_POLICY_CODE = "ResourceNotFoundException"


def log_group_arn(group: dict[str, Any]) -> str:
    """The log group's own ARN: DescribeLogGroups' `arn` ends in ":*" (its streams); drop it."""
    return group["arn"].removesuffix(":*")


def list_log_groups(aws: AwsClients, region: str) -> tuple[list[dict], dict[str, Any]]:
    """Every log group of the region and the provenance of the listing; read once per run per region."""
    return aws.memo(
        f"logs:log_groups:{region}",
        lambda: list_all(aws.client("logs", region), "describe_log_groups", "logGroups", limit=PAGE_SIZE),
    )


def list_account_data_protection_policies(aws: AwsClients, region: str) -> tuple[list[dict], dict[str, Any]]:
    """The region's account-level data protection policies (AWS allows one) and the provenance of the read;
    read once per run per region. botocore has no paginator for DescribeAccountPolicies: its token is followed."""

    def compute() -> tuple[list[dict], dict[str, Any]]:
        policies, op = list_all(aws.client("logs", region), "describe_account_policies", "accountPolicies",
                                token="nextToken", policyType=DATA_PROTECTION_POLICY)  # fmt: skip
        return [to_jsonable(p) for p in policies], op

    return aws.memo(f"logs:account_data_protection:{region}", compute)


@evidence_kind("aws.logs.log_group.settings", regional=True, permissions=("logs:DescribeLogGroups",))
def collect_log_group_settings(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Retention, KMS encryption and deletion protection of every CloudWatch Logs log group."""
    groups, list_op = list_log_groups(aws, scope)
    provenance = source(aws, "logs", [list_op])
    for group in groups:
        yield observe_log_group(group, provenance)


def observe_log_group(group: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    arn = log_group_arn(group)
    return Evidence(
        kind="aws.logs.log_group.settings",
        resource_id=arn,
        resource_type=LOG_GROUP_TYPE,
        region=arn.split(":")[3],
        observed={
            "retention_days": group.get("retentionInDays"),  # absent: events never expire
            "kms_key_id": group.get("kmsKeyId"),
            "deletion_protection": bool(group.get("deletionProtectionEnabled", False)),
        },
        source=provenance,
        raw=redact(to_jsonable(group)),
    )


# --------------------------------------------------------------------------- data protection (masking)


@evidence_kind(
    "aws.logs.log_group.data_protection",
    regional=True,
    permissions=("logs:DescribeLogGroups", "logs:GetDataProtectionPolicy", "logs:DescribeAccountPolicies"),
)
def collect_log_group_data_protection(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Which sensitive data CloudWatch Logs masks in every log group: its own and the account's data protection
    policies."""
    groups, list_op = list_log_groups(aws, scope)
    if not groups:
        return
    account_policies, account_op = list_account_data_protection_policies(aws, scope)
    client = aws.client("logs", scope)

    def ask(group: dict[str, Any]) -> tuple[dict[str, Any], dict | None, dict[str, Any]]:
        """A group without a policy answers no (or an empty) policyDocument; one deleted since the listing
        answers ResourceNotFoundException: both are "no group policy", a fact, not a gap."""
        resp, op = get_or_absent(client.get_data_protection_policy, NO_POLICY_CODE,
                                 {"logGroupIdentifier": log_group_arn(group)})  # fmt: skip
        return group, resp, op

    for group, resp, op in aws.fan_out(ask, groups):
        policy = None if resp is None else to_jsonable(strip_metadata(resp))
        yield observe_log_group_data_protection(
            to_jsonable(group), policy, account_policies, source(aws, "logs", [list_op, account_op, op])
        )


def observe_log_group_data_protection(
    group: dict[str, Any],
    policy: dict[str, Any] | None,
    account_policies: list[dict[str, Any]],
    provenance: dict[str, Any],
) -> Evidence:
    """`group`: one DescribeLogGroups item; `policy`: its GetDataProtectionPolicy answer (no or an empty
    `policyDocument` when it has none; None when the call answered ResourceNotFoundException);
    `account_policies`: the region's DescribeAccountPolicies items of type DATA_PROTECTION_POLICY.

    The two policies are cumulative: what either masks is masked for every reader without `logs:Unmask`."""
    arn = log_group_arn(group)
    group_document = (policy or {}).get("policyDocument")
    documents = [group_document, *(p.get("policyDocument") for p in account_policies)]
    statements = [statement for document in documents if document for statement in json.loads(document)["Statement"]]
    audits = [s for s in statements if "Audit" in s["Operation"]]
    return Evidence(
        kind="aws.logs.log_group.data_protection",
        resource_id=arn,
        resource_type=LOG_GROUP_TYPE,
        region=arn.split(":")[3],
        observed={
            "group_policy": bool(group_document),
            "account_policy": any(p.get("policyDocument") for p in account_policies),
            "masked_identifiers": _identifier_names([s for s in statements if _masks(s)]),
            "audited_identifiers": _identifier_names(audits),
            "findings_destination": any(_sends_findings(s) for s in audits),
        },
        source=provenance,
        raw=redact({"group": group, "policy": policy, "account_policies": account_policies}),
    )


def _masks(statement: dict[str, Any]) -> bool:
    """A Deidentify statement with a MaskConfig: the matched data is replaced by asterisks."""
    deidentify = statement["Operation"].get("Deidentify")
    return isinstance(deidentify, dict) and "MaskConfig" in deidentify


def _sends_findings(statement: dict[str, Any]) -> bool:
    """An Audit statement naming at least one findings destination (a log group, Firehose stream or S3 bucket);
    with an empty `FindingsDestination` findings only show in CloudWatch metrics."""
    destinations = (statement["Operation"]["Audit"] or {}).get("FindingsDestination") or {}
    return any(destinations.values())


def _identifier_names(statements: list[dict[str, Any]]) -> list[str]:
    """Sorted short names of the statements' data identifiers: `EmailAddress` for
    `arn:aws:dataprotection::aws:data-identifier/EmailAddress`; a custom identifier is named as it is."""
    return sorted({identifier.rsplit("/", 1)[-1] for s in statements for identifier in s["DataIdentifier"]})
