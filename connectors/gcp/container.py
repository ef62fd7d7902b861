"""GKE clusters: secrets encryption at rest, private control plane and nodes, authorized networks, logging, identity."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import CollectionError, Evidence, GapReason, evidence_kind, redact
from connectors.gcp.clients import GcpClients, message_dict, operation, source

SERVICE = "container.googleapis.com"
CLUSTER_TYPE = "container.googleapis.com/Cluster"
# Legacy client certificates: GKE returns the private key with the cluster. Never kept.
KEY_MATERIAL = frozenset({"client_key", "password"})


@evidence_kind("gcp.container.cluster.security", regional=False, permissions=("container.clusters.list",))
def collect_cluster_security(gcp: GcpClients, project_id: str) -> Iterator[Evidence]:
    """Database (etcd) encryption, private endpoint and nodes, authorized networks, logging, Workload Identity."""
    parent = f"projects/{project_id}/locations/-"
    response = gcp.container().list_clusters(parent=parent, **gcp.call_options())
    if response.missing_zones:  # the answer is partial: some locations did not answer
        raise CollectionError(GapReason.TIMEOUT, f"GKE did not answer for zones {sorted(response.missing_zones)}",
                              operation="container.projects.locations.clusters.list")  # fmt: skip
    ops = [operation("container.projects.locations.clusters.list", {"parent": parent})]
    provenance = source(gcp, SERVICE, f"projects/{project_id}", ops)
    for cluster in sorted(response.clusters, key=lambda c: (c.location, c.name)):
        yield observe_cluster_security(project_id, message_dict(cluster), provenance)


def observe_cluster_security(project_id: str, cluster: dict[str, Any], provenance: dict[str, Any]) -> Evidence:
    encryption = cluster.get("database_encryption") or {}
    private = cluster.get("private_cluster_config") or {}
    network = cluster.get("network_config") or {}
    endpoints = (cluster.get("control_plane_endpoints_config") or {}).get("ip_endpoints_config") or {}
    authorized = cluster.get("master_authorized_networks_config") or {}
    logging = ((cluster.get("logging_config") or {}).get("component_config") or {}).get("enable_components", [])
    location = cluster["location"].lower()
    return Evidence(
        kind="gcp.container.cluster.security",
        resource_id=f"//{SERVICE}/projects/{project_id}/locations/{cluster['location']}/clusters/{cluster['name']}",
        resource_type=CLUSTER_TYPE,
        region=location,
        observed={
            "location": location,
            "database_encryption_state": encryption.get("state") or "UNKNOWN",
            "database_encryption_key": encryption.get("key_name") or None,
            "private_nodes": bool(private.get("enable_private_nodes") or network.get("default_enable_private_nodes")),
            "private_endpoint": bool(
                private.get("enable_private_endpoint") or endpoints.get("enable_public_endpoint") is False
            ),
            "master_authorized_networks_enabled": bool(authorized.get("enabled", False)),
            "master_authorized_networks": sorted({b["cidr_block"] for b in authorized.get("cidr_blocks", [])}),
            "logging_components": sorted(set(logging)),
            "workload_identity_pool": (cluster.get("workload_identity_config") or {}).get("workload_pool") or None,
        },
        source=provenance,
        raw=redact({"cluster": cluster}, KEY_MATERIAL),
    )
