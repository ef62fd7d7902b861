"""S3 bucket settings: encryption, public access block, versioning, access logging, policy, ACL, lifecycle, tags."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.aws.clients import AwsClients, get_or_absent, list_all, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.aws.tags import redact_tags, tag_map
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

BUCKET_TYPE = "AWS::S3::Bucket"
LIST_PERMISSIONS = ("s3:ListAllMyBuckets", "s3:GetBucketLocation")
MAX_BUCKETS_PER_PAGE = 10_000  # the API's maximum page


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
        # With a parameter in the request, ListBuckets names each bucket's region (BucketRegion), which
        # saves a GetBucketLocation per bucket; endpoints that leave it out get one per bucket instead.
        listed, list_op = list_all(s3, "list_buckets", "Buckets", MaxBuckets=MAX_BUCKETS_PER_PAGE)

        def locate(entry: dict[str, Any]) -> Bucket:
            if entry.get("BucketRegion"):
                return Bucket(name=entry["Name"], region=entry["BucketRegion"], listing=to_jsonable(entry),
                              operations=(list_op,))  # fmt: skip
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


def each_bucket(
    aws: AwsClients, method: str, absent_code: str | None = None
) -> Iterator[tuple[Bucket, dict | None, dict]]:
    """For every bucket: the answer of one per-bucket Get* call (None when "not configured") and provenance.

    `absent_code` is the error that means "not configured"; without one every error propagates.
    The per-bucket calls run concurrently (`fan_out`), each against the bucket's own region."""

    def ask(bucket: Bucket) -> tuple[Bucket, dict | None, dict]:
        call = getattr(aws.client("s3", bucket.region), method)
        params = {"Bucket": bucket.name}
        if absent_code is None:
            resp = call(**params)
            op = operation(call.__self__.meta.method_to_api_mapping[method], params, resp)
        else:
            resp, op = get_or_absent(call, absent_code, params)
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


