"""AWS checks, one module per service; importing a module registers its checks."""

from controls.checks.aws import (
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
    residency,
    route53resolver,
    s3,
    secretsmanager,
    securityhub,
    sns,
    sqs,
    tags,
)

MODULES = (
    autoscaling, backup, macie,
    cloudtrail, configservice, dynamodb, ec2, eks, elbv2, guardduty, iam, kms, logs, organizations, rds, residency,
    s3, secretsmanager, sns, sqs, ecr, inspector2, securityhub, awslambda, tags,
    route53resolver,
)  # fmt: skip
