"""Resource Manager: the project inventory and the IAM policies of the organization, its folders and projects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind, redact
from connectors.gcp.clients import GcpClients, message_dict, operation, source
from connectors.gcp.targets import list_folders

SERVICE = "cloudresourcemanager.googleapis.com"
PROJECT_TYPE = "cloudresourcemanager.googleapis.com/Project"
FOLDER_TYPE = "cloudresourcemanager.googleapis.com/Folder"
ORGANIZATION_TYPE = "cloudresourcemanager.googleapis.com/Organization"

PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor"})
# `principalSet://goog/public:all` is the v2 principal identifier of allUsers.
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers", "principalSet://goog/public:all"})
SERVICE_ACCOUNT_ROLES = frozenset({"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"})
DOMAIN_MEMBER_TYPES = ("user", "group", "domain")
# Conditional role bindings are only returned when the caller asks for policy version 3.
POLICY_OPTIONS = {"requested_policy_version": 3}


def resource_id(name: str) -> str:
    """`projects/acme-prod`, `folders/N`, `organizations/N` -> the full resource name."""
    return f"//{SERVICE}/{name}"


# --------------------------------------------------------------------------- project inventory


@evidence_kind("gcp.resourcemanager.project.inventory", regional=False, permissions=("resourcemanager.projects.get",))
def collect_project_inventory(gcp: GcpClients, project_id: str) -> Iterator[Evidence]:
    """The project's state, place in the resource hierarchy and labels."""
    name = f"projects/{project_id}"
    project = gcp.projects().get_project(name=name, **gcp.call_options())
    ops = [operation("cloudresourcemanager.projects.get", {"name": name})]
    yield observe_project_inventory(message_dict(project), source(gcp, SERVICE, name, ops))


def observe_project_inventory(project: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    return Evidence(
        kind="gcp.resourcemanager.project.inventory",
        resource_id=resource_id(f"projects/{project['project_id']}"),
        resource_type=PROJECT_TYPE,
        region=GLOBAL,
        observed={
            "project_id": project["project_id"],
            "project_number": project["name"].removeprefix("projects/"),
            "display_name": project.get("display_name") or None,
            "state": project.get("state") or "STATE_UNSPECIFIED",
            "parent": project.get("parent") or None,
            "labels": dict(sorted((project.get("labels") or {}).items())),
        },
        source=provenance,
        raw=redact({"project": project}),
    )


# --------------------------------------------------------------------------- IAM policies


def member_domain(member: str) -> str | None:
    """`user:a@example.com`, `group:g@example.com`, `domain:example.com` -> `example.com`; else None.

    Deleted principals (`deleted:user:...`) and service accounts are not people of a domain."""
    kind, _, identity = member.partition(":")
    if kind not in DOMAIN_MEMBER_TYPES or not identity:
        return None
    return identity.rsplit("@", 1)[-1].lower()


def _grants(bindings: list[dict[str, Any]], keep: Any) -> list[dict[str, str]]:
    found = {(b["role"], m) for b in bindings for m in b.get("members", []) if keep(b["role"], m)}
    return [{"member": m, "role": r} for r, m in sorted(found, key=lambda rm: (rm[1], rm[0]))]


def iam_facts(policy: dict[str, Any]) -> dict[str, Any]:
    """The facts checks read from an IAM policy (any resource level); conditional bindings included."""
    bindings = policy.get("bindings", [])
    members = {m for b in bindings for m in b.get("members", [])}
    audit: dict[str, list[str]] = {}
    for config in policy.get("audit_configs", []):
        log_types = {c["log_type"] for c in config.get("audit_log_configs", []) if c.get("log_type")}
        audit[config["service"]] = sorted(log_types | set(audit.get(config["service"], [])))
    return {
        "primitive_role_grants": _grants(bindings, lambda r, m: r in PRIMITIVE_ROLES),
        "public_grants": _grants(bindings, lambda r, m: m in PUBLIC_MEMBERS),
        "member_domains": sorted({d for m in members if (d := member_domain(m))}),
        "service_account_user_grants": _grants(bindings, lambda r, m: r in SERVICE_ACCOUNT_ROLES),
        "audit_log_configs": dict(sorted(audit.items())),
    }


def get_iam_policy(client: Any, gcp: GcpClients, resource: str) -> dict[str, Any]:
    request = {"resource": resource, "options": POLICY_OPTIONS}
    return message_dict(client.get_iam_policy(request=request, **gcp.call_options()))


def iam_operation(method: str, resource: str) -> dict[str, Any]:
    return operation(method, {"resource": resource, "options": POLICY_OPTIONS})


def observe_iam_policy(kind: str, name: str, resource_type: str, policy: dict[str, Any],
                       provenance: dict[str, Any]) -> Evidence:  # fmt: skip
    return Evidence(
        kind=kind,
        resource_id=resource_id(name),
        resource_type=resource_type,
        region=GLOBAL,
        observed=iam_facts(policy),
        source=provenance,
        raw=redact({"resource": name, "policy": policy}),
    )


@evidence_kind(
    "gcp.resourcemanager.organization.iam_policy",
    regional=False,
    permissions=("resourcemanager.organizations.getIamPolicy",),
)
def collect_organization_iam_policy(gcp: GcpClients, organization_id: str) -> Iterator[Evidence]:
    """The organization's IAM policy: basic roles, public members, member domains, audit logging."""
    name = f"organizations/{organization_id}"
    policy = get_iam_policy(gcp.organizations(), gcp, name)
    provenance = source(gcp, SERVICE, name, [iam_operation("cloudresourcemanager.organizations.getIamPolicy", name)])
    yield observe_iam_policy("gcp.resourcemanager.organization.iam_policy", name, ORGANIZATION_TYPE, policy, provenance)


@evidence_kind(
    "gcp.resourcemanager.folder.iam_policy",
    regional=False,
    permissions=("resourcemanager.folders.list", "resourcemanager.folders.getIamPolicy"),
)
def collect_folder_iam_policy(gcp: GcpClients, organization_id: str) -> Iterator[Evidence]:
    """The IAM policy of every folder of the organization, nested folders included."""
    folders, list_op = list_folders(gcp)
    client = gcp.folders()

    def read(folder: dict[str, Any]) -> Evidence:
        name = folder["name"]
        policy = get_iam_policy(client, gcp, name)
        ops = [list_op, iam_operation("cloudresourcemanager.folders.getIamPolicy", name)]
        provenance = source(gcp, SERVICE, f"organizations/{organization_id}", ops)
        return observe_iam_policy("gcp.resourcemanager.folder.iam_policy", name, FOLDER_TYPE, policy, provenance)

    yield from gcp.fan_out(read, folders)


@evidence_kind(
    "gcp.resourcemanager.project.iam_policy",
    regional=False,
    permissions=("resourcemanager.projects.getIamPolicy",),
)
def collect_project_iam_policy(gcp: GcpClients, project_id: str) -> Iterator[Evidence]:
    """The project's IAM policy: basic roles, public members, domains, impersonation grants, audit logging."""
    name = f"projects/{project_id}"
    policy = get_iam_policy(gcp.projects(), gcp, name)
    provenance = source(gcp, SERVICE, name, [iam_operation("cloudresourcemanager.projects.getIamPolicy", name)])
    yield observe_iam_policy("gcp.resourcemanager.project.iam_policy", name, PROJECT_TYPE, policy, provenance)
