"""AWS Backup: vaults (encryption, Vault Lock), backup plans (rules, retention, copies, assignments) and
restore testing plans (which recovery points are test-restored, and when)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import botocore.exceptions

from connectors.aws.arns import ACCOUNT_TYPE, account_setting_arn
from connectors.aws.clients import AwsClients, error_code, get_or_absent, list_all, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

VAULT_TYPE = "AWS::Backup::BackupVault"
PLAN_TYPE = "AWS::Backup::BackupPlan"
GONE = "ResourceNotFoundException"  # a plan (or selection) deleted between the listing and the per-item call
# Change with every backup job or run: kept out of observed (they would open a new state each run)
# and out of raw (where they would be stale beside a state seen for months).
VOLATILE_VAULT_FIELDS = ("NumberOfRecoveryPoints",)
VOLATILE_PLAN_FIELDS = ("LastExecutionDate",)
# A restore testing plan's last run. (LastUpdateTime moves only when the plan itself is changed: kept in raw.)
VOLATILE_RESTORE_TESTING_FIELDS = ("LastExecutionTime",)
# The model marks a selection's restore metadata overrides sensitive: raw keeps the key, never the values.
SENSITIVE_RESTORE_TESTING_KEYS = frozenset({"RestoreMetadataOverrides"})


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


@evidence_kind(
    "aws.backup.restore_testing.plans",
    regional=True,
    permissions=(
        "backup:ListRestoreTestingPlans",
        "backup:GetRestoreTestingPlan",
        "backup:ListRestoreTestingSelections",
        "backup:GetRestoreTestingSelection",
    ),
)
def collect_restore_testing_plans(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Whether the region's recovery points are test-restored: its restore testing plans, schedules and selections."""
    backup = aws.client("backup", scope)
    listed, list_op = list_all(backup, "list_restore_testing_plans", "RestoreTestingPlans")

    def ask(entry: dict[str, Any]) -> tuple[dict | None, list[dict], list[dict[str, Any]]]:
        """A plan deleted since the listing answers not found and yields nothing; so does a deleted selection."""
        params = {"RestoreTestingPlanName": entry["RestoreTestingPlanName"]}
        plan, get_op = get_or_absent(backup.get_restore_testing_plan, GONE, params)
        if plan is None:
            return None, [], []
        try:
            listing, sel_op = list_all(backup, "list_restore_testing_selections", "RestoreTestingSelections", **params)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != GONE:
                raise
            return None, [], []
        selections, ops = [], [get_op, sel_op]
        for listed_selection in listing:
            name = {"RestoreTestingSelectionName": listed_selection["RestoreTestingSelectionName"]}
            selection, op = get_or_absent(backup.get_restore_testing_selection, GONE, params | name)
            ops.append(op)
            if selection is not None:
                selections.append(to_jsonable(strip_metadata(selection)))
        return to_jsonable(strip_metadata(plan)), selections, ops

    plans, operations = [], [list_op]
    for plan, selections, ops in aws.fan_out(ask, listed):
        if plan is not None:
            plans.append({"plan": plan, "selections": selections})
            operations.extend(ops)
    provenance = source(aws, "backup", operations)
    yield observe_restore_testing_plans(aws.partition, aws.account_id, scope, plans, provenance)


def _testing_selection(selection: dict[str, Any]) -> dict[str, Any]:
    # Conditions alone (no ARNs) choose among every resource of the type, as the wildcard does.
    arns = selection.get("ProtectedResourceArns") or ["*"]
    every = arns == ["*"]
    return {
        "name": selection["RestoreTestingSelectionName"],
        "resource_type": selection["ProtectedResourceType"],
        "all_resources": every,
        "resource_count": None if every else len(arns),
        "validation_window_hours": selection.get("ValidationWindowHours"),
    }


def _testing_plan(plan: dict[str, Any], selections: list[dict[str, Any]]) -> dict[str, Any]:
    chosen = plan.get("RecoveryPointSelection") or {}
    return {
        "name": plan["RestoreTestingPlanName"],
        "schedule": plan["ScheduleExpression"],
        "timezone": plan.get("ScheduleExpressionTimezone"),
        "start_window_hours": plan.get("StartWindowHours"),
        "vaults": sorted(chosen.get("IncludeVaults", [])),
        "selection_window_days": chosen.get("SelectionWindowDays"),
        "selections": sorted((_testing_selection(s) for s in selections), key=lambda s: s["name"]),
    }


def observe_restore_testing_plans(
    partition: str, account_id: str, region: str, plans: list[dict[str, Any]], provenance: dict[str, Any]
) -> Evidence:
    """`plans`: per restore testing plan of the region `{"plan": the GetRestoreTestingPlan answer, "selections":
    the GetRestoreTestingSelection answers of its selections}`; none when the region has no plan (a fact)."""

    def plan_name(item: dict[str, Any]) -> str:
        return item["plan"]["RestoreTestingPlan"]["RestoreTestingPlanName"]

    def selection_name(answer: dict[str, Any]) -> str:
        return answer["RestoreTestingSelection"]["RestoreTestingSelectionName"]

    kept = [
        {
            "plan": {"RestoreTestingPlan": _without(p["plan"]["RestoreTestingPlan"], VOLATILE_RESTORE_TESTING_FIELDS)},
            "selections": sorted(p["selections"], key=selection_name),
        }
        for p in sorted(plans, key=plan_name)
    ]
    observed = [
        _testing_plan(p["plan"]["RestoreTestingPlan"], [s["RestoreTestingSelection"] for s in p["selections"]])
        for p in kept
    ]
    return Evidence(
        kind="aws.backup.restore_testing.plans",
        resource_id=account_setting_arn(partition, "backup", region, account_id),
        resource_type=ACCOUNT_TYPE,
        region=region,
        observed={"plans": observed},
        source=provenance,
        raw=redact({"plans": kept}, SENSITIVE_RESTORE_TESTING_KEYS),
    )
