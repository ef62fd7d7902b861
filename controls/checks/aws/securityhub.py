"""Security Hub checks: the hub is enabled in each region, and evaluates the account against a security standard."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

READY = "READY"


def standard_name(arn: str) -> str:
    """`arn:aws:securityhub:eu-west-1::standards/aws-foundational-security-best-practices/v/1.0.0` ->
    `aws-foundational-security-best-practices/v/1.0.0` (CIS 1.2 is a `ruleset/`)."""
    return arn.rsplit(":", 1)[-1].partition("/")[2] or arn


@check("aws.securityhub.hub.enabled", reads="aws.securityhub.hub.status")
def hub_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Security Hub is enabled in the region."""
    o = subject.observed
    if not o["enabled"]:
        return Verdict.failed(f"Security Hub is not enabled in {subject.region}")
    return Verdict.passed(f"Security Hub enabled ({len(o['standards'])} standards subscribed)")


@check("aws.securityhub.hub.standards_enabled", reads="aws.securityhub.hub.status")
def standards_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Security Hub evaluates the region against at least one security standard whose status is READY."""
    o = subject.observed
    if not o["enabled"]:
        return Verdict.failed(f"Security Hub is not enabled in {subject.region}: no standard is evaluated")
    ready = [standard_name(arn) for arn, status in o["standards"].items() if status == READY]
    if ready:
        return Verdict.passed(f"standards evaluated: {', '.join(sorted(ready))}")
    if not o["standards"]:
        return Verdict.failed("Security Hub is enabled but no standard is enabled")
    other = ", ".join(sorted(f"{standard_name(arn)} ({status})" for arn, status in o["standards"].items()))
    return Verdict.failed(f"no enabled standard is READY: {other}")
