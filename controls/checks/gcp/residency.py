"""GCP data residency: buckets (where data is stored), GKE clusters (where it is processed) and KMS keys
sit in locations the target allows."""

from __future__ import annotations

import re

from controls.base import Policy, Subject, Verdict, check

DATA_RESOURCE_KINDS = ("gcp.storage.bucket.settings", "gcp.container.cluster.security", "gcp.kms.crypto_key.rotation")
_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


@check("gcp.residency.resource.in_allowed_regions", reads=DATA_RESOURCE_KINDS)
def resource_in_allowed_regions(subject: Subject, policy: Policy) -> Verdict:
    """Each bucket, GKE cluster and KMS key is in a location the target's residency policy allows."""
    if not policy.allowed_regions:
        return Verdict.not_applicable("no allowed regions configured for this target")
    location = subject.region
    if location == "global":
        return Verdict.not_applicable("location global: not pinned to a region")
    zone = _ZONE.match(location)  # a zonal cluster is judged by its zone or by the zone's region
    allowed = ", ".join(policy.allowed_regions)
    if policy.region_allowed(location) or (zone and policy.region_allowed(zone.group(1))):
        return Verdict.passed(f"location {location} is allowed ({allowed})")
    return Verdict.failed(f"location {location} is outside the allowed regions ({allowed})")
