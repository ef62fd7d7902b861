"""Core API objects: nodes and persistent volumes (where they are), namespaces (pod security
admission labels) and service accounts (token mounting, cloud identity)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind
from connectors.kubernetes.clients import K8sClients, Listing, permissions
from connectors.kubernetes.objects import BUILTIN_NAMESPACES, annotations, clean_raw, labels, resource_id

NODES = Listing("CoreV1Api", "list_node", "v1", "nodes")
PERSISTENT_VOLUMES = Listing("CoreV1Api", "list_persistent_volume", "v1", "persistentvolumes")
STORAGE_CLASSES = Listing("StorageV1Api", "list_storage_class", "storage.k8s.io/v1", "storageclasses")
NAMESPACES = Listing("CoreV1Api", "list_namespace", "v1", "namespaces")
SERVICE_ACCOUNTS = Listing(
    "CoreV1Api", "list_service_account_for_all_namespaces", "v1", "serviceaccounts", "list_namespaced_service_account"
)

REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")
INSTANCE_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")


def first_label(obj: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    found = labels(obj)
    return next((found[k] for k in keys if found.get(k)), None)


# --------------------------------------------------------------------------- nodes


@evidence_kind("k8s.core.node.topology", regional=False, permissions=permissions(NODES))
def collect_node_topology(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """Where each node runs (region and zone labels) and what it runs (kubelet, OS image, container runtime)."""
    for node, op in k8s.list(NODES):
        yield observe_node_topology(k8s.target.cluster, node, k8s.source("core", [op]))


def observe_node_topology(cluster: str, node: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    info = (node.get("status") or {}).get("nodeInfo") or {}
    region = first_label(node, REGION_LABELS)
    raw = clean_raw(node, keep_status=("nodeInfo", "addresses", "capacity"))
    if "nodeInfo" in raw.get("status", {}):  # bootID changes at every reboot
        raw["status"]["nodeInfo"] = {k: v for k, v in raw["status"]["nodeInfo"].items() if k != "bootID"}
    return Evidence(
        kind="k8s.core.node.topology",
        resource_id=resource_id(cluster, "Node", node["metadata"]["name"]),
        resource_type="Node",
        region=region or GLOBAL,
        observed={
            "region": region,
            "zone": first_label(node, ZONE_LABELS),
            "instance_type": first_label(node, INSTANCE_TYPE_LABELS),
            "kubelet_version": info.get("kubeletVersion"),
            "container_runtime": info.get("containerRuntimeVersion"),
            "os_image": info.get("osImage"),
            "kernel_version": info.get("kernelVersion"),
            "architecture": info.get("architecture"),
        },
        source=provenance,
        raw=raw,
    )


# --------------------------------------------------------------------------- persistent volumes

# A zone names its region: eu-central-1a (AWS), europe-west3-a (GCP), westeurope-1 (Azure).
ZONE_REGION = (
    re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$"),
    re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$"),
    re.compile(r"^([a-z]+)-\d$"),
)
KMS_KEY_PARAMETERS = ("kmsKeyId", "disk-encryption-kms-key", "diskEncryptionSetID", "kmsKeyARN")


def region_of_zone(zone: str) -> str | None:
    for pattern in ZONE_REGION:
        match = pattern.match(zone)
        if match:
            return match.group(1)
    return None


def affinity_values(pv: dict[str, Any], suffix: str) -> set[str]:
    """Values a PV's required node affinity allows for topology keys ending in `suffix` (`/zone`, `/region`)."""
    terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
    values: set[str] = set()
    for term in terms:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key", "").endswith(suffix) and expr.get("operator") == "In":
                values.update(expr.get("values") or [])
    return values


def volume_source(spec: dict[str, Any]) -> str | None:
    skip = {"accessModes", "capacity", "claimRef", "mountOptions", "nodeAffinity", "persistentVolumeReclaimPolicy",
            "storageClassName", "volumeMode", "volumeAttributesClassName"}  # fmt: skip
    sources = sorted(k for k, v in spec.items() if k not in skip and isinstance(v, dict))
    return sources[0] if sources else None


def encryption(parameters: dict[str, str]) -> tuple[bool | None, str | None]:
    key = next((parameters[k] for k in KMS_KEY_PARAMETERS if parameters.get(k)), None)
    flag = str(parameters.get("encrypted", "")).lower()
    if key or flag == "true":
        return True, key
    return (False if flag == "false" else None), None


def list_storage_classes(k8s: K8sClients) -> tuple[dict[str, dict[str, Any]], dict[str, Any] | None]:
    """Every storage class by name (a handful per cluster), with the provenance of the listing."""
    classes, operation = {}, None
    for storage_class, page in k8s.list(STORAGE_CLASSES):
        classes[storage_class["metadata"]["name"]] = storage_class
        operation = page
    return classes, operation


@evidence_kind("k8s.core.persistent_volume.topology", regional=False,
               permissions=permissions(PERSISTENT_VOLUMES, STORAGE_CLASSES))  # fmt: skip
