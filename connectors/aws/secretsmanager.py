"""Secrets Manager secrets: automatic rotation and the KMS key protecting them.

Only ListSecrets is called: it carries every fact observed here and never a secret value
(no GetSecretValue, no DescribeSecret).
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.aws.clients import AwsClients, list_all
from connectors.aws.provenance import source
from connectors.aws.tags import redact_tags
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

SECRET_TYPE = "AWS::SecretsManager::Secret"


@evidence_kind("aws.secretsmanager.secret.rotation", regional=True, permissions=("secretsmanager:ListSecrets",))
def collect_secret_rotation(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Automatic rotation schedule and encryption key of every Secrets Manager secret (never its value)."""
    secrets, list_op = list_all(aws.client("secretsmanager", scope), "list_secrets", "SecretList")
    provenance = source(aws, "secretsmanager", [list_op])
    for entry in secrets:
        yield observe_secret_rotation(entry, scope, provenance)


def observe_secret_rotation(entry: dict, region: str, provenance: dict) -> Evidence:
    """`entry` is one item of ListSecrets' SecretList (metadata only: ListSecrets returns no values)."""
    rules = entry.get("RotationRules") or {}
    listing = to_jsonable(entry)
    return Evidence(
        kind="aws.secretsmanager.secret.rotation",
        resource_id=entry["ARN"],
        resource_type=SECRET_TYPE,
        region=region,
        observed={
            "rotation_enabled": bool(entry.get("RotationEnabled", False)),
            "rotation_days": rules.get("AutomaticallyAfterDays"),
            "rotation_schedule": rules.get("ScheduleExpression"),
            "last_rotated": listing.get("LastRotatedDate"),
            "next_rotation": listing.get("NextRotationDate"),
            "kms_key_id": entry.get("KmsKeyId"),
        },
        source=provenance,
        raw=redact_tags(redact(listing)),
    )
