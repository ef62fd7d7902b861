"""KMS keys: automatic rotation of the key material of customer-managed keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

KEY_TYPE = "AWS::KMS::Key"


def rotation_supported(metadata: dict[str, Any]) -> bool:
    """Automatic rotation exists only for symmetric encryption keys whose material KMS generated.

    Asymmetric and HMAC keys, imported key material (`EXTERNAL`) and custom key stores
    (`AWS_CLOUDHSM`, `EXTERNAL_KEY_STORE`) answer GetKeyRotationStatus with UnsupportedOperationException.
    """
    return metadata["KeySpec"] == "SYMMETRIC_DEFAULT" and metadata["Origin"] == "AWS_KMS"


def list_customer_keys(aws: AwsClients, region: str) -> list[tuple[dict, dict | None, list[dict]]]:
    """Every customer-managed key of the region: (DescribeKey answer, GetKeyRotationStatus answer or
    None when the key cannot rotate, provenance). AWS-managed keys rotate by themselves and are skipped."""
    kms = aws.client("kms", region)
    keys, list_op = list_all(kms, "list_keys", "Keys")

    def describe(entry: dict[str, Any]) -> tuple[dict, dict | None, list[dict]] | None:
        params = {"KeyId": entry["KeyId"]}
        described = kms.describe_key(**params)
        ops = [list_op, operation("DescribeKey", params, described)]
        metadata = described["KeyMetadata"]
        if metadata["KeyManager"] != "CUSTOMER":
            return None
        status = None
        if rotation_supported(metadata):
            status = kms.get_key_rotation_status(**params)
            ops.append(operation("GetKeyRotationStatus", params, status))
        return described, status, ops

    return [found for found in aws.fan_out(describe, keys) if found is not None]


@evidence_kind(
    "aws.kms.key.rotation",
    regional=True,
    permissions=("kms:ListKeys", "kms:DescribeKey", "kms:GetKeyRotationStatus"),
)
def collect_key_rotation(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Automatic key-material rotation of every customer-managed KMS key."""
    for described, status, ops in list_customer_keys(aws, scope):
        yield observe_key_rotation(described, status, scope, source(aws, "kms", ops))


def observe_key_rotation(described: dict, status: dict | None, region: str, provenance: dict) -> Evidence:
    key = described["KeyMetadata"]
    supported = rotation_supported(key)
    return Evidence(
        kind="aws.kms.key.rotation",
        resource_id=key["Arn"],
        resource_type=KEY_TYPE,
        region=region,
        observed={
            "enabled": key["KeyState"] == "Enabled",
            "key_state": key["KeyState"],
            "rotation_supported": supported,
            "rotation_enabled": status["KeyRotationEnabled"] if supported else None,
            "rotation_period_days": status.get("RotationPeriodInDays") if supported else None,
            "key_spec": key["KeySpec"],
            "key_usage": key.get("KeyUsage"),
            "origin": key["Origin"],
            "multi_region": bool(key.get("MultiRegion", False)),
        },
        source=provenance,
        raw=redact(
            to_jsonable({"key": strip_metadata(described), "rotation": strip_metadata(status) if status else None})
        ),
    )