def collect_persistent_volume_topology(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """Where each persistent volume lives (zone and region from its node affinity) and how it is encrypted."""
    classes, classes_op = list_storage_classes(k8s)
    for pv, op in k8s.list(PERSISTENT_VOLUMES):
        storage_class = classes.get((pv.get("spec") or {}).get("storageClassName") or "")
        operations = [op, classes_op] if classes_op else [op]
        yield observe_persistent_volume_topology(k8s.target.cluster, pv, storage_class, k8s.source("core", operations))


def observe_persistent_volume_topology(
    cluster: str, pv: dict[str, Any], storage_class: dict[str, Any] | None, provenance: dict[str, Any]
) -> Evidence:
    spec = pv.get("spec") or {}
    zones = affinity_values(pv, "/zone")
    regions = affinity_values(pv, "/region") or {r for r in map(region_of_zone, zones) if r}
    csi = spec.get("csi") or {}
    parameters = {**(storage_class or {}).get("parameters", {}), **(csi.get("volumeAttributes") or {})}
    encrypted, kms_key = encryption(parameters)
    raw_pv = clean_raw(pv)
    if raw_pv.get("spec", {}).get("claimRef"):  # the claim's resourceVersion at binding time: volatile
        raw_pv["spec"]["claimRef"] = {k: v for k, v in raw_pv["spec"]["claimRef"].items() if k != "resourceVersion"}
    return Evidence(
        kind="k8s.core.persistent_volume.topology",
        resource_id=resource_id(cluster, "PersistentVolume", pv["metadata"]["name"]),
        resource_type="PersistentVolume",
        region=next(iter(regions)) if len(regions) == 1 else GLOBAL,
        observed={
            "storage_class": spec.get("storageClassName") or None,
            "volume_source": volume_source(spec),
            "csi_driver": csi.get("driver"),
            "regions": sorted(regions),
            "zones": sorted(zones),
            "encrypted": encrypted,
            "kms_key": kms_key,
            "reclaim_policy": spec.get("persistentVolumeReclaimPolicy"),
        },
        source=provenance,
        raw={
            "persistent_volume": raw_pv,
            "storage_class": clean_raw(storage_class) if storage_class else None,
        },
    )


# --------------------------------------------------------------------------- namespaces

POD_SECURITY = "pod-security.kubernetes.io/"
POD_SECURITY_MODES = ("enforce", "audit", "warn")


@evidence_kind("k8s.core.namespace.pod_security", regional=False, permissions=permissions(NAMESPACES))
def collect_namespace_pod_security(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """The Pod Security Admission levels (enforce, audit, warn) and versions each namespace is labelled with."""
    for namespace, op in k8s.list(NAMESPACES):
        yield observe_namespace_pod_security(k8s.target.cluster, namespace, k8s.source("core", [op]))


def observe_namespace_pod_security(cluster: str, namespace: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    name = namespace["metadata"]["name"]
    found = labels(namespace)
    observed: dict[str, Any] = {}
    for mode in POD_SECURITY_MODES:
        observed[mode] = found.get(f"{POD_SECURITY}{mode}")
        observed[f"{mode}_version"] = found.get(f"{POD_SECURITY}{mode}-version")
    observed["builtin"] = name in BUILTIN_NAMESPACES
    return Evidence(
        kind="k8s.core.namespace.pod_security",
        resource_id=resource_id(cluster, "Namespace", name),
        resource_type="Namespace",
        region=GLOBAL,
        observed=observed,
        source=provenance,
        raw=clean_raw(namespace),
    )


# --------------------------------------------------------------------------- service accounts

AWS_ROLE = "eks.amazonaws.com/role-arn"
GCP_SERVICE_ACCOUNT = "iam.gke.io/gcp-service-account"
AZURE_CLIENT_ID = "azure.workload.identity/client-id"


@evidence_kind("k8s.core.service_account.token", regional=False, permissions=permissions(SERVICE_ACCOUNTS))
def collect_service_account_token(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """Whether each service account's token is mounted into pods, and which cloud identity it is bound to."""
    for account, op in k8s.list(SERVICE_ACCOUNTS):
        yield observe_service_account_token(k8s.target.cluster, account, k8s.source("core", [op]))


def observe_service_account_token(cluster: str, account: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    meta = account["metadata"]
    notes = annotations(account)
    return Evidence(
        kind="k8s.core.service_account.token",
        resource_id=resource_id(cluster, "ServiceAccount", meta["name"], meta["namespace"]),
        resource_type="ServiceAccount",
        region=GLOBAL,
        observed={
            "automount_token": account.get("automountServiceAccountToken"),
            "default_account": meta["name"] == "default",
            "aws_role_arn": notes.get(AWS_ROLE),
            "gcp_service_account": notes.get(GCP_SERVICE_ACCOUNT),
            "azure_client_id": notes.get(AZURE_CLIENT_ID),
            "secret_references": len(account.get("secrets") or []),
        },
        source=provenance,
        raw=clean_raw(account),
    )
