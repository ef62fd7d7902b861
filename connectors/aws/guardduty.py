"""GuardDuty: whether the region has a detector, whether it is enabled, and what it watches."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.arns import ACCOUNT_TYPE, account_setting_arn
from connectors.aws.clients import AwsClients, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.aws.tags import redact_tags
from connectors.base import Evidence, evidence_kind, redact, to_jsonable


@evidence_kind(
    "aws.guardduty.detector.status",
    regional=True,
    permissions=("guardduty:ListDetectors", "guardduty:GetDetector"),
)
def collect_detector_status(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The region's GuardDuty detector: present, enabled, publishing frequency, data sources and features."""
    guardduty = aws.client("guardduty", scope)
    detector_ids, list_op = list_all(guardduty, "list_detectors", "DetectorIds")
    operations = [list_op]
    detector_id, detector = None, None
    if detector_ids:  # AWS allows one detector per account and region
        detector_id = sorted(detector_ids)[0]
        params = {"DetectorId": detector_id}
        resp = guardduty.get_detector(**params)
        operations.append(operation("GetDetector", params, resp))
        detector = to_jsonable(strip_metadata(resp))
    provenance = source(aws, "guardduty", operations)
    yield observe_detector_status(aws.partition, aws.account_id, scope, detector_id, detector, provenance)


def enabled_data_sources(sources: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of the enabled data sources (`S3Logs`, `Kubernetes.AuditLogs`, ...), sorted."""
    names: list[str] = []
    for name, value in sources.items():
        if not isinstance(value, dict):  # e.g. MalwareProtection.ServiceRole
            continue
        if "Status" in value:
            names += [f"{prefix}{name}"] if value["Status"] == "ENABLED" else []
        else:
            names += enabled_data_sources(value, f"{prefix}{name}.")
    return sorted(names)


def enabled_features(features: list[dict[str, Any]]) -> list[str]:
    """Names of the enabled features and, dotted, their enabled additional configurations, sorted."""
    names: list[str] = []
    for feature in features:
        if feature["Status"] == "ENABLED":
            names.append(feature["Name"])
        names += [
            f"{feature['Name']}.{extra['Name']}"
            for extra in feature.get("AdditionalConfiguration", [])
            if extra["Status"] == "ENABLED"
        ]
    return sorted(names)


def observe_detector_status(
    partition: str,
    account_id: str,
    region: str,
    detector_id: str | None,
    detector: dict[str, Any] | None,
    provenance: dict[str, Any],
) -> Evidence:
    """`detector`: the GetDetector answer, or None when the region has no detector (a fact, not a gap)."""
    found = detector or {}
    return Evidence(
        kind="aws.guardduty.detector.status",
        resource_id=account_setting_arn(partition, "guardduty", region, account_id),
        resource_type=ACCOUNT_TYPE,
        region=region,
        observed={
            "detector_present": detector is not None,
            "status": detector["Status"] if detector else None,
            "finding_publishing_frequency": found.get("FindingPublishingFrequency"),
            "data_sources_enabled": enabled_data_sources(found.get("DataSources", {})),
            "features_enabled": enabled_features(found.get("Features", [])),
        },
        source=provenance,
        raw=redact_tags(redact(to_jsonable({"detector_id": detector_id, "detector": found}))),
    )
