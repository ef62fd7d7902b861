"""AWS checks, one module per service; importing a module registers its checks."""

from controls.checks.aws import (
    cloudtrail,
    configservice,
    dynamodb,
    ec2,
    eks,
    elbv2,
    guardduty,
    iam,
    kms,
    logs,
    organizations,
    rds,
    residency,
    s3,
    secretsmanager,
    sns,
    sqs,
)

MODULES = (
    cloudtrail, configservice, dynamodb, ec2, eks, elbv2, guardduty, iam, kms, logs, organizations, rds, residency,
    s3, secretsmanager, sns, sqs,
)  # fmt: skip
