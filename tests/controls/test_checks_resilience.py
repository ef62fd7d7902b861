"""Table tests of the Macie, AWS Backup (restore testing too), Auto Scaling and S3 lifecycle checks:
(observed, policy) -> verdict."""

from __future__ import annotations

import datetime as dt

import pytest

from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks
from controls.checks.aws import autoscaling, backup, macie
from controls.checks.aws.residency import DATA_RESOURCE_KINDS
from ea_testkit.golden import load_cases

PASS, FAIL, NA = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_APPLICABLE
CHECKS = {c.id: c for c in registered_checks()}
AT = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)


def verdict(check_id: str, observed: dict, policy: Policy | None = None, at: dt.datetime | None = AT) -> Verdict:
    spec = CHECKS[check_id]
    return judge(spec, Subject(spec.reads[0], "arn:aws:x", "eu-west-1", observed, at), policy or Policy())


# Observed values as the golden fixtures (tests/fixtures/aws/<kind>.json) record them.
MACIE = {"enabled": True, "status": "ENABLED", "finding_publishing_frequency": "FIFTEEN_MINUTES"}
VAULT = {"vault_name": "acme-eu-backups", "vault_type": "BACKUP_VAULT",
         "encryption_key_arn": "arn:aws:kms:eu-west-1:123456789012:key/3336aec7-86a1-48b3-aa7d-655f71919d48",
         "has_recovery_points": True, "locked": True, "min_retention_days": 7, "max_retention_days": 400,
         "lock_date": "2026-11-30T22:52:55.545738Z"}  # fmt: skip
UNLOCKED = {**VAULT, "locked": False, "min_retention_days": None, "max_retention_days": None, "lock_date": None}
DR = "arn:aws:backup:eu-central-1:123456789012:backup-vault:acme-dr-eu-central"
DAILY = {
    "rule_name": "daily",
    "target_vault": "acme-eu-backups",
    "schedule": "cron(0 3 * * ? *)",
    "continuous_backup": False,
    "delete_after_days": 35,
    "move_to_cold_storage_after_days": None,
    "copy_actions": [{"destination_vault_arn": DR, "destination_region": "eu-central-1", "delete_after_days": 35}],
}
MONTHLY = {**DAILY, "rule_name": "monthly", "schedule": "cron(0 4 1 * ? *)", "delete_after_days": 365,
           "move_to_cold_storage_after_days": 30, "copy_actions": []}  # fmt: skip
PLAN = {"plan_name": "acme-daily-eu", "rules": [DAILY, MONTHLY], "selection_count": 2}
SAME_REGION = {"destination_vault_arn": "arn:aws:backup:eu-west-1:123456789012:backup-vault:finance-records",
               "destination_region": "eu-west-1", "delete_after_days": None}  # fmt: skip
WEEKLY_TEST = {
    "name": "acme_weekly_restore_test",
    "schedule": "cron(0 4 ? * SUN *)",
    "timezone": "Europe/Dublin",
    "start_window_hours": 24,
    "vaults": ["arn:aws:backup:eu-west-1:123456789012:backup-vault:acme-eu-archive",
               "arn:aws:backup:eu-west-1:123456789012:backup-vault:acme-eu-backups"],
    "selection_window_days": 30,
    "selections": [
        {"name": "message_store", "resource_type": "RDS", "all_resources": False, "resource_count": 1,
         "validation_window_hours": 4},
        {"name": "tagged_tables", "resource_type": "DynamoDB", "all_resources": True, "resource_count": None,
         "validation_window_hours": None},
    ],
}  # fmt: skip
DAILY_TEST = {**WEEKLY_TEST, "name": "daily_pitr_check", "schedule": "cron(0 5 ? * * *)", "timezone": "Etc/UTC",
              "vaults": ["*"], "selection_window_days": 7, "selections": [
                  {"name": "chat_messages", "resource_type": "DynamoDB", "all_resources": False, "resource_count": 2,
                   "validation_window_hours": 1}]}  # fmt: skip
