"""ECR checks: images are scanned for vulnerabilities when pushed, and image tags cannot be overwritten."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

SCANNED = {"SCAN_ON_PUSH": "scanned on push", "CONTINUOUS_SCAN": "scanned on push and continuously"}


@check("aws.ecr.repository.scan_on_push_enabled", reads="aws.ecr.repository.configuration")
def scan_on_push_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Images pushed to the repository are scanned for vulnerabilities (registry scanning rules or, with basic
    scanning, the repository's own scan-on-push setting)."""
    o = subject.observed
    scan_type = o["registry_scan_type"].lower()
    if o["scan_frequency"] in SCANNED:
        return Verdict.passed(f"images {SCANNED[o['scan_frequency']]} ({scan_type} scanning)")
    if scan_type == "basic" and o["scan_on_push"]:
        return Verdict.passed("images scanned on push (repository setting, basic scanning)")
    if scan_type == "enhanced":
        ignored = " (its own scan-on-push setting does not apply with enhanced scanning)" if o["scan_on_push"] else ""
        return Verdict.failed(f"no enhanced scanning rule of the registry covers this repository{ignored}")
    return Verdict.failed("images are scanned only when someone starts a scan (no scan on push)")


@check("aws.ecr.repository.tags_immutable", reads="aws.ecr.repository.configuration")
def tags_immutable(subject: Subject, policy: Policy) -> Verdict:
    """Image tags in the repository are immutable: a pushed tag cannot be moved to another image."""
    o = subject.observed
    mutability, exclusions = o["tag_mutability"], ", ".join(o["tag_mutability_exclusions"])
    if mutability == "IMMUTABLE":
        return Verdict.passed("image tags are immutable")
    if mutability == "IMMUTABLE_WITH_EXCLUSION":
        return Verdict.failed(f"image tags are immutable except those matching {exclusions}, which can be overwritten")
    if mutability == "MUTABLE_WITH_EXCLUSION":
        return Verdict.failed(f"image tags can be overwritten (only those matching {exclusions} are immutable)")
    return Verdict.failed(f"image tags are {mutability.lower()}: a tag can be pushed again with another image")
