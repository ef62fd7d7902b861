"""API server flags, where the control plane is visible as static pods in kube-system (kubeadm-style
clusters). Managed control planes (EKS, GKE, AKS) show no such pods: the kind then yields nothing, and
their settings come from the cloud provider's own API (e.g. `aws.eks.cluster.logging`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind
from connectors.kubernetes.clients import K8sClients
from connectors.kubernetes.objects import clean_raw, resource_id
from connectors.kubernetes.workloads import PODS

SYSTEM_NAMESPACE = "kube-system"
API_SERVER_SELECTOR = "component=kube-apiserver"


def flags(container: dict[str, Any]) -> dict[str, str]:
    """`--name=value` arguments of a container's command line; a bare `--name` counts as "true"."""
    out: dict[str, str] = {}
    for arg in [*(container.get("command") or []), *(container.get("args") or [])]:
        if not arg.startswith("--"):
            continue
        name, _, value = arg[2:].partition("=")
        out[name] = value if _ else "true"
    return out


def as_bool(value: str | None) -> bool | None:
    return None if value is None else value.lower() == "true"


def as_int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def as_list(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]


@evidence_kind("k8s.core.control_plane.flags", regional=False, permissions=(PODS.permission,))
def collect_control_plane_flags(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """The kube-apiserver's audit, encryption, authentication and authorization flags, from its static pods."""
    for pod, op in k8s.list(PODS, namespace=SYSTEM_NAMESPACE, label_selector=API_SERVER_SELECTOR):
        yield observe_control_plane_flags(k8s.target.cluster, pod, k8s.source("core", [op]))


def observe_control_plane_flags(cluster: str, pod: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    meta = pod["metadata"]
    spec = pod["spec"]
    container = next((c for c in spec["containers"] if c["name"] == "kube-apiserver"), spec["containers"][0])
    found = flags(container)
    return Evidence(
        kind="k8s.core.control_plane.flags",
        resource_id=resource_id(cluster, "Pod", meta["name"], meta["namespace"]),
        resource_type="Pod",
        region=GLOBAL,
        observed={
            "component": (meta.get("labels") or {}).get("component"),
            "node": spec.get("nodeName"),
            "audit_log_path": found.get("audit-log-path"),
            "audit_policy_file": found.get("audit-policy-file"),
            "audit_log_maxage": as_int(found.get("audit-log-maxage")),
            "encryption_provider_config": found.get("encryption-provider-config"),
            "anonymous_auth": as_bool(found.get("anonymous-auth")),
            "authorization_modes": as_list(found.get("authorization-mode")),
            "enable_admission_plugins": sorted(as_list(found.get("enable-admission-plugins"))),
            "profiling": as_bool(found.get("profiling")),
            "tls_min_version": found.get("tls-min-version"),
        },
        source=provenance,
        raw=clean_raw(pod),
    )
