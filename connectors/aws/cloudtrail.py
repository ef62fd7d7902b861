"""CloudTrail: every trail's configuration, and the account's trails at a glance.

DescribeTrails answers for one region: the trails created there plus the shadows of multi-region
and organization trails created elsewhere. Asked in every configured region, it gives every trail
that logs any configured region. A trail's status and event selectors are read in its home region.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.aws.arns import ACCOUNT_TYPE, account_arn
from connectors.aws.clients import AwsClients, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import GLOBAL, Evidence, evidence_kind, redact, to_jsonable

TRAIL_TYPE = "AWS::CloudTrail::Trail"


@dataclass(frozen=True)
class Trail:
    arn: str
    home_region: str
    description: dict[str, Any]  # the trail's entry in DescribeTrails, JSON-safe
    operations: tuple[dict[str, Any], ...]  # provenance of the DescribeTrails calls that listed it


def list_trails(aws: AwsClients) -> tuple[list[Trail], list[dict[str, Any]]]:
    """Every trail seen from the configured regions, once per ARN, sorted, with the provenance of every
    DescribeTrails call (also when no trail was found); listed once per run."""

    def describe(region: str) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
        params = {"includeShadowTrails": True}
        resp = aws.client("cloudtrail", region).describe_trails(**params)  # not paginated: one answer
        return region, resp["trailList"], operation("DescribeTrails", params, resp) | {"region": region}

    def compute() -> tuple[list[Trail], list[dict[str, Any]]]:
        descriptions: dict[str, dict[str, Any]] = {}
        listed_by: dict[str, list[dict[str, Any]]] = {}
        answers = aws.fan_out(describe, aws.target.regions)
        for region, trails, op in answers:
            for trail in trails:
                arn = trail["TrailARN"]
                listed_by.setdefault(arn, []).append(op)
                if arn not in descriptions or trail["HomeRegion"] == region:  # prefer the home copy
                    descriptions[arn] = to_jsonable(trail)
        found = [
            Trail(arn, descriptions[arn]["HomeRegion"], descriptions[arn], tuple(listed_by[arn]))
            for arn in sorted(descriptions)
        ]
        return found, [op for _, _, op in answers]

    return aws.memo("cloudtrail:trails", compute)


def trail_status(aws: AwsClients, trail: Trail) -> tuple[dict[str, Any], dict[str, Any]]:
    """GetTrailStatus in the trail's home region (shared by both CloudTrail kinds): (answer, provenance)."""

    def compute() -> tuple[dict[str, Any], dict[str, Any]]:
        params = {"Name": trail.arn}
        resp = aws.client("cloudtrail", trail.home_region).get_trail_status(**params)
        return to_jsonable(strip_metadata(resp)), operation("GetTrailStatus", params, resp)

    return aws.memo(f"cloudtrail:status:{trail.arn}", compute)


