"""Shared by every Kubernetes kind: resource ids, labels, and `raw` without volatile or secret values."""

from __future__ import annotations

import re
from typing import Any

from connectors.base import REDACTED, redact

BUILTIN_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease", "default"})
# Objects the apiserver creates and reconciles itself (RBAC defaults, system:* roles and bindings).
BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")

# Volatile or duplicated metadata: never part of what was observed.
VOLATILE_METADATA = ("managedFields", "resourceVersion", "generation")
VOLATILE_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",  # a copy of the object, env values included
        "deployment.kubernetes.io/revision",
        "deprecated.daemonset.template.generation",
        "kubectl.kubernetes.io/restartedAt",
        "control-plane.alpha.kubernetes.io/leader",
        "node.alpha.kubernetes.io/ttl",
    }
)
# `--db-password=...` in a command line: the flag name stays, the value goes (`--token-auth-file=PATH` stays).
_SECRET_FLAG = re.compile(r"^(--?[A-Za-z0-9_.-]*(password|passwd|secret|token|apikey|api-key|credential)"
                          r"[A-Za-z0-9_.-]*)=(.+)$", re.I)  # fmt: skip
_PATH_FLAG = re.compile(r"(file|path|dir)$", re.I)


def resource_id(cluster: str, kind: str, name: str, namespace: str | None = None) -> str:
    """`k8s://CLUSTER/NAMESPACE/KIND/NAME`; cluster-scoped objects have an empty namespace segment."""
    return f"k8s://{cluster}/{namespace or ''}/{kind}/{name}"


def cluster_id(cluster: str) -> str:
    """The cluster itself, for cluster-wide facts (version, admission configuration)."""
    return resource_id(cluster, "Cluster", cluster)


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def is_rbac_default(obj: dict[str, Any]) -> bool:
    key, value = BOOTSTRAP_LABEL
    return labels(obj).get(key) == value


def _scrub_flag(arg: Any) -> Any:
    if not isinstance(arg, str):
        return arg
    match = _SECRET_FLAG.match(arg)
    if not match or _PATH_FLAG.search(match.group(1)):
        return arg
    return f"{match.group(1)}={REDACTED}"


def _scrub(value: Any) -> Any:
    """Env values and secret-looking command-line flags of containers; everything else as is."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "env" and isinstance(item, list):
                out[key] = [
                    {**e, "value": REDACTED} if isinstance(e, dict) and e.get("value") not in (None, "") else e
                    for e in item
                ]
            elif key in ("command", "args") and isinstance(item, list):
                out[key] = [_scrub_flag(a) for a in item]
            else:
                out[key] = _scrub(item)
        return out
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def clean_raw(obj: dict[str, Any], *, keep_status: tuple[str, ...] = ()) -> dict[str, Any]:
    """The API object for `raw`: no managedFields, resourceVersion, generation or volatile annotations,
    only the named `status` fields (most status is live state, not configuration), no env values or
    secret command-line values, and `redact` on top."""
    out = {k: v for k, v in obj.items() if k != "status"}
    metadata = {k: v for k, v in obj.get("metadata", {}).items() if k not in VOLATILE_METADATA}
    if metadata.get("annotations"):
        kept = {k: v for k, v in metadata["annotations"].items() if k not in VOLATILE_ANNOTATIONS}
        metadata["annotations"] = kept
        if not kept:
            del metadata["annotations"]
    out["metadata"] = metadata
    status = obj.get("status") or {}
    if keep_status and any(k in status for k in keep_status):
        out["status"] = {k: status[k] for k in keep_status if k in status}
    return redact(_scrub(out))
