"""The cluster's Kubernetes version, as the apiserver reports it (`GET /version`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind, redact
from connectors.kubernetes.clients import K8sClients
from connectors.kubernetes.objects import cluster_id

# `v1.31.4`, `v1.30.6-eks-7f9249a`, `v1.31.1-gke.1678000`, `v1.29.3+k3s1`
GIT_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+](.+))?$")


@evidence_kind("k8s.version.cluster.version", regional=False, permissions=("get /version",))
def collect_cluster_version(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """The Kubernetes version the cluster's API server runs (git version, minor, patch level)."""
    info, op = k8s.get("GET /version", "/version", "VersionApi", "get_code")
    yield observe_cluster_version(k8s.target.cluster, info, k8s.source("version", [op]))


def observe_cluster_version(cluster: str, info: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    git_version = info["gitVersion"]
    match = GIT_VERSION.match(git_version)
    major, minor, patch, suffix = match.groups() if match else (None, None, None, None)
    return Evidence(
        kind="k8s.version.cluster.version",
        resource_id=cluster_id(cluster),
        resource_type="Cluster",
        region=GLOBAL,
        observed={
            "git_version": git_version,
            "major": int(major) if major else None,
            "minor": int(minor) if minor else None,
            "patch": int(patch) if patch else None,
            "distribution_suffix": suffix,
            "platform": info.get("platform"),
        },
        source=provenance,
        raw=redact(info),
    )
