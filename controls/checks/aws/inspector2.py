"""Amazon Inspector checks: the account's vulnerability scanning covers EC2 instances and ECR images."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

# The resource types whose scanning the check requires: the account's servers and its container images.
REQUIRED = ("EC2", "ECR")


@check("aws.inspector2.account.scanning_enabled", reads="aws.inspector2.account.status")
def scanning_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Amazon Inspector is enabled in the region and scans EC2 instances and ECR container images."""
    o = subject.observed
    enabled, status = o["scanning_enabled"], o["scanning_status"]
    missing = [f"{name} ({status.get(name, 'not answered')})" for name in REQUIRED if name not in enabled]
    if o["status"] != "ENABLED":
        not_scanned = ", ".join(missing) or "no resource type"
        return Verdict.failed(f"Inspector is {o['status']} in {subject.region}: not scanning {not_scanned}")
    if missing:
        return Verdict.failed(f"Inspector does not scan {', '.join(missing)}")
    return Verdict.passed(f"Inspector scans {', '.join(enabled)}")
