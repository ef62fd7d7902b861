"""Kubernetes connector: read-only, chunked list calls through the official client, typed collection errors.

One cluster is one target; every kind is one unit of scope `cluster`. Secret objects are never
listed or read: no kind needs them.
"""

from __future__ import annotations

from connectors.base import CollectionError, KindSpec, UnitPlan
from connectors.kubernetes import admission, control_plane, core, networking, rbac, version, workloads
from connectors.kubernetes.clients import K8sClients, KubernetesTarget, open_target, translate_error

# Explicit registration: importing a module registers its kinds.
MODULES = (admission, control_plane, core, networking, rbac, version, workloads)

SCOPE = "cluster"


def units(context: K8sClients, spec: KindSpec) -> list[UnitPlan]:
    """One unit per kind and cluster. A cluster whose credentials cannot be loaded yields a gap per kind."""
    try:
        context.api_client  # noqa: B018 - loads the kubeconfig or in-cluster credentials (no API call)
    except CollectionError as error:
        return [UnitPlan(scope=SCOPE, context=context, argument=SCOPE, error=error)]
    return [UnitPlan(scope=SCOPE, context=context, argument=SCOPE)]


__all__ = ["MODULES", "K8sClients", "KubernetesTarget", "open_target", "translate_error", "units"]
