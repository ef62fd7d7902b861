"""AWS Config: whether the configuration recorder of each region exists, records, and what it covers.

(Named after the SDK service `config`, spelled out so it is not mistaken for the collector's config.)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.arns import ACCOUNT_TYPE, account_setting_arn
from connectors.aws.clients import AwsClients, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable


@evidence_kind(
    "aws.config.recorder.status",
    regional=True,
    permissions=("config:DescribeConfigurationRecorders", "config:DescribeConfigurationRecorderStatus"),
)
def collect_recorder_status(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The AWS Config configuration recorder of the region: present, recording, which resources it records."""
    config = aws.client("config", scope)
    recorders = config.describe_configuration_recorders()  # not paginated: at most one customer-managed recorder
    statuses = config.describe_configuration_recorder_status()
    provenance = source(
        aws,
        "config",
        [
            operation("DescribeConfigurationRecorders", {}, recorders),
            operation("DescribeConfigurationRecorderStatus", {}, statuses),
        ],
    )
    yield observe_recorder_status(
        aws.partition,
        aws.account_id,
        scope,
        to_jsonable(strip_metadata(recorders)),
        to_jsonable(strip_metadata(statuses)),
        provenance,
    )


def observe_recorder_status(
    partition: str,
    account_id: str,
    region: str,
    recorders: dict[str, Any],
    statuses: dict[str, Any],
    provenance: dict[str, Any],
) -> Evidence:
    """The customer-managed recorder is observed; service-linked recorders (if answered) stay in raw.

    `lastStatus` and its times change on every delivery: they are kept in raw, never in observed."""
    customer = [r for r in recorders["ConfigurationRecorders"] if not r.get("servicePrincipal")]
    recorder = customer[0] if customer else None
    group = recorder.get("recordingGroup", {}) if recorder else {}
    by_name = {s["name"]: s for s in statuses["ConfigurationRecordersStatus"]}
    status = by_name[recorder["name"]] if recorder else {}
    return Evidence(
        kind="aws.config.recorder.status",
        resource_id=account_setting_arn(partition, "config", region, account_id),
        resource_type=ACCOUNT_TYPE,
        region=region,
        observed={
            "recorder_present": recorder is not None,
            "recording": bool(status.get("recording", False)),
            "all_supported": bool(group.get("allSupported", False)),
            "include_global_resource_types": bool(group.get("includeGlobalResourceTypes", False)),
            "recording_strategy": group.get("recordingStrategy", {}).get("useOnly"),
        },
        source=provenance,
        raw=redact(to_jsonable({"recorders": recorders, "status": statuses})),
    )
