"""AWS Backup: vaults (encryption, Vault Lock) and backup plans (rules, retention, copies, assignments)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.exceptions

from connectors.aws.clients import AwsClients, error_code, get_or_absent, list_all, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

VAULT_TYPE = "AWS::Backup::BackupVault"
PLAN_TYPE = "AWS::Backup::BackupPlan"
GONE = "ResourceNotFoundException"  # a plan deleted between the listing and the per-plan call
# Change with every backup job or run: kept out of observed (they would open a new state each run)
# and out of raw (where they would be stale beside a state seen for months).
VOLATILE_VAULT_FIELDS = ("NumberOfRecoveryPoints",)
VOLATILE_PLAN_FIELDS = ("LastExecutionDate",)


def _without(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in fields}


@evidence_kind("aws.backup.vault.configuration", regional=True, permissions=("backup:ListBackupVaults",))
def collect_vault_configuration(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Every backup vault of the region: its encryption key, whether it holds recovery points, Vault Lock."""
    vaults, list_op = list_all(aws.client("backup", scope), "list_backup_vaults", "BackupVaultList")
    provenance = source(aws, "backup", [list_op])
    for vault in vaults:
        yield observe_vault_configuration(to_jsonable(vault), scope, provenance)


def observe_vault_configuration(vault: dict[str, Any], region: str, provenance: dict[str, Any]) -> Evidence:
    """`vault`: one entry of ListBackupVaults, which carries the Vault Lock settings too."""
    return Evidence(
        kind="aws.backup.vault.configuration",
        resource_id=vault["BackupVaultArn"],
        resource_type=VAULT_TYPE,
        region=region,
        observed={
            "vault_name": vault["BackupVaultName"],
            "vault_type": vault.get("VaultType", "BACKUP_VAULT"),
            "encryption_key_arn": vault.get("EncryptionKeyArn"),
            "has_recovery_points": vault.get("NumberOfRecoveryPoints", 0) > 0,
            "locked": bool(vault.get("Locked", False)),
            "min_retention_days": vault.get("MinRetentionDays"),
            "max_retention_days": vault.get("MaxRetentionDays"),
            "lock_date": vault.get("LockDate"),
        },
        source=provenance,
        raw=redact(_without(vault, VOLATILE_VAULT_FIELDS)),
    )


def region_of_arn(arn: str) -> str | None:
    """The region field of an ARN (`arn:aws:backup:eu-central-1:...`), None when it has none."""
    parts = arn.split(":")
    return (parts[3] or None) if len(parts) > 3 else None


@evidence_kind(
    "aws.backup.plan.rules",
    regional=True,
    permissions=("backup:ListBackupPlans", "backup:GetBackupPlan", "backup:ListBackupSelections"),
)
def collect_plan_rules(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Every backup plan of the region: each rule's schedule, retention and copies, and its resource assignments."""
    backup = aws.client("backup", scope)
    plans, list_op = list_all(backup, "list_backup_plans", "BackupPlansList")

    def ask(entry: dict[str, Any]) -> tuple[dict | None, list[dict], list[dict[str, Any]]]:
        """A plan deleted since the listing answers not found, or with its DeletionDate: it yields nothing."""
        params = {"BackupPlanId": entry["BackupPlanId"]}
        plan, get_op = get_or_absent(backup.get_backup_plan, GONE, params)
        if plan is None or plan.get("DeletionDate") is not None:
            return None, [], []
        try:
            selections, sel_op = list_all(backup, "list_backup_selections", "BackupSelectionsList", **params)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != GONE:
                raise
            return None, [], []
        return plan, selections, [list_op, get_op, sel_op]

    for plan, selections, ops in aws.fan_out(ask, plans):
        if plan is not None:
            yield observe_plan_rules(to_jsonable(strip_metadata(plan)), to_jsonable(selections), scope,
                                     source(aws, "backup", ops))  # fmt: skip


def _rule(rule: dict[str, Any]) -> dict[str, Any]:
    lifecycle = rule.get("Lifecycle") or {}
    return {
        "rule_name": rule["RuleName"],
        "target_vault": rule["TargetBackupVaultName"],
        "schedule": rule.get("ScheduleExpression"),
        "continuous_backup": bool(rule.get("EnableContinuousBackup", False)),
        "delete_after_days": lifecycle.get("DeleteAfterDays"),
        "move_to_cold_storage_after_days": lifecycle.get("MoveToColdStorageAfterDays"),
        "copy_actions": sorted(
            (
                {
                    "destination_vault_arn": copy["DestinationBackupVaultArn"],
                    "destination_region": region_of_arn(copy["DestinationBackupVaultArn"]),
                    "delete_after_days": (copy.get("Lifecycle") or {}).get("DeleteAfterDays"),
                }
                for copy in rule.get("CopyActions", [])
            ),
            key=lambda c: c["destination_vault_arn"],
        ),
    }


def observe_plan_rules(
    plan: dict[str, Any], selections: list[dict[str, Any]], region: str, provenance: dict[str, Any]
) -> Evidence:
    """`plan`: the GetBackupPlan answer; `selections`: the plan's ListBackupSelections entries."""
    document = plan["BackupPlan"]
    return Evidence(
        kind="aws.backup.plan.rules",
        resource_id=plan["BackupPlanArn"],
        resource_type=PLAN_TYPE,
        region=region,
        observed={
            "plan_name": document["BackupPlanName"],
            "rules": sorted((_rule(r) for r in document["Rules"]), key=lambda r: r["rule_name"]),
            "selection_count": len(selections),
        },
        source=provenance,
        raw=redact({"plan": _without(plan, VOLATILE_PLAN_FIELDS), "selections": selections}),
    )
