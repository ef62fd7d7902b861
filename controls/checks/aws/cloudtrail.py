"""CloudTrail checks: every trail logs, protects and forwards its events; the account has a multi-region trail."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

TRAIL = "aws.cloudtrail.trail.configuration"


@check("aws.cloudtrail.trail.logging_enabled", reads=TRAIL)
def trail_logging_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every CloudTrail trail is started (logging)."""
    if subject.observed["is_logging"]:
        return Verdict.passed("trail is logging")
    return Verdict.failed("trail is stopped: no events are delivered")


@check("aws.cloudtrail.trail.log_file_validation_enabled", reads=TRAIL)
def trail_log_file_validation_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every CloudTrail trail writes digest files so the integrity of its log files can be verified."""
    if subject.observed["log_file_validation"]:
        return Verdict.passed("log file validation on")
    return Verdict.failed("log file validation off: tampering with log files cannot be detected")


@check("aws.cloudtrail.trail.kms_encryption_enabled", reads=TRAIL)
def trail_kms_encryption_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every CloudTrail trail encrypts its log files with a KMS key."""
    o = subject.observed
    if o["kms_key_id"]:
        return Verdict.passed(f"log files encrypted with {o['kms_key_id']}")
    return Verdict.failed(f"log files in {o['s3_bucket']} use S3-managed encryption, no KMS key")


@check("aws.cloudtrail.trail.management_events_logged", reads=TRAIL)
def trail_management_events_logged(subject: Subject, policy: Policy) -> Verdict:
    """Every CloudTrail trail logs all management events, read and write (a data-event-only trail excepted)."""
    o = subject.observed
    selected = o["management_events"]
    if selected is None:
        return Verdict.not_applicable("advanced event selectors: not interpreted")
    if selected == "All":
        return Verdict.passed("all management events logged")
    if selected == "None":
        if o["data_events"]:
            return Verdict.not_applicable("data-event trail: selects no management events")
        return Verdict.failed("selects neither management nor data events")
    return Verdict.failed(f"logs only {selected} management events")


@check("aws.cloudtrail.trail.cloudwatch_logs_enabled", reads=TRAIL)
def trail_cloudwatch_logs_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every CloudTrail trail delivers its events to a CloudWatch Logs group, where they can be monitored."""
    o = subject.observed
    if o["cloudwatch_log_group_arn"]:
        return Verdict.passed(f"events delivered to {o['cloudwatch_log_group_arn']}")
    return Verdict.failed("no CloudWatch Logs group receives the events")


@check("aws.cloudtrail.account.multi_region_trail_enabled", reads="aws.cloudtrail.account.trails")
def account_multi_region_trail_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The account has at least one multi-region CloudTrail trail that is logging."""
    o = subject.observed
    count = o["multi_region_logging_count"]
    if count:
        return Verdict.passed(f"{count} multi-region trail{'s' if count > 1 else ''} logging")
    if not o["trail_count"]:
        return Verdict.failed("no CloudTrail trail at all")
    trails = o["trail_count"]
    return Verdict.failed(f"no multi-region trail is logging ({trails} trail{'s' if trails > 1 else ''} in all)")