@evidence_kind("aws.s3.bucket.versioning", regional=False, permissions=(*LIST_PERMISSIONS, "s3:GetBucketVersioning"))
def collect_bucket_versioning(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Object versioning and MFA delete of every S3 bucket."""
    for bucket, resp, provenance in each_bucket(aws, "get_bucket_versioning"):
        yield observe_bucket_versioning(bucket, resp, provenance)


def observe_bucket_versioning(bucket: Bucket, response: dict | None, provenance: dict) -> Evidence:
    config = strip_metadata(response or {})  # a bucket whose versioning was never turned on answers {}
    return Evidence(
        kind="aws.s3.bucket.versioning",
        resource_id=bucket.arn,
        resource_type=BUCKET_TYPE,
        region=bucket.region,
        observed={
            "enabled": config.get("Status") == "Enabled",
            "status": config.get("Status"),
            "mfa_delete": config.get("MFADelete") == "Enabled",
        },
        source=provenance,
        raw=redact(to_jsonable({"bucket": bucket.listing, "versioning": config})),
    )


@evidence_kind("aws.s3.bucket.logging", regional=False, permissions=(*LIST_PERMISSIONS, "s3:GetBucketLogging"))
def collect_bucket_logging(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Server access logging of every S3 bucket: on or off, and where the logs go."""
    for bucket, resp, provenance in each_bucket(aws, "get_bucket_logging"):
        yield observe_bucket_logging(bucket, resp, provenance)


def observe_bucket_logging(bucket: Bucket, response: dict | None, provenance: dict) -> Evidence:
    config = strip_metadata(response or {})  # logging off answers {}
    enabled = config.get("LoggingEnabled")
    return Evidence(
        kind="aws.s3.bucket.logging",
        resource_id=bucket.arn,
        resource_type=BUCKET_TYPE,
        region=bucket.region,
        observed={
            "enabled": enabled is not None,
            "target_bucket": enabled["TargetBucket"] if enabled is not None else None,
            "target_prefix": enabled["TargetPrefix"] if enabled is not None else None,
        },
        source=provenance,
        raw=redact(to_jsonable({"bucket": bucket.listing, "logging": config})),
    )


# --------------------------------------------------------------------------- bucket policy
# Facts read off the policy document, statement by statement (see docs/evidence.md for the exact rules).

# Condition keys that, tested with a fixed value, limit who the statement reaches (after AWS's
# "meaning of public" for S3, plus the organization and principal keys).
NARROWING_KEYS = frozenset(
    {
        "aws:sourceip", "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner",
        "aws:sourceaccount", "aws:sourceorgid", "aws:sourceorgpaths", "aws:principalorgid",
        "aws:principalorgpaths", "aws:principalaccount", "aws:principalarn", "aws:userid",
        "s3:dataaccesspointarn", "s3:dataaccesspointaccount", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    }
)  # fmt: skip
# Operators that admit only requests matching the value (negated and ...IfExists forms do not narrow).
NARROWING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "ipaddress"}
)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str) -> re.Pattern[str]:
    """An IAM wildcard (`*` any run of characters, `?` one) as a case-sensitive regex."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern) + r"\Z")


def _covers(resource: str, arn: str) -> bool:
    """The Resource element (an ARN pattern, any partition) covers this ARN."""
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        resource = ":".join(["arn", "*", *parts[2:]])
    return resource == "*" or _wildcard(resource).match(arn) is not None


def _all_principals(statement: dict) -> bool:
    """`Principal: "*"` or `{"AWS": "*"}`; for an Allow also `NotPrincipal` (everyone but those named)."""
    if statement.get("Effect") == "Allow" and "NotPrincipal" in statement:
        return True
    principal = statement.get("Principal")
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS", []))


def _narrows(operator: str, key: str, values: Any) -> bool:
    op = operator.lower().removeprefix("foranyvalue:")
    if op not in NARROWING_OPERATORS or key.lower() not in NARROWING_KEYS:
        return False
    values = [str(v) for v in _as_list(values)]
    if not values:
        return False
    if op == "ipaddress":
        return all(ipaddress.ip_network(v, strict=False).prefixlen > 0 for v in values)
    return not any("*" in v or "?" in v or "${" in v for v in values)  # a wildcard or policy variable is not fixed


def _denies_insecure_transport(statement: dict, bucket: Bucket) -> bool:
    if statement.get("Effect") != "Deny" or not _all_principals(statement):
        return False
    actions = [a.lower() for a in _as_list(statement.get("Action", []))]
    if "*" not in actions and "s3:*" not in actions:
        return False
    resources = _as_list(statement.get("Resource", []))
    if not all(any(_covers(r, arn) for r in resources) for arn in (bucket.arn, f"{bucket.arn}/*")):
        return False
    condition = statement.get("Condition", {})
    if len(condition) != 1:
        return False
    ((operator, tests),) = condition.items()
    if operator not in ("Bool", "BoolIfExists") or len(tests) != 1:
        return False
    ((key, value),) = tests.items()
    return key.lower() == "aws:securetransport" and [str(v).lower() for v in _as_list(value)] == ["false"]


def _allows_public_principal(statement: dict) -> bool:
    if statement.get("Effect") != "Allow" or not _all_principals(statement):
        return False
    condition = statement.get("Condition", {})
    return not any(_narrows(op, key, value) for op, tests in condition.items() for key, value in tests.items())


@evidence_kind("aws.s3.bucket.policy", regional=False, permissions=(*LIST_PERMISSIONS, "s3:GetBucketPolicy"))
def collect_bucket_policy(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The bucket policy of every S3 bucket: TLS-only and public-principal statements (no policy is a fact)."""
    for bucket, resp, provenance in each_bucket(aws, "get_bucket_policy", "NoSuchBucketPolicy"):
        yield observe_bucket_policy(bucket, resp, provenance)


def observe_bucket_policy(bucket: Bucket, response: dict | None, provenance: dict) -> Evidence:
    document = json.loads(response["Policy"]) if response else {}
    statements = _as_list(document["Statement"]) if response else []
    return Evidence(
        kind="aws.s3.bucket.policy",
        resource_id=bucket.arn,
        resource_type=BUCKET_TYPE,
        region=bucket.region,
        observed={
            "present": response is not None,
            "denies_insecure_transport": any(_denies_insecure_transport(s, bucket) for s in statements),
            "allows_public_principal": any(_allows_public_principal(s) for s in statements),
            "statement_count": len(statements),
        },
        source=provenance,
        raw=redact(to_jsonable({"bucket": bucket.listing, "policy": document})),
    )


# --------------------------------------------------------------------------- bucket ACL

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def _group_permissions(grants: list[dict], uri: str) -> list[str]:
    return sorted({g["Permission"] for g in grants if g["Grantee"]["Type"] == "Group" and g["Grantee"]["URI"] == uri})


