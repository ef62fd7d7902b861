"""AWS Organizations: service control policies that deny requests outside a list of allowed regions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from connectors.aws.arns import ACCOUNT_TYPE, account_arn
from connectors.aws.clients import AwsClients, get_or_absent, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import GLOBAL, Evidence, evidence_kind, redact, to_jsonable

POLICY_TYPE = "AWS::Organizations::Policy"
SCP = "SERVICE_CONTROL_POLICY"
REGION_KEY = "aws:requestedregion"  # condition keys compare case-insensitively
PRINCIPAL_KEYS = frozenset({"aws:principalarn"})
# Operators that deny "everything but these values" when they sit in a Deny statement.
NEGATED_OPERATORS = frozenset(
    {"StringNotEquals", "StringNotLike", "StringNotEqualsIgnoreCase", "ArnNotEquals", "ArnNotLike"}
)
NOT_IN_ORGANIZATION = {
    "organization": False,
    "policy_name": None,
    "aws_managed": False,
    "restricts_regions": False,
    "allowed_regions": [],
    "restricted_actions": [],
    "exempted_actions": [],
    "exempted_principals": [],
    "targets": [],
}


@evidence_kind(
    "aws.organizations.policy.region_restriction",
    regional=False,
    permissions=(
        "organizations:DescribeOrganization",
        "organizations:ListPolicies",
        "organizations:DescribePolicy",
        "organizations:ListTargetsForPolicy",
    ),
)
def collect_region_restriction(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Service control policies: which deny requests outside allowed regions, and where they are attached."""
    org = aws.client("organizations")
    described, describe_op = get_or_absent(org.describe_organization, "AWSOrganizationsNotInUseException", {})
    if described is None:  # not in an organization: no SCP can restrict anything (a fact, one record)
        provenance = source(aws, "organizations", [describe_op])
        yield observe_region_restriction(aws.partition, aws.account_id, None, [], provenance)
        return
    # Only the management account (or a delegated administrator) may list policies: AccessDenied is a gap.
    summaries, list_op = list_all(org, "list_policies", "Policies", Filter=SCP)

    def read(summary: dict[str, Any]) -> tuple[dict, list[dict], list[dict]]:
        params = {"PolicyId": summary["Id"]}
        policy = org.describe_policy(**params)
        targets, targets_op = list_all(org, "list_targets_for_policy", "Targets", **params)
        return policy, targets, [describe_op, list_op, operation("DescribePolicy", params, policy), targets_op]

    for policy, targets, ops in aws.fan_out(read, summaries):
        yield observe_region_restriction(
            aws.partition, aws.account_id, policy, targets, source(aws, "organizations", ops)
        )


def _operator(name: str) -> str:
    """`ForAnyValue:StringNotLikeIfExists` -> `StringNotLike`."""
    base = name.split(":", 1)[-1]
    return base.removesuffix("IfExists")


def _target_order(target: dict[str, str]) -> tuple[str, str]:
    return target["type"], target["id"]


def _strings(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def condition_values(statement: dict[str, Any], keys: frozenset[str]) -> list[str]:
    """The values a negated operator compares these condition keys with ("deny unless one of these")."""
    values: list[str] = []
    for op, comparisons in (statement.get("Condition") or {}).items():
        if _operator(op) in NEGATED_OPERATORS:
            for key, value in comparisons.items():
                if key.lower() in keys:
                    values.extend(_strings(value))
    return values


def region_deny_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Deny statements conditioned on the requested region not being one of a list."""
    statements = document["Statement"]
    return [
        s
        for s in ([statements] if isinstance(statements, dict) else statements)
        if s["Effect"] == "Deny" and condition_values(s, frozenset({REGION_KEY}))
    ]


def observe_region_restriction(
    partition: str, account_id: str, policy: dict | None, targets: list[dict], provenance: dict
) -> Evidence:
    """One SCP (`DescribePolicy` answer and its targets), or None: the account is in no organization."""
    if policy is None:
        return Evidence(
            kind="aws.organizations.policy.region_restriction",
            resource_id=account_arn(partition, account_id),
            resource_type=ACCOUNT_TYPE,
            region=GLOBAL,
            observed=dict(NOT_IN_ORGANIZATION),
            source=provenance,
            raw={"organization": None},
        )
    summary = policy["Policy"]["PolicySummary"]
    denies = region_deny_statements(json.loads(policy["Policy"]["Content"]))

    def union(values: list[str]) -> list[str]:
        return sorted(set(values))

    return Evidence(
        kind="aws.organizations.policy.region_restriction",
        resource_id=summary["Arn"],
        resource_type=POLICY_TYPE,
        region=GLOBAL,
        observed={
            "organization": True,
            "policy_name": summary["Name"],
            "aws_managed": summary["AwsManaged"],
            "restricts_regions": bool(denies),
            "allowed_regions": union([v for s in denies for v in condition_values(s, frozenset({REGION_KEY}))]),
            "restricted_actions": union([a for s in denies for a in _strings(s.get("Action"))]),
            "exempted_actions": union([a for s in denies for a in _strings(s.get("NotAction"))]),
            "exempted_principals": union([p for s in denies for p in condition_values(s, PRINCIPAL_KEYS)]),
            "targets": sorted(({"type": t["Type"], "id": t["TargetId"]} for t in targets), key=_target_order),
        },
        source=provenance,
        raw=redact(to_jsonable({"policy": strip_metadata(policy), "targets": targets})),
    )
