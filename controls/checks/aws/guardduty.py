"""GuardDuty checks: each region has an enabled detector."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check


@check("aws.guardduty.detector.enabled", reads="aws.guardduty.detector.status")
def detector_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The region has a GuardDuty detector and it is enabled."""
    o = subject.observed
    if not o["detector_present"]:
        return Verdict.failed(f"no GuardDuty detector in {subject.region}")
    if o["status"] != "ENABLED":
        state = "suspended" if o["status"] == "DISABLED" else f"status {o['status']}"
        return Verdict.failed(f"GuardDuty detector {state}")
    return Verdict.passed(f"GuardDuty detector enabled (findings every {o['finding_publishing_frequency']})")
