"""Organization Policy: the policy in effect on each project for the constraints compliance relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind, redact
from connectors.gcp.clients import GcpClients, message_dict, operation, source
from connectors.gcp.resourcemanager import PROJECT_TYPE, resource_id

SERVICE = "orgpolicy.googleapis.com"
# constraint -> observed key; list constraints carry values, boolean ones are enforced or not.
LIST_CONSTRAINTS = {
    "gcp.resourceLocations": "resource_locations",
    "iam.allowedPolicyMemberDomains": "allowed_policy_member_domains",
}
BOOLEAN_CONSTRAINTS = {
    "iam.disableServiceAccountKeyCreation": "disable_service_account_key_creation",
    "storage.uniformBucketLevelAccess": "uniform_bucket_level_access",
    "storage.publicAccessPrevention": "public_access_prevention",
    "compute.requireOsLogin": "require_os_login",
    "sql.restrictPublicIp": "sql_restrict_public_ip",
}
CONSTRAINTS = (*LIST_CONSTRAINTS, *BOOLEAN_CONSTRAINTS)


def _rules(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The unconditional rules of an effective policy (a rule with a condition applies to some resources only)."""
    return [r for r in (policy.get("spec") or {}).get("rules", []) if not r.get("condition")]


def list_constraint(policy: dict[str, Any]) -> dict[str, Any]:
    rules = _rules(policy)
    values = [r.get("values") or {} for r in rules]
    return {
        "configured": bool(rules),
        "allow_all": any(r.get("allow_all", False) for r in rules),
        "deny_all": any(r.get("deny_all", False) for r in rules),
        "allowed_values": sorted({v for vs in values for v in vs.get("allowed_values", [])}),
        "denied_values": sorted({v for vs in values for v in vs.get("denied_values", [])}),
    }


def boolean_constraint(policy: dict[str, Any]) -> bool:
    return any(r.get("enforce", False) for r in _rules(policy))


@evidence_kind("gcp.orgpolicy.project.constraints", regional=False, permissions=("orgpolicy.policy.get",))
def collect_project_constraints(gcp: GcpClients, project_id: str) -> Iterator[Evidence]:
    """The effective organization policy on the project for location, IAM and storage constraints."""
    client = gcp.org_policy()

    def effective(constraint: str) -> dict[str, Any]:
        name = f"projects/{project_id}/policies/{constraint}"
        return message_dict(client.get_effective_policy(name=name, **gcp.call_options()))

    policies = dict(zip(CONSTRAINTS, gcp.fan_out(effective, CONSTRAINTS), strict=True))
    ops = [operation("orgpolicy.projects.policies.getEffectivePolicy", {"name": f"projects/{project_id}/policies/{c}"})
           for c in CONSTRAINTS]  # fmt: skip
    yield observe_project_constraints(project_id, policies, source(gcp, SERVICE, f"projects/{project_id}", ops))


def observe_project_constraints(project_id: str, policies: dict[str, dict[str, Any]],
                                provenance: dict[str, Any]) -> Evidence:  # fmt: skip
    observed: dict[str, Any] = {key: list_constraint(policies[c]) for c, key in LIST_CONSTRAINTS.items()}
    observed.update({key: boolean_constraint(policies[c]) for c, key in BOOLEAN_CONSTRAINTS.items()})
    return Evidence(
        kind="gcp.orgpolicy.project.constraints",
        resource_id=resource_id(f"projects/{project_id}"),
        resource_type=PROJECT_TYPE,
        region=GLOBAL,
        observed=observed,
        source=provenance,
        raw=redact({"effective_policies": policies}),
    )
