"""The sandbox AWS account: a messaging company with some settings done right and some not.

`seed_aws` builds the base (S3, IAM) and then runs every service seeder listed in `_seeders`;
each seeder creates compliant and non-compliant examples for its evidence kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from collector.sandbox.base import client, tag_list


def _seeders() -> list[Callable[[str], Any]]:
    """Service seeders, run after the base in this order (some configure the base's buckets)."""
    from collector.sandbox import (
        aws_compute,
        aws_data,
        aws_dns,
        aws_iam,
        aws_logging,
        aws_network,
        aws_resilience,
        aws_s3,
        aws_security,
    )

    return [aws_s3.seed, aws_data.seed, aws_iam.seed, aws_network.seed, aws_dns.seed, aws_logging.seed,
            aws_resilience.seed, aws_security.seed, aws_compute.seed]  # fmt: skip


def _bucket(endpoint: str, name: str, region: str) -> Any:
    s3 = client("s3", endpoint, region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return s3


def _encrypt(s3: Any, name: str, algorithm: str, key_id: str | None = None) -> None:
    default: dict[str, str] = {"SSEAlgorithm": algorithm}
    if key_id:
        default["KMSMasterKeyID"] = key_id
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": key_id is not None}]
        },
    )


def _block(s3: Any, name: str, **flags: bool) -> None:
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=flags)


ALL_BLOCKED = {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
               "RestrictPublicBuckets": True}  # fmt: skip


def seed_base(endpoint: str) -> dict[str, Any]:
    """A messaging company's account: EU media and audit buckets done right, a legacy US export bucket
    left open and unencrypted, a web-assets bucket in a region the company never configured."""
    kms = client("kms", endpoint, "eu-west-1")
    key = kms.create_key(Description="chat media at rest", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]

    s3 = _bucket(endpoint, "acme-chat-media-eu", "eu-west-1")
    _encrypt(s3, "acme-chat-media-eu", "aws:kms", key["Arn"])
    _block(s3, "acme-chat-media-eu", **ALL_BLOCKED)

    s3 = _bucket(endpoint, "acme-audit-logs-eu", "eu-west-1")
    _encrypt(s3, "acme-audit-logs-eu", "AES256")
    _block(s3, "acme-audit-logs-eu", **ALL_BLOCKED)

    s3 = _bucket(endpoint, "acme-legacy-exports", "us-east-1")
    _block(s3, "acme-legacy-exports", BlockPublicAcls=True, IgnorePublicAcls=False, BlockPublicPolicy=False,
           RestrictPublicBuckets=False)  # fmt: skip

    s3 = _bucket(endpoint, "acme-web-assets", "eu-central-1")
    _encrypt(s3, "acme-web-assets", "AES256")

    client("iam", endpoint, "us-east-1").update_account_password_policy(
        MinimumPasswordLength=8, RequireNumbers=True, RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True, PasswordReusePrevention=5,
    )  # fmt: skip
    return {"kms_key_arn": key["Arn"]}


def remediate(endpoint: str) -> list[str]:
    """What changes between the two demo runs: an engineer fixes one bucket, and two settings slip."""
    s3 = client("s3", endpoint, "us-east-1")
    _encrypt(s3, "acme-legacy-exports", "AES256")
    eu = client("s3", endpoint, "eu-west-1")
    eu.put_bucket_versioning(Bucket="acme-chat-media-eu", VersioningConfiguration={"Status": "Suspended"})
    ec2 = client("ec2", endpoint, "eu-west-1")
    edge = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["chat-edge"]}])["SecurityGroups"]
    ec2.authorize_security_group_ingress(
        GroupId=edge[0]["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    return [
        "remediated: default encryption (AES256) on s3://acme-legacy-exports",
        "regressed: versioning suspended on s3://acme-chat-media-eu",
        "regressed: SSH (22) opened to 0.0.0.0/0 on security group chat-edge (eu-west-1)",
    ]


def _tag_chat_api_volumes(endpoint: str) -> None:
    """The chat API's instance volumes carry the team's tags, as a launch template's volume tags would give them
    in AWS (moto launches Auto Scaling instances with untagged volumes). The legacy worker's volume has none."""
    ec2 = client("ec2", endpoint, "eu-west-1")
    group = [{"Name": "tag:aws:autoscaling:groupName", "Values": ["chat-api"]}]
    instances = [i for r in ec2.describe_instances(Filters=group)["Reservations"] for i in r["Instances"]]
    volumes = [m["Ebs"]["VolumeId"] for i in instances for m in i.get("BlockDeviceMappings", []) if "Ebs" in m]
    if volumes:
        tags = {"owner": "chat-platform-team", "data-classification": "internal"}
        ec2.create_tags(Resources=volumes, Tags=tag_list(tags))


def seed_aws(endpoint: str) -> None:
    from collector.sandbox import aws_compute

    aws_compute.install_moto_shims()  # before aws_data first has moto's server serve Lambda
    seed_base(endpoint)
    for seeder in _seeders():
        seeder(endpoint)
    _tag_chat_api_volumes(endpoint)  # after aws_resilience launched the chat API's Auto Scaling group
