"""RDS DB instance and DB cluster checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controls.base import Policy, Subject, Verdict, check

Observed = Mapping[str, Any]


def _storage_encrypted(o: Observed) -> Verdict:
    if not o["storage_encrypted"]:
        return Verdict.failed(f"{o['engine']} storage not encrypted")
    return Verdict.passed(f"storage encrypted with KMS key {o['kms_key_id']}")


def _backup_retention(o: Observed, policy: Policy) -> Verdict:
    days, minimum = o["backup_retention_days"], policy.min_backup_retention_days
    if days == 0:
        return Verdict.failed("automated backups off (retention 0 days)")
    kept = f"automated backups kept {days} day{'' if days == 1 else 's'} (min {minimum})"
    return Verdict.failed(kept) if days < minimum else Verdict.passed(kept)


def _deletion_protection(o: Observed) -> Verdict:
    if o["deletion_protection"]:
        return Verdict.passed("deletion protection on")
    return Verdict.failed("deletion protection off")


def _cluster_member(o: Observed) -> Verdict | None:
    if o["db_cluster_id"]:
        return Verdict.not_applicable(f"member of DB cluster {o['db_cluster_id']}, which manages this setting")
    return None


@check("aws.rds.db_instance.storage_encrypted", reads="aws.rds.db_instance.encryption")
def instance_storage_encrypted(subject: Subject, policy: Policy) -> Verdict:
    """Every DB instance encrypts its storage, backups and snapshots."""
    return _storage_encrypted(subject.observed)


@check("aws.rds.db_instance.public_access_disabled", reads="aws.rds.db_instance.public_access")
def instance_public_access_disabled(subject: Subject, policy: Policy) -> Verdict:
    """No DB instance is publicly accessible."""
    o = subject.observed
    if o["publicly_accessible"] is None:
        return Verdict.not_applicable("the API did not report PubliclyAccessible for this instance")
    if o["publicly_accessible"]:
        where = f"subnet group {o['db_subnet_group']}" if o["db_subnet_group"] else "no subnet group"
        return Verdict.failed(f"publicly accessible ({where})")
    return Verdict.passed("not publicly accessible")


@check("aws.rds.db_instance.backup_retention_sufficient", reads="aws.rds.db_instance.backup")
def instance_backup_retention_sufficient(subject: Subject, policy: Policy) -> Verdict:
    """Every standalone DB instance keeps automated backups at least min_backup_retention_days."""
    return _cluster_member(subject.observed) or _backup_retention(subject.observed, policy)


@check("aws.rds.db_instance.deletion_protection_enabled", reads="aws.rds.db_instance.backup")
def instance_deletion_protection_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every standalone DB instance has deletion protection on."""
    o = subject.observed
    if na := _cluster_member(o):
        return na
    return _deletion_protection(o)


@check("aws.rds.db_instance.multi_az_enabled", reads="aws.rds.db_instance.backup")
def instance_multi_az_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every standalone DB instance has a standby in a second Availability Zone."""
    o = subject.observed
    if na := _cluster_member(o):
        return na
    return Verdict.passed("Multi-AZ standby") if o["multi_az"] else Verdict.failed("single-AZ: no standby")


@check("aws.rds.db_cluster.storage_encrypted", reads="aws.rds.db_cluster.encryption")
def cluster_storage_encrypted(subject: Subject, policy: Policy) -> Verdict:
    """Every DB cluster encrypts its storage, backups and snapshots."""
    return _storage_encrypted(subject.observed)


@check("aws.rds.db_cluster.backup_retention_sufficient", reads="aws.rds.db_cluster.backup")
def cluster_backup_retention_sufficient(subject: Subject, policy: Policy) -> Verdict:
    """Every DB cluster keeps automated backups at least min_backup_retention_days."""
    return _backup_retention(subject.observed, policy)


@check("aws.rds.db_cluster.deletion_protection_enabled", reads="aws.rds.db_cluster.backup")
def cluster_deletion_protection_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every DB cluster has deletion protection on."""
    return _deletion_protection(subject.observed)


@check("aws.rds.db_cluster.multi_az_enabled", reads="aws.rds.db_cluster.backup")
def cluster_multi_az_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every DB cluster has instances in more than one Availability Zone."""
    on = subject.observed["multi_az"]
    return Verdict.passed("instances in several AZs") if on else Verdict.failed("all instances in one AZ")
