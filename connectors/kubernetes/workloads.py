"""Workload security settings, per controller (Deployment, StatefulSet, DaemonSet, Job, CronJob) and per
bare pod (one without owner): read from the pod template the controller stamps out, not from every pod."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind
from connectors.kubernetes.clients import K8sClients, Listing, permissions
from connectors.kubernetes.objects import clean_raw, resource_id

DEPLOYMENTS = Listing("AppsV1Api", "list_deployment_for_all_namespaces", "apps/v1", "deployments")
STATEFUL_SETS = Listing("AppsV1Api", "list_stateful_set_for_all_namespaces", "apps/v1", "statefulsets")
DAEMON_SETS = Listing("AppsV1Api", "list_daemon_set_for_all_namespaces", "apps/v1", "daemonsets")
JOBS = Listing("BatchV1Api", "list_job_for_all_namespaces", "batch/v1", "jobs")
CRON_JOBS = Listing("BatchV1Api", "list_cron_job_for_all_namespaces", "batch/v1", "cronjobs")
PODS = Listing("CoreV1Api", "list_pod_for_all_namespaces", "v1", "pods", "list_namespaced_pod")
# (listing, kind of its items, API group for provenance), in the order they are read.
CONTROLLERS = (
    (DEPLOYMENTS, "Deployment", "apps/v1"),
    (STATEFUL_SETS, "StatefulSet", "apps/v1"),
    (DAEMON_SETS, "DaemonSet", "apps/v1"),
    (JOBS, "Job", "batch/v1"),
    (CRON_JOBS, "CronJob", "batch/v1"),
    (PODS, "Pod", "core"),
)


def pod_spec(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    spec = obj["spec"]
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec["template"]["spec"]


def owner_kinds(obj: dict[str, Any]) -> set[str]:
    return {o.get("kind") for o in obj["metadata"].get("ownerReferences") or []}


def is_top_level(kind: str, obj: dict[str, Any]) -> bool:
    """Controllers are read themselves: a Job of a CronJob is the CronJob's, a pod with an owner is its owner's."""
    if kind == "Job":
        return "CronJob" not in owner_kinds(obj)
    if kind == "Pod":
        return not owner_kinds(obj)
    return True


def image_has_digest(image: str) -> bool:
    return "@" in image


def image_tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def latest_or_untagged(image: str) -> bool:
    return not image_has_digest(image) and image_tag(image) in (None, "latest")


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
            *(spec.get("ephemeralContainers") or [])]  # fmt: skip


def security_observed(spec: dict[str, Any]) -> dict[str, Any]:
    """The security-relevant facts of one pod spec; "every container" facts are false when one container lacks it."""
    pod = spec.get("securityContext") or {}
    found = containers(spec)
    contexts = [c.get("securityContext") or {} for c in found]

    def effective(ctx: dict[str, Any], key: str) -> Any:
        return ctx[key] if ctx.get(key) is not None else pod.get(key)

    seccomp = {(effective(ctx, "seccompProfile") or {}).get("type") or "Unset" for ctx in contexts}
    images = {c["image"] for c in found if c.get("image")}
    return {
        "privileged": any(ctx.get("privileged") is True for ctx in contexts),
        "host_network": spec.get("hostNetwork") is True,
        "host_pid": spec.get("hostPID") is True,
        "host_ipc": spec.get("hostIPC") is True,
        "host_path_volumes": sorted({v["hostPath"]["path"] for v in spec.get("volumes") or [] if v.get("hostPath")}),
        "run_as_non_root": bool(contexts) and all(effective(ctx, "runAsNonRoot") is True for ctx in contexts),
        "read_only_root_filesystem": bool(contexts) and all(ctx.get("readOnlyRootFilesystem") is True
                                                             for ctx in contexts),
        # The API default is true: only an explicit false turns escalation off.
        "allow_privilege_escalation": any(ctx.get("allowPrivilegeEscalation") is not False for ctx in contexts),
        "added_capabilities": sorted({c for ctx in contexts for c in (ctx.get("capabilities") or {}).get("add") or []}),
        "drops_all_capabilities": bool(contexts) and all("ALL" in ((ctx.get("capabilities") or {}).get("drop") or [])
                                                          for ctx in contexts),
        "seccomp_profiles": sorted(seccomp),
        "images": sorted(images),
        "images_latest_or_untagged": sorted(i for i in images if latest_or_untagged(i)),
        "images_not_pinned": sorted(i for i in images if not image_has_digest(i)),
        "service_account": spec.get("serviceAccountName") or spec.get("serviceAccount") or "default",
        "automount_token": spec.get("automountServiceAccountToken"),
    }  # fmt: skip


@evidence_kind(
    "k8s.apps.workload.security",
    regional=False,
    permissions=permissions(*(listing for listing, _, _ in CONTROLLERS)),
)
def collect_workload_security(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """Pod security settings and images of each workload controller (Deployment ... CronJob) and bare pod."""
    for listing, kind, group in CONTROLLERS:
        for obj, op in k8s.list(listing):
            if is_top_level(kind, obj):
                yield observe_workload_security(k8s.target.cluster, kind, obj, k8s.source(group, [op]))


def observe_workload_security(cluster: str, kind: str, obj: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    meta = obj["metadata"]
    return Evidence(
        kind="k8s.apps.workload.security",
        resource_id=resource_id(cluster, kind, meta["name"], meta["namespace"]),
        resource_type=kind,
        region=GLOBAL,
        observed=security_observed(pod_spec(kind, obj)),
        source=provenance,
        raw=clean_raw(obj),
    )
