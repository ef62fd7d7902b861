"""EKS cluster settings: API endpoint exposure, envelope encryption of secrets, control-plane logging."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, list_all, operation
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

CLUSTER_TYPE = "AWS::EKS::Cluster"
PERMISSIONS = ("eks:ListClusters", "eks:DescribeCluster")
# What every EKS record keeps of the cluster besides its own section (not the CA bundle nor the endpoint URL).
CLUSTER_SUMMARY = ("name", "arn", "version", "platformVersion", "status")


def describe_clusters(aws: AwsClients, region: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every cluster of the region as DescribeCluster gives it, with the provenance of listing and describing it.

    Read once per run and region, shared by the EKS kinds."""

    def compute() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        eks = aws.client("eks", region)
        names, list_op = list_all(eks, "list_clusters", "clusters")

        def describe(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            params = {"name": name}
            resp = eks.describe_cluster(**params)
            return resp["cluster"], [list_op, operation("DescribeCluster", params, resp)]

        return aws.fan_out(describe, names)

    return aws.memo(f"eks:clusters:{region}", compute)


def each_cluster(aws: AwsClients, region: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for cluster, operations in describe_clusters(aws, region):
        yield cluster, source(aws, "eks", operations)


def cluster_raw(cluster: dict, section: str) -> dict[str, Any]:
    keep = {k: cluster[k] for k in (*CLUSTER_SUMMARY, section) if k in cluster}
    return redact(to_jsonable(keep))


@evidence_kind("aws.eks.cluster.endpoint_access", regional=True, permissions=PERMISSIONS)
def collect_endpoint_access(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Whether each EKS cluster's API server endpoint is reachable publicly, privately, and from which CIDRs."""
    for cluster, provenance in each_cluster(aws, scope):
        yield observe_endpoint_access(scope, cluster, provenance)


def observe_endpoint_access(region: str, cluster: dict, provenance: dict) -> Evidence:
    vpc = cluster["resourcesVpcConfig"]
    cidrs = vpc.get("publicAccessCidrs")
    return Evidence(
        kind="aws.eks.cluster.endpoint_access",
        resource_id=cluster["arn"],
        resource_type=CLUSTER_TYPE,
        region=region,
        observed={
            "endpoint_public_access": vpc.get("endpointPublicAccess"),
            "endpoint_private_access": vpc.get("endpointPrivateAccess"),
            "public_access_cidrs": sorted(cidrs) if cidrs is not None else None,
        },
        source=provenance,
        raw=cluster_raw(cluster, "resourcesVpcConfig"),
    )


@evidence_kind("aws.eks.cluster.secrets_encryption", regional=True, permissions=PERMISSIONS)
def collect_secrets_encryption(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Whether each EKS cluster envelope-encrypts Kubernetes secrets with a KMS key."""
    for cluster, provenance in each_cluster(aws, scope):
        yield observe_secrets_encryption(scope, cluster, provenance)


def observe_secrets_encryption(region: str, cluster: dict, provenance: dict) -> Evidence:
    configs = [c for c in cluster.get("encryptionConfig", []) if "secrets" in c.get("resources", [])]
    key_arns = sorted({c["provider"]["keyArn"] for c in configs if c.get("provider", {}).get("keyArn")})
    return Evidence(
        kind="aws.eks.cluster.secrets_encryption",
        resource_id=cluster["arn"],
        resource_type=CLUSTER_TYPE,
        region=region,
        observed={
            "secrets_encrypted": bool(key_arns),
            "kms_key_arn": key_arns[0] if key_arns else None,
        },
        source=provenance,
        raw=cluster_raw(cluster, "encryptionConfig"),
    )


@evidence_kind("aws.eks.cluster.logging", regional=True, permissions=PERMISSIONS)
def collect_logging(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Which EKS control-plane log types (api, audit, authenticator, ...) each cluster sends to CloudWatch Logs."""
    for cluster, provenance in each_cluster(aws, scope):
        yield observe_logging(scope, cluster, provenance)


def observe_logging(region: str, cluster: dict, provenance: dict) -> Evidence:
    setups = cluster.get("logging", {}).get("clusterLogging", [])
    return Evidence(
        kind="aws.eks.cluster.logging",
        resource_id=cluster["arn"],
        resource_type=CLUSTER_TYPE,
        region=region,
        observed={
            "enabled_log_types": sorted({t for s in setups if s.get("enabled") for t in s.get("types", [])}),
        },
        source=provenance,
        raw=cluster_raw(cluster, "logging"),
    )
