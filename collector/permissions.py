"""Least-privilege policies from the permissions each evidence kind declares."""

from __future__ import annotations

from typing import Any

from collector.config import Config
from connectors.aws import FRAMEWORK_PERMISSIONS, ORGANIZATION_PERMISSIONS
from connectors.base import registered_kinds


def aws_actions(config: Config | None) -> list[str]:
    """Every IAM action the enabled AWS kinds need (all AWS kinds when there is no config)."""
    targets = [t for t in config.targets if t.kind_provider == "aws"] if config else []
    kinds = registered_kinds("aws")
    if targets:
        kinds = [k for k in kinds if any(t.wants(k) for t in targets)]
    actions = set(FRAMEWORK_PERMISSIONS)
    for kind in kinds:
        actions.update(kind.permissions)
    return sorted(actions)


def aws_policy(config: Config | None) -> dict[str, Any]:
    """The IAM policy for the identity the agent reads with (in organization mode: the member role)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EvidenceAgentReadOnly", "Effect": "Allow", "Action": aws_actions(config), "Resource": "*"}
        ],
    }


def aws_organization_policy() -> dict[str, Any]:
    """Extra policy for the management-account identity in organization mode."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EvidenceAgentOrganization", "Effect": "Allow", "Action": sorted(ORGANIZATION_PERMISSIONS),
             "Resource": "*"}
        ],
    }  # fmt: skip


def kubernetes_cluster_role(name: str = "evidence-agent-reader") -> dict[str, Any]:
    """The ClusterRole the Kubernetes kinds need: declared as "<verb> <apiGroup>/<resource>" (core = "")."""
    by_rule: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    needed: dict[tuple[str, str], set[str]] = {}
    urls: dict[str, set[str]] = {}
    for kind in registered_kinds("k8s"):
        for permission in kind.permissions:
            verb, _, target = permission.partition(" ")
            if target.startswith("/"):  # a non-resource URL such as /version
                urls.setdefault(target, set()).add(verb)
                continue
            group, _, resource = target.rpartition("/")
            needed.setdefault(("" if group == "core" else group, resource), set()).add(verb)
    for (group, resource), verbs in needed.items():
        by_rule.setdefault((group, tuple(sorted(verbs))), set()).add(resource)
    rules = [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
        for (group, verbs), resources in sorted(by_rule.items())
    ] + [{"nonResourceURLs": [url], "verbs": sorted(verbs)} for url, verbs in sorted(urls.items())]
    metadata = {"name": name, "labels": {"app.kubernetes.io/name": "evidence-agent"}}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": metadata, "rules": rules}


def gcp_role() -> dict[str, Any]:
    """A custom IAM role (gcloud iam roles create --file) with exactly the permissions the GCP kinds need."""
    from connectors.gcp import ORGANIZATION_PERMISSIONS

    kinds = {p for kind in registered_kinds("gcp") for p in kind.permissions}
    permissions = sorted(kinds | set(ORGANIZATION_PERMISSIONS))
    return {"title": "Evidence Agent Reader", "description": "Read-only access for evidence-agent",
            "stage": "GA", "includedPermissions": permissions}  # fmt: skip