@evidence_kind("aws.s3.bucket.acl", regional=False, permissions=(*LIST_PERMISSIONS, "s3:GetBucketAcl"))
def collect_bucket_acl(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The access control list of every S3 bucket: its owner and what everyone or any AWS user is granted."""
    for bucket, resp, provenance in each_bucket(aws, "get_bucket_acl"):
        yield observe_bucket_acl(bucket, resp, provenance)


def observe_bucket_acl(bucket: Bucket, response: dict, provenance: dict) -> Evidence:
    grants = response["Grants"]
    return Evidence(
        kind="aws.s3.bucket.acl",
        resource_id=bucket.arn,
        resource_type=BUCKET_TYPE,
        region=bucket.region,
        observed={
            "owner_id": response["Owner"]["ID"],
            "all_users_permissions": _group_permissions(grants, ALL_USERS),
            "authenticated_users_permissions": _group_permissions(grants, AUTHENTICATED_USERS),
        },
        source=provenance,
        raw=redact(to_jsonable({"bucket": bucket.listing, "acl": strip_metadata(response)})),
    )


# --------------------------------------------------------------------------- lifecycle


NARROWING_FILTERS = ("Tag", "Tags", "ObjectSizeGreaterThan", "ObjectSizeLessThan")


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    flt = rule.get("Filter") or {}
    both = flt.get("And") or {}
    expiration = rule.get("Expiration") or {}
    transitions = rule.get("Transitions", [])
    noncurrent = rule.get("NoncurrentVersionTransitions", [])
    return {
        "id": rule.get("ID"),
        "prefix": flt.get("Prefix", both.get("Prefix", rule.get("Prefix"))) or None,
        "tag_or_size_filter": any(k in flt or k in both for k in NARROWING_FILTERS),
        "expiration_days": expiration.get("Days"),
        "expiration_date": expiration.get("Date"),
        "noncurrent_expiration_days": (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"),
        "transitions": [
            {"days": t.get("Days"), "date": t.get("Date"), "storage_class": t["StorageClass"]} for t in transitions
        ],
        "noncurrent_transitions": [
            {"days": t.get("NoncurrentDays"), "storage_class": t["StorageClass"]} for t in noncurrent
        ],
    }


@evidence_kind(
    "aws.s3.bucket.lifecycle", regional=False, permissions=(*LIST_PERMISSIONS, "s3:GetLifecycleConfiguration")
)
def collect_bucket_lifecycle(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The lifecycle rules of every S3 bucket: expiration and transitions (no configuration is a fact)."""
    answers = each_bucket(aws, "get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration")
    for bucket, resp, provenance in answers:
        yield observe_bucket_lifecycle(bucket, resp, provenance)


def observe_bucket_lifecycle(bucket: Bucket, response: dict | None, provenance: dict) -> Evidence:
    config = to_jsonable(strip_metadata(response or {}))
    rules = config.get("Rules", [])
    enabled = sorted((_lifecycle_rule(r) for r in rules if r["Status"] == "Enabled"), key=lambda r: r["id"] or "")
    return Evidence(
        kind="aws.s3.bucket.lifecycle",
        resource_id=bucket.arn,
        resource_type=BUCKET_TYPE,
        region=bucket.region,
        observed={
            "configured": response is not None,
            "enabled_rules": enabled,
            "disabled_rule_count": len(rules) - len(enabled),
        },
        source=provenance,
        raw=redact({"bucket": bucket.listing, "lifecycle": config}),
    )


# --------------------------------------------------------------------------- tags


@evidence_kind("aws.s3.bucket.tags", regional=False, permissions=(*LIST_PERMISSIONS, "s3:GetBucketTagging"))
def collect_bucket_tags(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The tags (labels) of every S3 bucket, such as its owner and data classification (no tags is a fact)."""
    for bucket, resp, provenance in each_bucket(aws, "get_bucket_tagging", "NoSuchTagSet"):
        yield observe_bucket_tags(bucket, resp, provenance)


def observe_bucket_tags(bucket: Bucket, response: dict | None, provenance: dict) -> Evidence:
    tagging = strip_metadata(response or {})  # a bucket without tags answers NoSuchTagSet
    return Evidence(
        kind="aws.s3.bucket.tags",
        resource_id=bucket.arn,
        resource_type=BUCKET_TYPE,
        region=bucket.region,
        observed={"tags": tag_map(tagging.get("TagSet"))},
        source=provenance,
        raw=redact(redact_tags(to_jsonable({"bucket": bucket.listing, "tagging": tagging}))),
    )