UNSELECTED_TEST = {**WEEKLY_TEST, "name": "legacy_restore_test", "schedule": "cron(0 6 ? * MON *)",
                   "timezone": "Etc/UTC", "selection_window_days": 7, "selections": [],
                   "vaults": ["arn:aws:backup:us-east-1:123456789012:backup-vault:legacy-backups"]}  # fmt: skip
RESTORE_TESTING = {"plans": [WEEKLY_TEST, DAILY_TEST]}
GROUP = {"min_size": 2, "max_size": 12, "availability_zones": ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
         "health_check_type": "ELB", "scaling_policies": [
             {"name": "cpu-50", "type": "TargetTrackingScaling", "enabled": True},
             {"name": "queue-depth-steps", "type": "StepScaling", "enabled": False}],
         "target_tracking": True, "step_scaling": False, "suspended_processes": ["AZRebalance"]}  # fmt: skip
FIXED = {
    "min_size": 1,
    "max_size": 1,
    "availability_zones": ["eu-west-1a"],
    "health_check_type": "EC2",
    "scaling_policies": [],
    "target_tracking": False,
    "step_scaling": False,
    "suspended_processes": [],
}
RULE = {
    "id": "archive-then-expire",
    "prefix": None,
    "tag_or_size_filter": False,
    "expiration_days": 400,
    "expiration_date": None,
    "noncurrent_expiration_days": None,
    "transitions": [{"days": 90, "date": None, "storage_class": "GLACIER"}],
    "noncurrent_transitions": [],
}
LIFECYCLE = {"configured": True, "enabled_rules": [RULE], "disabled_rule_count": 1}
NONCURRENT = {**RULE, "id": "expire-old-versions", "prefix": "uploads/", "tag_or_size_filter": True,
              "expiration_days": None, "transitions": [], "noncurrent_expiration_days": 30}  # fmt: skip
MOVE_ONLY = {**RULE, "id": "cheaper-storage", "prefix": "images/", "expiration_days": None}


