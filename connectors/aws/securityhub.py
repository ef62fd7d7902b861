"""Security Hub: whether the region's hub is enabled, and which security standards it evaluates the account against."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.exceptions

from connectors.aws.arns import ACCOUNT_TYPE, account_setting_arn
from connectors.aws.clients import AwsClients, error_code, error_operation, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

# Security Hub answers DescribeHub for an account that never enabled it (or disabled it) with this error
# and a message saying the account "is not subscribed"; the same code with another message is not that fact.
NOT_SUBSCRIBED_CODE = "InvalidAccessException"
NOT_SUBSCRIBED_TEXT = "not subscribed"


def describe_hub(hub: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(DescribeHub answer, provenance), or (None, provenance) when the account is not subscribed here."""
    try:
        resp = hub.describe_hub()
    except botocore.exceptions.ClientError as exc:
        message = str(exc.response.get("Error", {}).get("Message", ""))
        if error_code(exc) != NOT_SUBSCRIBED_CODE or NOT_SUBSCRIBED_TEXT not in message.lower():
            raise
        return None, error_operation("DescribeHub", {}, exc)
    return resp, operation("DescribeHub", {}, resp)


@evidence_kind(
    "aws.securityhub.hub.status",
    regional=True,
    permissions=("securityhub:DescribeHub", "securityhub:GetEnabledStandards"),
)
def collect_hub_status(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Security Hub in the region: enabled or not, and its enabled security standards with their status."""
    hub = aws.client("securityhub", scope)
    described, hub_op = describe_hub(hub)
    operations = [hub_op]
    standards: list[dict[str, Any]] = []
    if described is not None:  # without a hub there are no standards to ask for (the call would fail alike)
        standards, standards_op = list_all(hub, "get_enabled_standards", "StandardsSubscriptions")
        operations.append(standards_op)
    hub_answer = to_jsonable(strip_metadata(described)) if described is not None else None
    provenance = source(aws, "securityhub", operations)
    yield observe_hub_status(aws.partition, aws.account_id, scope, hub_answer, to_jsonable(standards), provenance)


def observe_hub_status(
    partition: str,
    account_id: str,
    region: str,
    hub: dict[str, Any] | None,
    standards: list[dict[str, Any]],
    provenance: dict[str, Any],
) -> Evidence:
    """`hub`: the DescribeHub answer, or None when the account is not subscribed in the region (a fact,
    not a gap); `standards`: the StandardsSubscriptions of every GetEnabledStandards page."""
    return Evidence(
        kind="aws.securityhub.hub.status",
        resource_id=account_setting_arn(partition, "securityhub", region, account_id),
        resource_type=ACCOUNT_TYPE,
        region=region,
        observed={
            "enabled": hub is not None,
            "standards": {s["StandardsArn"]: s["StandardsStatus"] for s in sorted(standards, key=_arn)},
        },
        source=provenance,
        raw=redact(to_jsonable({"hub": hub, "standards": standards})),
    )


def _arn(subscription: dict[str, Any]) -> str:
    return subscription["StandardsArn"]
