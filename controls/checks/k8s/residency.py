"""Kubernetes data residency: nodes (where pods and their data are processed) and persistent volumes (where
data is stored) sit in the regions the target allows."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

NODES = "k8s.core.node.topology"
VOLUMES = "k8s.core.persistent_volume.topology"


@check("k8s.residency.resource.in_allowed_regions", reads=(NODES, VOLUMES))
def resource_in_allowed_regions(subject: Subject, policy: Policy) -> Verdict:
    """Each node and persistent volume is in a region the target's residency policy allows."""
    if not policy.allowed_regions:
        return Verdict.not_applicable("no allowed regions configured for this target")
    o = subject.observed
    regions = list(o["regions"]) if subject.kind == VOLUMES else [o["region"]] if o["region"] else []
    if not regions:
        return Verdict.not_applicable("location not stated (no topology region or zone)")
    allowed = ", ".join(policy.allowed_regions)
    outside = [r for r in regions if not policy.region_allowed(r)]
    if outside:
        return Verdict.failed(f"region {', '.join(outside)} is outside the allowed regions ({allowed})")
    return Verdict.passed(f"region {', '.join(regions)} is allowed ({allowed})")
