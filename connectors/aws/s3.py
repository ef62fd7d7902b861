"""S3 bucket settings: default encryption and the bucket-level public access block."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.aws.clients import AwsClients, get_or_absent, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

BUCKET_TYPE = "AWS::S3::Bucket"
LIST_PERMISSIONS = ("s3:ListAllMyBuckets", "s3:GetBucketLocation")


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    listing: dict[str, Any]  # the bucket's entry in ListBuckets
    operations: tuple[dict[str, Any], ...]  # provenance of listing it and locating it

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


def bucket_region(location_constraint: str | None) -> str:
    """GetBucketLocation answers None for us-east-1 and the legacy "EU" for eu-west-1."""
    if not location_constraint:
        return "us-east-1"
    return "eu-west-1" if location_constraint == "EU" else location_constraint


def list_buckets(aws: AwsClients) -> list[Bucket]:
    """Every bucket of the account with its real region; listed once per run and shared by the S3 kinds."""

    def compute() -> list[Bucket]:
        s3 = aws.client("s3")
        listed, list_op = list_all(s3, "list_buckets", "Buckets")

        def locate(entry: dict[str, Any]) -> Bucket:
            params = {"Bucket": entry["Name"]}
            resp = s3.get_bucket_location(**params)
            return Bucket(
                name=entry["Name"],
                region=bucket_region(resp.get("LocationConstraint")),
                listing=to_jsonable(entry),
                operations=(list_op, operation("GetBucketLocation", params, resp)),
            )

        return aws.fan_out(locate, listed)

    return aws.memo("s3:buckets", compute)


def each_bucket(aws: AwsClients, method: str, absent_code: str) -> Iterator[tuple[Bucket, dict | None, dict]]:
    """For every bucket: the answer of one per-bucket Get* call (None when "not configured") and provenance.

    The per-bucket calls run concurrently (`fan_out`), each against the bucket's own region."""

    def ask(bucket: Bucket) -> tuple[Bucket, dict | None, dict]:
        resp, op = get_or_absent(getattr(aws.client("s3", bucket.region), method), absent_code, {"Bucket": bucket.name})
        return bucket, resp, source(aws, "s3", [*bucket.operations, op])

    yield from aws.fan_out(ask, list_buckets(aws))


@evidence_kind(
    "aws.s3.bucket.encryption",
    regional=False,
    permissions=(*LIST_PERMISSIONS, "s3:GetEncryptionConfiguration"),
)
def collect_bucket_encryption(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Default server-side encryption of every S3 bucket."""
    answers = each_bucket(aws, "get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError")
    for bucket, resp, provenance in answers:
        yield observe_bucket_encryption(bucket, resp, provenance)


def observe_bucket_encryption(bucket: Bucket, response: dict | None, provenance: dict) -> Evidence:
    rules = response["ServerSideEncryptionConfiguration"]["Rules"] if response else []
    default = rules[0]["ApplyServerSideEncryptionByDefault"] if rules else {}
    return Evidence(
        kind="aws.s3.bucket.encryption",
        resource_id=bucket.arn,
        resource_type=BUCKET_TYPE,
        region=bucket.region,
        observed={
            "encrypted": bool(default),
            "algorithm": default.get("SSEAlgorithm"),
            "kms_key_id": default.get("KMSMasterKeyID"),
            "bucket_key_enabled": bool(rules and rules[0].get("BucketKeyEnabled", False)),
        },
        source=provenance,
        raw=redact(to_jsonable({"bucket": bucket.listing, "encryption": strip_metadata(response or {})})),
    )


PAB_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@evidence_kind(
    "aws.s3.bucket.public_access_block",
    regional=False,
    permissions=(*LIST_PERMISSIONS, "s3:GetBucketPublicAccessBlock"),
)
def collect_bucket_public_access_block(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The bucket-level S3 Block Public Access settings of every bucket."""
    answers = each_bucket(aws, "get_public_access_block", "NoSuchPublicAccessBlockConfiguration")
    for bucket, resp, provenance in answers:
        yield observe_bucket_public_access_block(bucket, resp, provenance)


def observe_bucket_public_access_block(bucket: Bucket, response: dict | None, provenance: dict) -> Evidence:
    config = response["PublicAccessBlockConfiguration"] if response else {}
    return Evidence(
        kind="aws.s3.bucket.public_access_block",
        resource_id=bucket.arn,
        resource_type=BUCKET_TYPE,
        region=bucket.region,
        observed={
            "configured": response is not None,
            "block_public_acls": bool(config.get("BlockPublicAcls", False)),
            "ignore_public_acls": bool(config.get("IgnorePublicAcls", False)),
            "block_public_policy": bool(config.get("BlockPublicPolicy", False)),
            "restrict_public_buckets": bool(config.get("RestrictPublicBuckets", False)),
        },
        source=provenance,
        raw=redact(to_jsonable({"bucket": bucket.listing, "public_access_block": strip_metadata(response or {})})),
    )
