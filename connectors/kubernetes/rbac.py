"""RBAC: who is bound to which role (cluster-wide and per namespace), and what cluster roles allow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind
from connectors.kubernetes.clients import K8sClients, Listing, permissions
from connectors.kubernetes.objects import clean_raw, is_rbac_default, resource_id

GROUP = "rbac.authorization.k8s.io/v1"
CLUSTER_ROLE_BINDINGS = Listing("RbacAuthorizationV1Api", "list_cluster_role_binding", GROUP, "clusterrolebindings")
ROLE_BINDINGS = Listing(
    "RbacAuthorizationV1Api",
    "list_role_binding_for_all_namespaces",
    GROUP,
    "rolebindings",
    "list_namespaced_role_binding",
)
CLUSTER_ROLES = Listing("RbacAuthorizationV1Api", "list_cluster_role", GROUP, "clusterroles")

ANONYMOUS = frozenset({("User", "system:anonymous"), ("Group", "system:unauthenticated")})
ALL_AUTHENTICATED = ("Group", "system:authenticated")


def subjects(binding: dict[str, Any]) -> list[dict[str, Any]]:
    """The binding's subjects, sorted; a service account without namespace is in the binding's own."""
    own_namespace = binding["metadata"].get("namespace")
    out = []
    for subject in binding.get("subjects") or []:
        namespace = subject.get("namespace") or (own_namespace if subject["kind"] == "ServiceAccount" else None)
        out.append({"kind": subject["kind"], "name": subject["name"], "namespace": namespace})
    return sorted(out, key=lambda s: (s["kind"], s["namespace"] or "", s["name"]))


def binding_observed(binding: dict[str, Any]) -> dict[str, Any]:
    role = binding["roleRef"]
    bound = subjects(binding)
    pairs = {(s["kind"], s["name"]) for s in bound}
    return {
        "role_kind": role["kind"],
        "role_name": role["name"],
        "subjects": bound,
        "grants_cluster_admin": role["kind"] == "ClusterRole" and role["name"] == "cluster-admin",
        "binds_anonymous": bool(pairs & ANONYMOUS),
        "binds_all_authenticated": ALL_AUTHENTICATED in pairs,
        "binds_default_service_account": any(s["kind"] == "ServiceAccount" and s["name"] == "default" for s in bound),
        "rbac_default": is_rbac_default(binding),
    }


@evidence_kind("k8s.rbac.cluster_role_binding.subjects", regional=False,
               permissions=permissions(CLUSTER_ROLE_BINDINGS))  # fmt: skip
def collect_cluster_role_binding_subjects(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """Which users, groups and service accounts each ClusterRoleBinding grants its role to, cluster-wide."""
    for binding, op in k8s.list(CLUSTER_ROLE_BINDINGS):
        yield observe_cluster_role_binding_subjects(k8s.target.cluster, binding, k8s.source(GROUP, [op]))


def observe_cluster_role_binding_subjects(
    cluster: str, binding: dict[str, Any], provenance: dict[str, Any]
) -> Evidence:
    return Evidence(
        kind="k8s.rbac.cluster_role_binding.subjects",
        resource_id=resource_id(cluster, "ClusterRoleBinding", binding["metadata"]["name"]),
        resource_type="ClusterRoleBinding",
        region=GLOBAL,
        observed=binding_observed(binding),
        source=provenance,
        raw=clean_raw(binding),
    )


@evidence_kind("k8s.rbac.role_binding.subjects", regional=False, permissions=permissions(ROLE_BINDINGS))
def collect_role_binding_subjects(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """Which users, groups and service accounts each RoleBinding grants its role to, in its namespace."""
    for binding, op in k8s.list(ROLE_BINDINGS):
        yield observe_role_binding_subjects(k8s.target.cluster, binding, k8s.source(GROUP, [op]))


def observe_role_binding_subjects(cluster: str, binding: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    meta = binding["metadata"]
    return Evidence(
        kind="k8s.rbac.role_binding.subjects",
        resource_id=resource_id(cluster, "RoleBinding", meta["name"], meta["namespace"]),
        resource_type="RoleBinding",
        region=GLOBAL,
        observed=binding_observed(binding),
        source=provenance,
        raw=clean_raw(binding),
    )


# --------------------------------------------------------------------------- cluster roles

READ_VERBS = frozenset({"get", "list", "watch", "*"})
IMPERSONATED = frozenset({"users", "groups", "serviceaccounts", "uids", "userextras/*", "*"})


def _allows(
    rule: dict[str, Any], groups: set[str], resources: set[str] | frozenset[str], verbs: set[str] | frozenset[str]
) -> bool:
    """Whether one resource rule grants any of `verbs` on any of `resources` in any of `groups` ("*" matches all)."""
    rule_groups = set(rule.get("apiGroups") or [])
    rule_resources = set(rule.get("resources") or [])
    rule_verbs = set(rule.get("verbs") or [])
    return (
        bool(rule_groups & (groups | {"*"}))
        and bool(rule_resources & (resources | {"*"}))
        and bool(rule_verbs & (verbs | {"*"}))
    )


def rules_observed(rules: list[dict[str, Any]]) -> dict[str, Any]:
    resource_rules = [r for r in rules if r.get("resources")]
    rbac_groups = {"rbac.authorization.k8s.io"}
    return {
        "full_access": any(all("*" in (r.get(k) or []) for k in ("apiGroups", "resources", "verbs"))
                           for r in resource_rules),
        "wildcard_verbs": any("*" in (r.get("verbs") or []) for r in rules),
        "wildcard_resources": any("*" in (r.get("resources") or []) for r in resource_rules),
        "reads_secrets": any(_allows(r, {""}, {"secrets"}, READ_VERBS) for r in resource_rules),
        "can_escalate": any(_allows(r, rbac_groups, {"roles", "clusterroles"}, {"escalate"}) for r in resource_rules),
        "can_bind": any(_allows(r, rbac_groups, {"roles", "clusterroles"}, {"bind"}) for r in resource_rules),
        "can_impersonate": any(_allows(r, {"", "authentication.k8s.io"}, IMPERSONATED, {"impersonate"})
                               for r in resource_rules),
    }  # fmt: skip


@evidence_kind("k8s.rbac.cluster_role.rules", regional=False, permissions=permissions(CLUSTER_ROLES))
def collect_cluster_role_rules(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """What each ClusterRole allows: wildcards, reading secrets, and the escalate, bind and impersonate verbs."""
    for role, op in k8s.list(CLUSTER_ROLES):
        yield observe_cluster_role_rules(k8s.target.cluster, role, k8s.source(GROUP, [op]))


def observe_cluster_role_rules(cluster: str, role: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    return Evidence(
        kind="k8s.rbac.cluster_role.rules",
        resource_id=resource_id(cluster, "ClusterRole", role["metadata"]["name"]),
        resource_type="ClusterRole",
        region=GLOBAL,
        observed={
            **rules_observed(role.get("rules") or []),
            "aggregated": bool(role.get("aggregationRule")),
            "rbac_default": is_rbac_default(role),
        },
        source=provenance,
        raw=clean_raw(role),
    )
