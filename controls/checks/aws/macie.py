"""Amazon Macie checks: each region has Macie enabled."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check


@check("aws.macie.account.enabled", reads="aws.macie.account.status")
def account_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Amazon Macie is enabled (not paused) in the region."""
    o = subject.observed
    if o["status"] is None:
        return Verdict.failed(f"Macie is not enabled in {subject.region}")
    if not o["enabled"]:
        state = "paused: it stopped monitoring and discovering data" if o["status"] == "PAUSED" else o["status"]
        return Verdict.failed(f"Macie {state}")
    return Verdict.passed(f"Macie enabled (findings published every {o['finding_publishing_frequency']})")
