"""GKE cluster checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

KIND = "gcp.container.cluster.security"
ANYWHERE = ("0.0.0.0/0", "::/0")
REQUIRED_LOGS = ("SYSTEM_COMPONENTS", "WORKLOADS")


@check("gcp.container.cluster.secrets_encryption_enabled", reads=KIND)
def cluster_secrets_encryption_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Kubernetes Secrets are encrypted in etcd with a Cloud KMS key (application-layer encryption)."""
    o = subject.observed
    if o["database_encryption_state"] == "ENCRYPTED":
        return Verdict.passed(f"secrets encrypted with {o['database_encryption_key']}")
    return Verdict.failed(f"application-layer secrets encryption {o['database_encryption_state']}")


@check("gcp.container.cluster.private_nodes_enabled", reads=KIND)
def cluster_private_nodes_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Nodes have internal IP addresses only."""
    if subject.observed["private_nodes"]:
        return Verdict.passed("private nodes")
    return Verdict.failed("nodes have public IP addresses")


@check("gcp.container.cluster.control_plane_access_restricted", reads=KIND)
def cluster_control_plane_access_restricted(subject: Subject, policy: Policy) -> Verdict:
    """The control plane is private, or reachable only from authorized networks that exclude the internet."""
    o = subject.observed
    if o["private_endpoint"]:
        return Verdict.passed("control plane on its private endpoint only")
    if not o["master_authorized_networks_enabled"]:
        return Verdict.failed("public control plane endpoint open to any address (no authorized networks)")
    open_to = [c for c in o["master_authorized_networks"] if c in ANYWHERE]
    if open_to:
        return Verdict.failed(f"authorized networks include {', '.join(open_to)}")
    return Verdict.passed(f"public endpoint limited to {', '.join(o['master_authorized_networks']) or 'no network'}")


@check("gcp.container.cluster.workload_identity_enabled", reads=KIND)
def cluster_workload_identity_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Workload Identity is on, so pods do not use the node's service account credentials."""
    pool = subject.observed["workload_identity_pool"]
    if pool:
        return Verdict.passed(f"Workload Identity pool {pool}")
    return Verdict.failed("Workload Identity off: pods can use the node service account")


@check("gcp.container.cluster.logging_enabled", reads=KIND)
def cluster_logging_enabled(subject: Subject, policy: Policy) -> Verdict:
    """System component and workload logs go to Cloud Logging."""
    missing = [c for c in REQUIRED_LOGS if c not in subject.observed["logging_components"]]
    if missing:
        return Verdict.failed(f"Cloud Logging missing {', '.join(missing)}")
    return Verdict.passed(f"logging {', '.join(subject.observed['logging_components'])}")
