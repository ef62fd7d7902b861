"""Sandbox seeder for the S3 versioning, access logging, bucket policy, bucket ACL, tags and account-level
Block Public Access kinds.

Runs after the base seed (`collector.sandbox.aws.seed_base`) and configures the buckets it created:
the EU chat media and audit log buckets done right, the legacy US export bucket and the web assets
bucket left open, and an account-level Block Public Access with only some flags on. The EU buckets
and the web assets bucket name an owner and a data classification (the web team writes `Owner` and
`Classification`); the legacy export bucket has no tags at all.
"""

from __future__ import annotations

import json

from collector.sandbox.base import ACCOUNT_ID, EU_OWNER_TAGS, SECURITY_OWNER_TAGS, client, tag_list
from connectors.aws.clients import strip_account_host_prefix

LOG_DELIVERY = 'uri="http://acs.amazonaws.com/groups/s3/LogDelivery"'
ALL_USERS = 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'


def _tls_only(bucket: str) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def seed(endpoint: str) -> None:
    eu = client("s3", endpoint, "eu-west-1")
    us = client("s3", endpoint, "us-east-1")
    central = client("s3", endpoint, "eu-central-1")

    # Audit logs: versioned, TLS only, and the S3 log delivery group may write access logs into it.
    owner = eu.get_bucket_acl(Bucket="acme-audit-logs-eu")["Owner"]["ID"]
    grants = {"GrantWrite": LOG_DELIVERY, "GrantReadACP": LOG_DELIVERY, "GrantFullControl": f'id="{owner}"'}
    eu.put_bucket_acl(Bucket="acme-audit-logs-eu", **grants)
    eu.put_bucket_versioning(Bucket="acme-audit-logs-eu", VersioningConfiguration={"Status": "Enabled"})

    # Chat media: versioned, TLS only, access logs to the audit bucket.
    eu.put_bucket_versioning(Bucket="acme-chat-media-eu", VersioningConfiguration={"Status": "Enabled"})
    eu.put_bucket_logging(
        Bucket="acme-chat-media-eu",
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "acme-audit-logs-eu", "TargetPrefix": "s3-access/acme-chat-media-eu/"}
        },
    )
    # After the logging set-up: moto fails PutBucketLogging when the target's policy has `Principal: "*"`.
    for bucket in ("acme-audit-logs-eu", "acme-chat-media-eu"):
        eu.put_bucket_policy(Bucket=bucket, Policy=_policy(_tls_only(bucket)))

    # Legacy exports: versioning suspended years ago, a public-read ACL from before Block Public Access,
    # no policy, no access logs.
    us.put_bucket_versioning(Bucket="acme-legacy-exports", VersioningConfiguration={"Status": "Suspended"})
    us.put_bucket_acl(Bucket="acme-legacy-exports", ACL="public-read")

    # Web assets: anyone may read every object through the bucket policy; never versioned.
    central.put_bucket_policy(
        Bucket="acme-web-assets",
        Policy=_policy(
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::acme-web-assets/*",
            }
        ),
    )

    # Tags: the legacy export bucket has none (GetBucketTagging answers NoSuchTagSet).
    eu.put_bucket_tagging(Bucket="acme-chat-media-eu", Tagging={"TagSet": tag_list(EU_OWNER_TAGS)})
    eu.put_bucket_tagging(Bucket="acme-audit-logs-eu", Tagging={"TagSet": tag_list(SECURITY_OWNER_TAGS)})
    central.put_bucket_tagging(
        Bucket="acme-web-assets", Tagging={"TagSet": tag_list({"Owner": "web-team", "Classification": "public"})}
    )

    # Account level: new public ACLs and policies are blocked, existing ones are neither ignored nor restricted.
    s3control = client("s3control", endpoint, "us-east-1")
    strip_account_host_prefix(s3control, endpoint)  # S3 Control prefixes the host with the account id
    s3control.put_public_access_block(
        AccountId=ACCOUNT_ID,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False,
        },
    )
