"""KMS key checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

AWS_DEFAULT_ROTATION_DAYS = 365  # what KMS uses when the answer gives no RotationPeriodInDays


@check("aws.kms.key.rotation_enabled", reads="aws.kms.key.rotation")
def key_rotation_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every enabled customer-managed key that can rotate does so at least every max_key_rotation_days."""
    o = subject.observed
    if not o["enabled"]:
        return Verdict.not_applicable(f"key state {o['key_state']}")
    if not o["rotation_supported"]:
        return Verdict.not_applicable(
            f"automatic rotation not supported for {o['key_spec']} key with origin {o['origin']}"
        )
    if not o["rotation_enabled"]:
        return Verdict.failed("rotation off")
    period = o["rotation_period_days"]
    shown = f"{period} days" if period is not None else f"{AWS_DEFAULT_ROTATION_DAYS} days (AWS default)"
    if (period if period is not None else AWS_DEFAULT_ROTATION_DAYS) > policy.max_key_rotation_days:
        return Verdict.failed(f"rotation every {shown} (max {policy.max_key_rotation_days})")
    return Verdict.passed(f"rotation every {shown}")
