"""CloudWatch Logs: retention, encryption and deletion protection of every log group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, list_all
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

LOG_GROUP_TYPE = "AWS::Logs::LogGroup"
PAGE_SIZE = 50  # the most DescribeLogGroups returns per page


def log_group_arn(group: dict[str, Any]) -> str:
    """The log group's own ARN: DescribeLogGroups' `arn` ends in ":*" (its streams); drop it."""
    return group["arn"].removesuffix(":*")


@evidence_kind("aws.logs.log_group.settings", regional=True, permissions=("logs:DescribeLogGroups",))
def collect_log_group_settings(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Retention, KMS encryption and deletion protection of every CloudWatch Logs log group."""
    groups, list_op = list_all(aws.client("logs", scope), "describe_log_groups", "logGroups", limit=PAGE_SIZE)
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
