"""API operation -> IAM action, for proving that declared permissions cover every call.

Most actions are `<prefix>:<OperationName>`; AWS names a few differently, listed here.
"""

from __future__ import annotations

SERVICE_PREFIX = {
    "elastic-load-balancing-v2": "elasticloadbalancing",
    "config-service": "config",
    "cloudwatch-logs": "logs",
    "s3-control": "s3",
    "secrets-manager": "secretsmanager",
    "auto-scaling": "autoscaling",
}
OVERRIDES = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3-control", "GetPublicAccessBlock"): "s3:GetAccountPublicAccessBlock",
    ("s3", "GetBucketLogging"): "s3:GetBucketLogging",
    ("s3", "GetBucketVersioning"): "s3:GetBucketVersioning",
    ("s3", "GetBucketPolicy"): "s3:GetBucketPolicy",
    ("s3", "GetBucketAcl"): "s3:GetBucketAcl",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("rds", "DescribeDBInstances"): "rds:DescribeDBInstances",
    ("rds", "DescribeDBClusters"): "rds:DescribeDBClusters",
}
NO_PERMISSION = {("sts", "GetCallerIdentity")}  # allowed for every identity


def iam_action(service_id: str, operation: str) -> str | None:
    if (service_id, operation) in NO_PERMISSION:
        return None
    if (service_id, operation) in OVERRIDES:
        return OVERRIDES[(service_id, operation)]
    return f"{SERVICE_PREFIX.get(service_id, service_id)}:{operation}"