ROWS = [
    # Macie
    ("aws.macie.account.enabled", MACIE, None, PASS, "every FIFTEEN_MINUTES"),
    ("aws.macie.account.enabled", {**MACIE, "enabled": False, "status": "PAUSED"}, None, FAIL, "paused"),
    ("aws.macie.account.enabled", {"enabled": False, "status": None, "finding_publishing_frequency": None}, None,
     FAIL, "not enabled in eu-west-1"),
    # Backup vaults
    ("aws.backup.vault.lock_enabled", VAULT, None, PASS,
     "compliance mode (min 7 days, max 400 days), immutable since 2026-11-30"),
    ("aws.backup.vault.lock_enabled", {**VAULT, "lock_date": "2026-12-04T00:00:00Z"}, None, PASS,
     "changeable until 2026-12-04"),
    ("aws.backup.vault.lock_enabled", {**VAULT, "max_retention_days": None, "lock_date": None}, None, PASS,
     "governance mode (min 7 days): removable"),
    ("aws.backup.vault.lock_enabled", UNLOCKED, None, FAIL, "no Vault Lock"),
    ("aws.backup.vault.lock_enabled", {**VAULT, "min_retention_days": None}, None, FAIL, "without a minimum"),
    # Backup plans
    ("aws.backup.plan.resources_assigned", PLAN, None, PASS, "2 resource assignments"),
    ("aws.backup.plan.resources_assigned", {**PLAN, "selection_count": 1}, None, PASS, "1 resource assignment"),
    ("aws.backup.plan.resources_assigned", {**PLAN, "selection_count": 0}, None, FAIL, "protects no resources"),
    ("aws.backup.plan.retention_sufficient", PLAN, None, PASS, "at least 7 days: daily 35 days, monthly 365 days"),
    ("aws.backup.plan.retention_sufficient", PLAN, Policy(min_backup_retention_days=90), FAIL,
     "daily 35 days (min 90)"),
    ("aws.backup.plan.retention_sufficient", {**PLAN, "rules": [{**DAILY, "delete_after_days": None}]},
     Policy(min_backup_retention_days=3650), PASS, "daily forever"),
    ("aws.backup.plan.retention_sufficient", {**PLAN, "rules": [{**DAILY, "delete_after_days": 1}, MONTHLY]}, None,
     FAIL, "daily 1 day (min 7)"),
    ("aws.backup.plan.retention_sufficient", {**PLAN, "selection_count": 0}, None, NA, "protects no resources"),
    ("aws.backup.plan.retention_sufficient", {**PLAN, "rules": []}, None, NA, "no rules"),
    ("aws.backup.plan.cross_region_copy", PLAN, None, PASS, "copied to eu-central-1"),
    ("aws.backup.plan.cross_region_copy", {**PLAN, "rules": [{**DAILY, "copy_actions": [SAME_REGION]}]}, None,
     FAIL, "copies stay in eu-west-1"),
    ("aws.backup.plan.cross_region_copy", {**PLAN, "rules": [MONTHLY]}, None, FAIL, "no rule copies"),
    ("aws.backup.plan.cross_region_copy", {**PLAN, "selection_count": 0}, None, NA, "protects no resources"),
    # Backup restore testing
    ("aws.backup.restore_testing.scheduled", RESTORE_TESTING, None, PASS,
     "2 restore testing plans test recovery points: acme_weekly_restore_test (cron(0 4 ? * SUN *)), "
     "daily_pitr_check (cron(0 5 ? * * *))"),
    ("aws.backup.restore_testing.scheduled", {"plans": [DAILY_TEST, UNSELECTED_TEST]}, None, PASS,
     "1 restore testing plan tests recovery points: daily_pitr_check (cron(0 5 ? * * *)); no resources selected "
     "by legacy_restore_test"),
    ("aws.backup.restore_testing.scheduled", {"plans": []}, None, FAIL,
     "no restore testing plan: recovery points in eu-west-1 are never test-restored"),
    ("aws.backup.restore_testing.scheduled", {"plans": [UNSELECTED_TEST]}, None, FAIL,
     "restore testing plan(s) legacy_restore_test select no resources: nothing is test-restored"),
    # Auto Scaling groups
    ("aws.autoscaling.group.scaling_policy_attached", GROUP, None, PASS,
     "1 scaling policy (TargetTrackingScaling), capacity 2-12"),
    ("aws.autoscaling.group.scaling_policy_attached", FIXED, None, FAIL, "no enabled scaling policy"),
    ("aws.autoscaling.group.scaling_policy_attached", {**GROUP, "scaling_policies": GROUP["scaling_policies"][1:]},
     None, FAIL, "1 disabled: queue-depth-steps"),
    ("aws.autoscaling.group.scaling_policy_attached", {**GROUP, "min_size": 4, "max_size": 4}, None, FAIL,
     "fixed capacity (min = max = 4)"),
    ("aws.autoscaling.group.scaling_policy_attached", {**GROUP, "suspended_processes": ["AlarmNotification",
     "AZRebalance"]}, None, FAIL, "suspended (AlarmNotification)"),
    ("aws.autoscaling.group.scaling_policy_attached", {**FIXED, "min_size": 0, "max_size": 0}, None, NA,
     "scaled to zero"),
    ("aws.autoscaling.group.multi_az", GROUP, None, PASS, "eu-west-1a, eu-west-1b, eu-west-1c with at least 2"),
    ("aws.autoscaling.group.multi_az", FIXED, None, FAIL, "one Availability Zone (eu-west-1a)"),
    ("aws.autoscaling.group.multi_az", {**GROUP, "min_size": 1}, None, FAIL,
     "spans 3 Availability Zones but min size 1"),
    ("aws.autoscaling.group.multi_az", {**GROUP, "min_size": 0, "max_size": 0}, None, NA, "scaled to zero"),
    # S3 lifecycle
    ("aws.s3.bucket.lifecycle_expiration_configured", LIFECYCLE, None, PASS,
     "archive-then-expire expires objects after 400 days"),
    ("aws.s3.bucket.lifecycle_expiration_configured", {**LIFECYCLE, "enabled_rules": [NONCURRENT]}, None, PASS,
     "under uploads/ (tag/size filtered) expires noncurrent versions after 30 days"),
    ("aws.s3.bucket.lifecycle_expiration_configured", {**LIFECYCLE, "enabled_rules": [{**RULE, "expiration_days": None,
     "expiration_date": "2030-01-01T00:00:00Z"}]}, None, PASS, "objects on 2030-01-01"),
    ("aws.s3.bucket.lifecycle_expiration_configured", {**LIFECYCLE, "enabled_rules": [MOVE_ONLY]}, None, FAIL,
     "1 enabled rule(s), none expires"),
    ("aws.s3.bucket.lifecycle_expiration_configured", {**LIFECYCLE, "enabled_rules": [], "disabled_rule_count": 2},
     None, FAIL, "0 enabled rule(s)"),
    ("aws.s3.bucket.lifecycle_expiration_configured", {"configured": False, "enabled_rules": [],
     "disabled_rule_count": 0}, None, FAIL, "no lifecycle configuration"),
]  # fmt: skip


