"""DynamoDB table checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

AWS_DEFAULT_RECOVERY_PERIOD_DAYS = 35  # what DynamoDB keeps when the answer gives no RecoveryPeriodInDays


@check("aws.dynamodb.table.encryption_enabled", reads="aws.dynamodb.table.encryption")
def table_encryption_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every table is encrypted at rest with a key DynamoDB can use."""
    o = subject.observed
    if o["sse_type"] == "AWS_OWNED":
        return Verdict.passed("encrypted with a key owned by DynamoDB")
    if o["sse_status"] == "INACCESSIBLE_ENCRYPTION_CREDENTIALS":
        return Verdict.failed(f"KMS key {o['kms_key_arn']} is inaccessible to DynamoDB: table data cannot be read")
    return Verdict.passed(f"encrypted with KMS key {o['kms_key_arn']} ({o['sse_status']})")


@check("aws.dynamodb.table.point_in_time_recovery_enabled", reads="aws.dynamodb.table.backup")
def table_point_in_time_recovery_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every table has point-in-time recovery reaching back at least min_backup_retention_days."""
    o = subject.observed
    if not o["pitr_enabled"]:
        return Verdict.failed("point-in-time recovery off")
    days = o["recovery_period_days"]
    shown = f"{days} days" if days is not None else f"{AWS_DEFAULT_RECOVERY_PERIOD_DAYS} days (AWS default)"
    if (days if days is not None else AWS_DEFAULT_RECOVERY_PERIOD_DAYS) < policy.min_backup_retention_days:
        return Verdict.failed(f"recovery period {shown} (min {policy.min_backup_retention_days})")
    return Verdict.passed(f"point-in-time recovery on, {shown} back")
