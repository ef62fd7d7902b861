"""Sandbox audit logging and monitoring: CloudTrail, CloudWatch Logs, AWS Config and GuardDuty.

eu-west-1 is done right (a logging, validated, encrypted multi-region trail delivered to an encrypted
log group with retention; Config recording everything; GuardDuty enabled). us-east-1 is not: a
stopped single-region legacy trail, a log group kept forever unencrypted, a stopped Config recorder
limited to two resource types, and no GuardDuty detector.
"""

from __future__ import annotations

import json

from collector.sandbox.base import ACCOUNT_ID, client

TRAIL_BUCKET = "acme-cloudtrail-eu"
LEGACY_TRAIL_BUCKET = "acme-cloudtrail-legacy-us"
CONFIG_BUCKET = "acme-config-history-eu"


def _trusting(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def _seed_eu(endpoint: str) -> None:
    region = "eu-west-1"
    key = client("kms", endpoint, region).create_key(Description="audit logs at rest")["KeyMetadata"]["Arn"]
    client("s3", endpoint, region).create_bucket(
        Bucket=TRAIL_BUCKET, CreateBucketConfiguration={"LocationConstraint": region}
    )

    logs = client("logs", endpoint, region)
    logs.create_log_group(logGroupName="/aws/cloudtrail/acme-audit", kmsKeyId=key)
    logs.put_retention_policy(logGroupName="/aws/cloudtrail/acme-audit", retentionInDays=365)
    logs.create_log_group(logGroupName="/acme/chat-media/api", kmsKeyId=key)
    logs.put_retention_policy(logGroupName="/acme/chat-media/api", retentionInDays=90)
    logs.create_log_group(logGroupName="/acme/message-store/queries")  # never expires, no customer key
    group_arn = logs.describe_log_groups(logGroupNamePrefix="/aws/cloudtrail/acme-audit")["logGroups"][0]["arn"]

    role = client("iam", endpoint).create_role(
        RoleName="acme-cloudtrail-to-logs", AssumeRolePolicyDocument=_trusting("cloudtrail.amazonaws.com")
    )["Role"]["Arn"]
    trail = client("cloudtrail", endpoint, region)
    trail.create_trail(
        Name="acme-audit",
        S3BucketName=TRAIL_BUCKET,
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=role,
    )
    trail.put_event_selectors(
        TrailName="acme-audit",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::acme-chat-media-eu/"]}],
            }
        ],
    )
    trail.start_logging(Name="acme-audit")

    client("s3", endpoint, region).create_bucket(
        Bucket=CONFIG_BUCKET, CreateBucketConfiguration={"LocationConstraint": region}
    )
    config = client("config", endpoint, region)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": CONFIG_BUCKET})
    config.start_configuration_recorder(ConfigurationRecorderName="default")

    client("guardduty", endpoint, region).create_detector(
        Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", DataSources={"S3Logs": {"Enable": True}}
    )


def _seed_us(endpoint: str) -> None:
    region = "us-east-1"
    client("s3", endpoint, region).create_bucket(Bucket=LEGACY_TRAIL_BUCKET)
    # A legacy single-region trail: never started, no log file validation, no KMS key.
    client("cloudtrail", endpoint, region).create_trail(
        Name="acme-legacy-exports", S3BucketName=LEGACY_TRAIL_BUCKET, IncludeGlobalServiceEvents=False
    )
    client("logs", endpoint, region).create_log_group(logGroupName="/acme/legacy-exports/worker")
    client("config", endpoint, region).put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": {
                "allSupported": False,
                "includeGlobalResourceTypes": False,
                "resourceTypes": ["AWS::S3::Bucket", "AWS::EC2::Instance"],
            },
        }
    )  # created but never started
    # No GuardDuty detector in us-east-1.


def seed(endpoint: str) -> None:
    """Audit logging and monitoring for the messaging company, right in eu-west-1 and wrong in us-east-1."""
    _seed_eu(endpoint)
    _seed_us(endpoint)