@evidence_kind(
    "aws.cloudtrail.trail.configuration",
    regional=False,
    permissions=("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors"),
)
def collect_trail_configuration(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Configuration, logging status and event selectors of every CloudTrail trail logging a configured region."""

    def read(trail: Trail) -> Evidence:
        status, status_op = trail_status(aws, trail)
        params = {"TrailName": trail.arn}
        selectors = aws.client("cloudtrail", trail.home_region).get_event_selectors(**params)
        provenance = source(
            aws, "cloudtrail", [*trail.operations, status_op, operation("GetEventSelectors", params, selectors)]
        )
        return observe_trail_configuration(trail.description, status, to_jsonable(selectors), provenance)

    trails, _ = list_trails(aws)
    yield from aws.fan_out(read, trails)


def management_events(selectors: dict[str, Any]) -> str | None:
    """Which management events basic selectors log: All, ReadOnly, WriteOnly or None.

    null when advanced selectors are in use (they are recorded as they are, not interpreted).
    A trail with no selector at all logs all management events (the AWS default)."""
    if selectors.get("AdvancedEventSelectors"):
        return None
    basic = selectors.get("EventSelectors") or []
    if not basic:
        return "All"
    types = {s.get("ReadWriteType", "All") for s in basic if s.get("IncludeManagementEvents", True)}
    if "All" in types or {"ReadOnly", "WriteOnly"} <= types:
        return "All"
    return types.pop() if types else "None"


def logs_data_events(selectors: dict[str, Any]) -> bool:
    """A basic selector names data resources, or an advanced selector selects the Data event category."""
    if any(s.get("DataResources") for s in selectors.get("EventSelectors") or []):
        return True
    return any(
        f["Field"] == "eventCategory" and "Data" in f.get("Equals", [])
        for s in selectors.get("AdvancedEventSelectors") or []
        for f in s["FieldSelectors"]
    )


def observe_trail_configuration(
    trail: dict[str, Any], status: dict[str, Any], selectors: dict[str, Any], provenance: dict[str, Any]
) -> Evidence:
    log_group = trail.get("CloudWatchLogsLogGroupArn")
    return Evidence(
        kind="aws.cloudtrail.trail.configuration",
        resource_id=trail["TrailARN"],
        resource_type=TRAIL_TYPE,
        region=trail["HomeRegion"],
        observed={
            "multi_region": bool(trail["IsMultiRegionTrail"]),
            "organization_trail": bool(trail.get("IsOrganizationTrail", False)),
            "include_global_service_events": bool(trail.get("IncludeGlobalServiceEvents", False)),
            "is_logging": bool(status["IsLogging"]),
            "log_file_validation": bool(trail.get("LogFileValidationEnabled", False)),
            "kms_key_id": trail.get("KmsKeyId"),
            "s3_bucket": trail["S3BucketName"],
            "cloudwatch_log_group_arn": log_group.removesuffix(":*") if log_group else None,
            "advanced_event_selectors": bool(selectors.get("AdvancedEventSelectors")),
            "management_events": management_events(selectors),
            "data_events": logs_data_events(selectors),
        },
        source=provenance,
        raw=redact(to_jsonable({"trail": trail, "status": status, "event_selectors": strip_metadata(selectors)})),
    )


@evidence_kind(
    "aws.cloudtrail.account.trails",
    regional=False,
    permissions=("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus"),
)
def collect_account_trails(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The account's CloudTrail trails at a glance (no trail at all is a fact, not an empty result)."""
    trails, listing_ops = list_trails(aws)
    multi_region = [t for t in trails if t.description["IsMultiRegionTrail"]]
    answers = aws.fan_out(lambda trail: trail_status(aws, trail), multi_region)
    statuses = {t.arn: status for t, (status, _) in zip(multi_region, answers, strict=True)}
    provenance = source(aws, "cloudtrail", [*listing_ops, *(op for _, op in answers)])
    yield observe_account_trails(aws.partition, aws.account_id, [t.description for t in trails], statuses, provenance)


def observe_account_trails(
    partition: str,
    account_id: str,
    trails: list[dict[str, Any]],
    statuses: dict[str, dict[str, Any]],
    provenance: dict[str, Any],
) -> Evidence:
    """`statuses`: the GetTrailStatus answer of every multi-region trail, by trail ARN."""
    logging_multi_region = [
        t["TrailARN"] for t in trails if t["IsMultiRegionTrail"] and statuses[t["TrailARN"]]["IsLogging"]
    ]
    return Evidence(
        kind="aws.cloudtrail.account.trails",
        resource_id=account_arn(partition, account_id),
        resource_type=ACCOUNT_TYPE,
        region=GLOBAL,
        observed={
            "trail_count": len(trails),
            "multi_region_logging_count": len(logging_multi_region),
            "trail_arns": sorted(t["TrailARN"] for t in trails),
        },
        source=provenance,
        raw=redact(to_jsonable({"trails": trails, "statuses": statuses})),
    )
