"""From one configured GCP target to units: the organization once, or each project.

- Organization-level kinds (the organization's and its folders' IAM policies) run as one unit,
  scope `organizations/N`; without an `organization_id` they are skipped, with the reason.
- Project-level kinds run as one unit per project, scope `projects/ID`: the configured projects,
  or every ACTIVE project under the organization (its folders walked recursively). A discovery
  that fails (denied, disabled) is a planning gap, never "no projects".
"""

from __future__ import annotations

from typing import Any

from connectors.base import CollectionError, GapReason, KindSpec, UnitPlan
from connectors.gcp.clients import GcpClients, message_dict, operation, read_pages, translate_error

ORGANIZATION_RESOURCES = frozenset({"organization", "folder"})


def is_organization_kind(spec: KindSpec) -> bool:
    return spec.name.split(".")[2] in ORGANIZATION_RESOURCES


def list_folders(gcp: GcpClients) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every folder under the organization, level by level (ListFolders names direct children only);
    listed once per run and shared. Returns the folders (as the API gives them) and the provenance."""

    def compute() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        folders = gcp.folders()
        found: list[dict[str, Any]] = []
        parents = [f"organizations/{gcp.target.organization_id}"]
        asked: list[str] = []
        pages = 0

        def children(parent: str) -> tuple[list[Any], int]:
            pager = folders.list_folders(request={"parent": parent, "page_size": gcp.page_size}, **gcp.call_options())
            return read_pages(pager, "folders")

        while parents:
            asked.extend(parents)
            level = gcp.fan_out(children, parents)
            parents = []
            for items, count in level:
                pages += count
                for folder in items:
                    as_dict = message_dict(folder)
                    found.append(as_dict)
                    parents.append(as_dict["name"])
        found.sort(key=lambda f: f["name"])
        return found, operation("cloudresourcemanager.folders.list", {"parents": asked}, pages)

    return gcp.memo("resourcemanager:folders", compute)


def organization_projects(gcp: GcpClients) -> list[dict[str, Any]]:
    """Every ACTIVE project under the organization: directly under it or under any of its folders."""

    def compute() -> list[dict[str, Any]]:
        folders, _ = list_folders(gcp)
        parents = [f"organizations/{gcp.target.organization_id}"] + [f["name"] for f in folders]
        projects = gcp.projects()

        def children(parent: str) -> list[Any]:
            pager = projects.list_projects(request={"parent": parent, "page_size": gcp.page_size}, **gcp.call_options())
            return read_pages(pager, "projects")[0]

        found = [message_dict(p) for level in gcp.fan_out(children, parents) for p in level]
        return sorted((p for p in found if p.get("state") == "ACTIVE"), key=lambda p: p["project_id"])

    return gcp.memo("resourcemanager:projects", compute)


def project_ids(gcp: GcpClients) -> tuple[str, ...]:
    """The projects project-level kinds read: as configured, else discovered under the organization."""
    if gcp.target.projects:
        return gcp.target.projects
    return tuple(p["project_id"] for p in organization_projects(gcp))


def units(context: GcpClients, spec: KindSpec) -> list[UnitPlan]:
    org = context.target.organization_id
    if is_organization_kind(spec):
        if not org:
            return [UnitPlan(scope="organization", context=context, argument="",
                             skip="no organization_id configured for this target")]  # fmt: skip
        return [UnitPlan(scope=f"organizations/{org}", context=context, argument=org)]
    try:
        ids = project_ids(context)
    except Exception as exc:
        error = translate_error(exc)
        if error is None:
            raise
        return [UnitPlan(scope="projects/*", context=context, argument="", error=error)]
    if not ids:
        error = CollectionError(GapReason.ERROR, f"organization {org} has no ACTIVE project the agent can see")
        return [UnitPlan(scope="projects/*", context=context, argument="", error=error)]
    return [UnitPlan(scope=f"projects/{p}", context=context, argument=p) for p in ids]
