"""RDS DB instances and DB clusters: storage encryption, network exposure, backups, tags.

One DescribeDBInstances and one DescribeDBClusters listing per region and run, shared by the kinds
of each resource: every fact these kinds observe is in the listing, so no per-resource calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, list_all, strip_metadata
from connectors.aws.provenance import source
from connectors.aws.tags import redact_tags, tag_map
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

INSTANCE_TYPE = "AWS::RDS::DBInstance"
CLUSTER_TYPE = "AWS::RDS::DBCluster"


def list_db_instances(aws: AwsClients, region: str) -> tuple[list[dict], dict[str, Any]]:
    """Every DB instance of the region and the provenance of the listing; read once per run per region."""
    return aws.memo(
        f"rds:db_instances:{region}",
        lambda: list_all(aws.client("rds", region), "describe_db_instances", "DBInstances"),
    )


def list_db_clusters(aws: AwsClients, region: str) -> tuple[list[dict], dict[str, Any]]:
    """Every DB cluster of the region (Aurora, Multi-AZ DB clusters) and the provenance of the listing."""
    return aws.memo(
        f"rds:db_clusters:{region}", lambda: list_all(aws.client("rds", region), "describe_db_clusters", "DBClusters")
    )


def _raw(resource: dict[str, Any]) -> dict[str, Any]:
    """The listing entry, with secret fields and the values of secret-looking tags (`TagList`) redacted."""
    return redact(redact_tags(to_jsonable(strip_metadata(resource))))


def _kms_key(resource: dict[str, Any]) -> str | None:
    """The storage key of encrypted storage; a key id reported for unencrypted storage means nothing."""
    return resource.get("KmsKeyId") if resource["StorageEncrypted"] else None


# --------------------------------------------------------------------------- DB instances


def _instances(aws: AwsClients, region: str) -> Iterator[tuple[dict, dict]]:
    instances, list_op = list_db_instances(aws, region)
    provenance = source(aws, "rds", [list_op])
    for instance in instances:
        yield instance, provenance


@evidence_kind("aws.rds.db_instance.encryption", regional=True, permissions=("rds:DescribeDBInstances",))
def collect_db_instance_encryption(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Storage encryption at rest of every RDS DB instance."""
    for instance, provenance in _instances(aws, scope):
        yield observe_db_instance_encryption(instance, scope, provenance)


def observe_db_instance_encryption(instance: dict, region: str, provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.rds.db_instance.encryption",
        resource_id=instance["DBInstanceArn"],
        resource_type=INSTANCE_TYPE,
        region=region,
        observed={
            "storage_encrypted": bool(instance["StorageEncrypted"]),
            "kms_key_id": _kms_key(instance),
            "engine": instance["Engine"],
        },
        source=provenance,
        raw=_raw(instance),
    )


