"""CloudWatch Logs checks: log groups keep events long enough, encrypt them with KMS and resist deletion."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

LOG_GROUP = "aws.logs.log_group.settings"


@check("aws.logs.log_group.retention_sufficient", reads=LOG_GROUP)
def log_group_retention_sufficient(subject: Subject, policy: Policy) -> Verdict:
    """Every log group keeps its events at least the configured minimum number of days."""
    days, minimum = subject.observed["retention_days"], policy.min_log_retention_days
    if days is None:
        return Verdict.passed("events never expire")
    if days < minimum:
        return Verdict.failed(f"retention {days} days (min {minimum})")
    return Verdict.passed(f"retention {days} days (min {minimum})")


@check("aws.logs.log_group.kms_encrypted", reads=LOG_GROUP)
def log_group_kms_encrypted(subject: Subject, policy: Policy) -> Verdict:
    """Every log group is encrypted with a KMS key of the account."""
    key = subject.observed["kms_key_id"]
    if key:
        return Verdict.passed(f"encrypted with {key}")
    return Verdict.failed("no KMS key: only CloudWatch Logs' own encryption")


@check("aws.logs.log_group.deletion_protection_enabled", reads=LOG_GROUP)
def log_group_deletion_protection_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every log group has deletion protection on."""
    if subject.observed["deletion_protection"]:
        return Verdict.passed("deletion protection on")
    return Verdict.failed("deletion protection off: the group and its events can be deleted")
