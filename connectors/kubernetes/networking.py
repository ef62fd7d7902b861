"""Networking: network policies per namespace (default deny), and TLS on ingresses."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind
from connectors.kubernetes.clients import K8sClients, Listing, permissions
from connectors.kubernetes.core import NAMESPACES
from connectors.kubernetes.objects import BUILTIN_NAMESPACES, annotations, clean_raw, resource_id

GROUP = "networking.k8s.io/v1"
NETWORK_POLICIES = Listing("NetworkingV1Api", "list_network_policy_for_all_namespaces", GROUP, "networkpolicies",
                           "list_namespaced_network_policy")  # fmt: skip
INGRESSES = Listing("NetworkingV1Api", "list_ingress_for_all_namespaces", GROUP, "ingresses", "list_namespaced_ingress")


def selects_every_pod(policy: dict[str, Any]) -> bool:
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def policy_types(policy: dict[str, Any]) -> set[str]:
    """As the API defaults them: Ingress always, Egress when the policy has egress rules."""
    spec = policy.get("spec") or {}
    if spec.get("policyTypes"):
        return set(spec["policyTypes"])
    return {"Ingress", "Egress"} if spec.get("egress") else {"Ingress"}


def denies_by_default(policy: dict[str, Any], direction: str) -> bool:
    """A policy on every pod of its namespace, of this type, with no rule allowing anything in that direction."""
    rules = (policy.get("spec") or {}).get(direction.lower())
    return selects_every_pod(policy) and direction in policy_types(policy) and not rules


@evidence_kind("k8s.networking.namespace.network_policies", regional=False,
               permissions=permissions(NAMESPACES, NETWORK_POLICIES))  # fmt: skip
def collect_namespace_network_policies(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """How many NetworkPolicies each namespace has, and whether ingress and egress are denied by default."""
    by_namespace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    policies_op = None
    for policy, page in k8s.list(NETWORK_POLICIES):
        by_namespace[policy["metadata"]["namespace"]].append(policy)
        policies_op = page
    for namespace, op in k8s.list(NAMESPACES):
        name = namespace["metadata"]["name"]
        operations = [op, policies_op] if policies_op else [op]
        yield observe_namespace_network_policies(
            k8s.target.cluster, namespace, by_namespace.pop(name, []), k8s.source(GROUP, operations)
        )


def observe_namespace_network_policies(
    cluster: str, namespace: dict[str, Any], policies: list[dict[str, Any]], provenance: dict[str, Any]
) -> Evidence:
    name = namespace["metadata"]["name"]
    policies = sorted(policies, key=lambda p: p["metadata"]["name"])
    return Evidence(
        kind="k8s.networking.namespace.network_policies",
        resource_id=resource_id(cluster, "Namespace", name),
        resource_type="Namespace",
        region=GLOBAL,
        observed={
            "policy_count": len(policies),
            "policy_names": [p["metadata"]["name"] for p in policies],
            "default_deny_ingress": any(denies_by_default(p, "Ingress") for p in policies),
            "default_deny_egress": any(denies_by_default(p, "Egress") for p in policies),
            "builtin": name in BUILTIN_NAMESPACES,
        },
        source=provenance,
        raw={"namespace": clean_raw(namespace), "network_policies": [clean_raw(p) for p in policies]},
    )


# --------------------------------------------------------------------------- ingresses

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"


def covered(host: str, tls_hosts: set[str]) -> bool:
    """A TLS host covers the same name, and `*.example.com` covers one more label (`a.example.com`)."""
    return any(host == t or (t.startswith("*.") and fnmatch.fnmatchcase(host, t) and host.count(".") == t.count("."))
               for t in tls_hosts)  # fmt: skip


@evidence_kind("k8s.networking.ingress.tls", regional=False, permissions=permissions(INGRESSES))
def collect_ingress_tls(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """Which hosts each Ingress serves and which of them its TLS section covers."""
    for ingress, op in k8s.list(INGRESSES):
        yield observe_ingress_tls(k8s.target.cluster, ingress, k8s.source(GROUP, [op]))


def observe_ingress_tls(cluster: str, ingress: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    meta = ingress["metadata"]
    spec = ingress.get("spec") or {}
    tls = spec.get("tls") or []
    tls_hosts = {h.lower() for entry in tls for h in entry.get("hosts") or []}
    rules = spec.get("rules") or []
    rule_hosts = {r["host"].lower() for r in rules if r.get("host")}
    return Evidence(
        kind="k8s.networking.ingress.tls",
        resource_id=resource_id(cluster, "Ingress", meta["name"], meta["namespace"]),
        resource_type="Ingress",
        region=GLOBAL,
        observed={
            "ingress_class": spec.get("ingressClassName") or annotations(ingress).get(INGRESS_CLASS_ANNOTATION),
            "tls_configured": bool(tls),
            "tls_hosts": sorted(tls_hosts),
            "rule_hosts": sorted(rule_hosts),
            "hosts_without_tls": sorted(h for h in rule_hosts if not covered(h, tls_hosts)),
            "catch_all": bool(spec.get("defaultBackend")) or any(not r.get("host") for r in rules),
        },
        source=provenance,
        raw=clean_raw(ingress, keep_status=("loadBalancer",)),
    )