@evidence_kind("aws.rds.db_instance.public_access", regional=True, permissions=("rds:DescribeDBInstances",))
def collect_db_instance_public_access(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Whether every RDS DB instance is reachable from the internet, and the network it lives in."""
    for instance, provenance in _instances(aws, scope):
        yield observe_db_instance_public_access(instance, scope, provenance)


def observe_db_instance_public_access(instance: dict, region: str, provenance: dict) -> Evidence:
    subnet_group = instance.get("DBSubnetGroup") or {}
    return Evidence(
        kind="aws.rds.db_instance.public_access",
        resource_id=instance["DBInstanceArn"],
        resource_type=INSTANCE_TYPE,
        region=region,
        observed={
            "publicly_accessible": instance.get("PubliclyAccessible"),
            "db_subnet_group": subnet_group.get("DBSubnetGroupName"),
            "vpc_id": subnet_group.get("VpcId"),
            "iam_auth_enabled": bool(instance.get("IAMDatabaseAuthenticationEnabled", False)),
        },
        source=provenance,
        raw=_raw(instance),
    )


@evidence_kind("aws.rds.db_instance.backup", regional=True, permissions=("rds:DescribeDBInstances",))
def collect_db_instance_backup(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Automated backups, Multi-AZ and deletion protection of every RDS DB instance."""
    for instance, provenance in _instances(aws, scope):
        yield observe_db_instance_backup(instance, scope, provenance)


def observe_db_instance_backup(instance: dict, region: str, provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.rds.db_instance.backup",
        resource_id=instance["DBInstanceArn"],
        resource_type=INSTANCE_TYPE,
        region=region,
        observed={
            "backup_retention_days": instance["BackupRetentionPeriod"],
            "multi_az": bool(instance["MultiAZ"]),
            "deletion_protection": bool(instance.get("DeletionProtection", False)),
            "db_cluster_id": instance.get("DBClusterIdentifier"),
        },
        source=provenance,
        raw=_raw(instance),
    )


@evidence_kind("aws.rds.db_instance.tags", regional=True, permissions=("rds:DescribeDBInstances",))
def collect_db_instance_tags(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The tags (labels) of every RDS DB instance, such as its owner and data classification."""
    for instance, provenance in _instances(aws, scope):
        yield observe_db_instance_tags(instance, scope, provenance)


def observe_db_instance_tags(instance: dict, region: str, provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.rds.db_instance.tags",
        resource_id=instance["DBInstanceArn"],
        resource_type=INSTANCE_TYPE,
        region=region,
        observed={"tags": tag_map(instance.get("TagList"))},
        source=provenance,
        raw=_raw(instance),
    )


# --------------------------------------------------------------------------- DB clusters


def _clusters(aws: AwsClients, region: str) -> Iterator[tuple[dict, dict]]:
    clusters, list_op = list_db_clusters(aws, region)
    provenance = source(aws, "rds", [list_op])
    for cluster in clusters:
        yield cluster, provenance


@evidence_kind("aws.rds.db_cluster.encryption", regional=True, permissions=("rds:DescribeDBClusters",))
def collect_db_cluster_encryption(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Storage encryption at rest of every RDS DB cluster (Aurora and Multi-AZ DB clusters)."""
    for cluster, provenance in _clusters(aws, scope):
        yield observe_db_cluster_encryption(cluster, scope, provenance)


def observe_db_cluster_encryption(cluster: dict, region: str, provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.rds.db_cluster.encryption",
        resource_id=cluster["DBClusterArn"],
        resource_type=CLUSTER_TYPE,
        region=region,
        observed={
            "storage_encrypted": bool(cluster["StorageEncrypted"]),
            "kms_key_id": _kms_key(cluster),
            "engine": cluster["Engine"],
        },
        source=provenance,
        raw=_raw(cluster),
    )


@evidence_kind("aws.rds.db_cluster.backup", regional=True, permissions=("rds:DescribeDBClusters",))
def collect_db_cluster_backup(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Automated backups, Multi-AZ and deletion protection of every RDS DB cluster."""
    for cluster, provenance in _clusters(aws, scope):
        yield observe_db_cluster_backup(cluster, scope, provenance)


def observe_db_cluster_backup(cluster: dict, region: str, provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.rds.db_cluster.backup",
        resource_id=cluster["DBClusterArn"],
        resource_type=CLUSTER_TYPE,
        region=region,
        observed={
            "backup_retention_days": cluster["BackupRetentionPeriod"],
            "multi_az": bool(cluster["MultiAZ"]),
            "deletion_protection": bool(cluster.get("DeletionProtection", False)),
        },
        source=provenance,
        raw=_raw(cluster),
    )


@evidence_kind("aws.rds.db_cluster.tags", regional=True, permissions=("rds:DescribeDBClusters",))
def collect_db_cluster_tags(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The tags (labels) of every RDS DB cluster, such as its owner and data classification."""
    for cluster, provenance in _clusters(aws, scope):
        yield observe_db_cluster_tags(cluster, scope, provenance)


def observe_db_cluster_tags(cluster: dict, region: str, provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.rds.db_cluster.tags",
        resource_id=cluster["DBClusterArn"],
        resource_type=CLUSTER_TYPE,
        region=region,
        observed={"tags": tag_map(cluster.get("TagList"))},
        source=provenance,
        raw=_raw(cluster),
    )
