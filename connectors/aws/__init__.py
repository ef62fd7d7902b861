"""AWS connector: read-only boto3 calls, one client factory, typed collection errors."""

from __future__ import annotations

from connectors.aws import (
    autoscaling,
    awslambda,
    backup,
    cloudtrail,
    configservice,
    dynamodb,
    ec2,
    ecr,
    eks,
    elbv2,
    guardduty,
    iam,
    inspector2,
    kms,
    logs,
    macie,
    organizations,
    rds,
    route53resolver,
    s3,
    s3control,
    secretsmanager,
    securityhub,
    sns,
    sqs,
)  # fmt: skip
from connectors.aws.clients import AwsClients, AwsTarget, translate_error
from connectors.aws.targets import AwsOrganization, open_target, region_status, units

# Explicit registration: importing a module registers its kinds.
MODULES = (
    autoscaling, backup, macie,
    cloudtrail, configservice, dynamodb, ec2, eks, elbv2, guardduty, iam, kms, logs, organizations, rds, s3,
    s3control, secretsmanager, sns, sqs, ecr, inspector2, securityhub, awslambda, route53resolver,
)  # fmt: skip

# Calls the connector makes for every target whatever kinds run: who am I, which regions are
# enabled, and in organization mode which accounts exist and the role assumed in each.
FRAMEWORK_PERMISSIONS = ("ec2:DescribeRegions",)
ORGANIZATION_PERMISSIONS = ("organizations:ListAccounts", "sts:AssumeRole")

__all__ = [
    "FRAMEWORK_PERMISSIONS",
    "ORGANIZATION_PERMISSIONS",
    "AwsClients",
    "AwsOrganization",
    "AwsTarget",
    "open_target",
    "region_status",
    "translate_error",
    "units",
]
