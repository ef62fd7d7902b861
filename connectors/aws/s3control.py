"""S3 account settings (S3 Control API): the account-level Block Public Access configuration."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.aws.arns import ACCOUNT_TYPE, account_arn
from connectors.aws.clients import AwsClients, get_or_absent, strip_metadata
from connectors.aws.provenance import source
from connectors.base import GLOBAL, Evidence, evidence_kind, redact, to_jsonable


@evidence_kind(
    "aws.s3.account.public_access_block",
    regional=False,
    permissions=("s3:GetAccountPublicAccessBlock",),
)
def collect_account_public_access_block(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The account-level S3 Block Public Access settings (not configured is a fact, not a gap)."""
    s3control = aws.client("s3control")
    params = {"AccountId": aws.account_id}
    resp, op = get_or_absent(s3control.get_public_access_block, "NoSuchPublicAccessBlockConfiguration", params)
    yield observe_account_public_access_block(aws.partition, aws.account_id, resp, source(aws, "s3control", [op]))


def observe_account_public_access_block(
    partition: str, account_id: str, response: dict | None, provenance: dict
) -> Evidence:
    config = response["PublicAccessBlockConfiguration"] if response else {}
    return Evidence(
        kind="aws.s3.account.public_access_block",
        resource_id=account_arn(partition, account_id),
        resource_type=ACCOUNT_TYPE,
        region=GLOBAL,
        observed={
            "configured": response is not None,
            "block_public_acls": bool(config.get("BlockPublicAcls", False)),
            "ignore_public_acls": bool(config.get("IgnorePublicAcls", False)),
            "block_public_policy": bool(config.get("BlockPublicPolicy", False)),
            "restrict_public_buckets": bool(config.get("RestrictPublicBuckets", False)),
        },
        source=provenance,
        raw=redact(to_jsonable(strip_metadata(response or {}))),
    )