@pytest.mark.parametrize(("check_id", "observed", "policy", "status", "reason"), ROWS)
def test_check_table(check_id, observed, policy, status, reason):
    result = verdict(check_id, observed, policy)
    assert result.status == status and reason in result.reason, result


def test_vault_lock_without_an_observation_time_is_not_called_immutable():
    """A verdict recomputed without the evidence's time cannot know whether the lock date has passed."""
    assert "changeable until" in verdict("aws.backup.vault.lock_enabled", VAULT, at=None).reason


def test_restore_testing_rows_are_the_recorded_observations():
    """The rows' plans are the golden fixture's (same keys, same order), and each recorded case gets its verdict."""
    cases = {c["region"]: c["expected"]["observed"] for c in load_cases("aws.backup.restore_testing.plans")}
    assert cases == {"eu-west-1": RESTORE_TESTING, "us-east-1": {"plans": [UNSELECTED_TEST]},
                     "eu-central-1": {"plans": []}}  # fmt: skip
    assert all(list(plan) == list(WEEKLY_TEST) for observed in cases.values() for plan in observed["plans"])
    statuses = {region: verdict("aws.backup.restore_testing.scheduled", o).status for region, o in cases.items()}
    assert statuses == {"eu-west-1": PASS, "us-east-1": FAIL, "eu-central-1": FAIL}


def test_every_check_of_these_services_has_a_pass_and_a_fail_row():
    modules = {m.__name__ for m in (autoscaling, backup, macie)}
    mine = {c.id for c in CHECKS.values() if c.judge.__module__ in modules}
    mine.add("aws.s3.bucket.lifecycle_expiration_configured")
    assert len(mine) == 9
    for status in (PASS, FAIL):
        assert mine <= {row[0] for row in ROWS if row[3] == status}, status


def test_backup_vaults_are_judged_for_residency_and_configuration_kinds_are_not():
    """Recovery points are copies of the data; plans (restore testing ones too), groups, Macie and lifecycle rules
    hold none."""
    assert "aws.backup.vault.configuration" in DATA_RESOURCE_KINDS
    others = {"aws.backup.plan.rules", "aws.backup.restore_testing.plans", "aws.autoscaling.group.configuration",
              "aws.macie.account.status", "aws.s3.bucket.lifecycle"}  # fmt: skip
    assert not others & set(DATA_RESOURCE_KINDS)
    residency = CHECKS["aws.residency.resource.in_allowed_regions"]
    subject = Subject("aws.backup.vault.configuration", "arn:aws:backup:us-east-1:1:backup-vault:v", "us-east-1", VAULT)
    assert judge(residency, subject, Policy(allowed_regions=("eu-*",))).status == FAIL
