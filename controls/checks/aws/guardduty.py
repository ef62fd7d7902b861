"""GuardDuty checks: each region has an enabled detector, and it scans EC2 instances' EBS volumes for malware."""

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


# Malware Protection for EC2 as the detector reports it: the feature (current API) or the data source (older API).
EBS_MALWARE_FEATURE = "EBS_MALWARE_PROTECTION"
EBS_MALWARE_DATA_SOURCE = "MalwareProtection.ScanEc2InstanceWithFindings.EbsVolumes"


@check("aws.guardduty.detector.malware_protection_enabled", reads="aws.guardduty.detector.status")
def malware_protection_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The region's GuardDuty detector is enabled and scans the EBS volumes of EC2 instances for malware."""
    o = subject.observed
    if not o["detector_present"]:
        return Verdict.failed(f"no GuardDuty detector in {subject.region}: no malware scanning")
    if o["status"] != "ENABLED":
        state = "suspended" if o["status"] == "DISABLED" else f"status {o['status']}"
        return Verdict.failed(f"GuardDuty detector {state}: no malware scanning")
    if EBS_MALWARE_FEATURE in o["features_enabled"] or EBS_MALWARE_DATA_SOURCE in o["data_sources_enabled"]:
        return Verdict.passed("EBS malware protection on: volumes of instances with suspicious findings are scanned")
    return Verdict.failed("GuardDuty detector enabled, but EBS malware protection is off")
