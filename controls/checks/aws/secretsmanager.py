"""Secrets Manager secret checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check


@check("aws.secretsmanager.secret.rotation_enabled", reads="aws.secretsmanager.secret.rotation")
def secret_rotation_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every secret is rotated automatically."""
    o = subject.observed
    if not o["rotation_enabled"]:
        return Verdict.failed("automatic rotation off")
    if o["rotation_days"]:
        return Verdict.passed(f"rotation every {o['rotation_days']} days")
    if o["rotation_schedule"]:
        return Verdict.passed(f"rotation on schedule {o['rotation_schedule']}")
    return Verdict.passed("rotation on")
