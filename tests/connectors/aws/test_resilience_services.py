"""Resilience and data-governance kinds: Macie, AWS Backup vaults, plans and restore testing, Auto Scaling
groups, S3 lifecycle.

Golden tests feed recorded answers to the pure `observe_*` functions; collection tests go through real
boto3 calls against moto's server on loopback (backup resource assignments and restore testing through the
sandbox's moto shim), with errors injected before they are sent where moto cannot produce them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from collector.sandbox import aws_resilience
from collector.sandbox.aws import seed_base
from collector.sandbox.base import client
from connectors import collect_unit
from connectors.aws import autoscaling, backup, macie, s3
from connectors.aws.clients import AwsClients, AwsTarget
from connectors.base import REDACTED, CollectionError, Evidence, GapReason, canonical_json, get_kind
from ea_testkit.aws import error_response, faulty_session
from ea_testkit.golden import PROVENANCE, check_golden, golden_params, load_cases

EU, US, CENTRAL = "eu-west-1", "us-east-1", "eu-central-1"
ACCOUNT = "123456789012"


def _bucket(case: dict) -> s3.Bucket:
    b = case["bucket"]
    return s3.Bucket(name=b["name"], region=b["region"], listing=b["listing"], operations=())


OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.macie.account.status": lambda c: macie.observe_account_status(
        "aws", c["account_id"], c["region"], c["session"], c["error"], PROVENANCE
    ),
    "aws.backup.vault.configuration": lambda c: backup.observe_vault_configuration(c["vault"], c["region"], PROVENANCE),
    "aws.backup.plan.rules": lambda c: backup.observe_plan_rules(c["plan"], c["selections"], c["region"], PROVENANCE),
    "aws.backup.restore_testing.plans": lambda c: backup.observe_restore_testing_plans(
        "aws", c["account_id"], c["region"], c["plans"], PROVENANCE
    ),
    "aws.autoscaling.group.configuration": lambda c: autoscaling.observe_group_configuration(
        c["group"], c["policies"], c["region"], PROVENANCE
    ),
    "aws.s3.bucket.lifecycle": lambda c: s3.observe_bucket_lifecycle(_bucket(c), c["response"], PROVENANCE),
}


def expected_raw(kind: str, case: dict) -> dict:
    """What raw keeps of the recorded answers: all of them but the fields that change by themselves."""
    if kind == "aws.macie.account.status":
        return {"session": case["session"], "error": case["error"]}
    if kind == "aws.backup.vault.configuration":
        return {k: v for k, v in case["vault"].items() if k != "NumberOfRecoveryPoints"}
    if kind == "aws.backup.plan.rules":
        return {"plan": case["plan"], "selections": case["selections"]}
    if kind == "aws.backup.restore_testing.plans":
        return {"plans": case["plans"]}  # recorded in name order, as raw keeps them
    if kind == "aws.autoscaling.group.configuration":
        group = {k: v for k, v in case["group"].items() if k not in ("DesiredCapacity", "Instances")}
        return {"group": group, "policies": case["policies"]}
    return {"bucket": case["bucket"]["listing"], "lifecycle": case["response"] or {}}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    assert evidence.raw == expected_raw(kind, case)


def test_volatile_fields_stay_out_of_observed_and_raw():
    """Recovery point counts, desired capacity, instances and last runs change by themselves: no new state."""
    vault_case = load_cases("aws.backup.vault.configuration")[0]
    more = json.loads(json.dumps(vault_case["vault"]))
    more["NumberOfRecoveryPoints"] += 17
    base = OBSERVERS["aws.backup.vault.configuration"](vault_case)
    grown = backup.observe_vault_configuration(more, EU, PROVENANCE)
    assert grown.state_sha() == base.state_sha() and grown.raw == base.raw
    assert "NumberOfRecoveryPoints" not in canonical_json(base.raw)

    group_case = load_cases("aws.autoscaling.group.configuration")[0]
    scaled = json.loads(json.dumps(group_case["group"]))
    scaled["DesiredCapacity"] = 9
    scaled["Instances"] = scaled["Instances"][:1]
    base = OBSERVERS["aws.autoscaling.group.configuration"](group_case)
    later = autoscaling.observe_group_configuration(scaled, group_case["policies"], EU, PROVENANCE)
    assert later.state_sha() == base.state_sha() and later.raw == base.raw

    plan_case = load_cases("aws.backup.plan.rules")[0]
    ran = json.loads(json.dumps(plan_case["plan"]))
    ran["LastExecutionDate"] = "2030-01-01T03:00:00Z"
    evidence = backup.observe_plan_rules(ran, plan_case["selections"], EU, PROVENANCE)
    assert evidence.state_sha() == OBSERVERS["aws.backup.plan.rules"](plan_case).state_sha()
    assert "LastExecutionDate" not in evidence.raw["plan"]

    testing_case = load_cases("aws.backup.restore_testing.plans")[0]
    tested = json.loads(json.dumps(testing_case["plans"]))
    tested[0]["plan"]["RestoreTestingPlan"]["LastExecutionTime"] = "2030-01-05T04:00:00Z"
    base = OBSERVERS["aws.backup.restore_testing.plans"](testing_case)
    later = backup.observe_restore_testing_plans("aws", ACCOUNT, EU, tested, PROVENANCE)
    assert later.state_sha() == base.state_sha() and later.raw == base.raw


# --------------------------------------------------------------------------- collection against moto's server


@pytest.fixture
def endpoint(moto_endpoint: str) -> str:
    aws_resilience.install_moto_shims()  # moto 5.2 lacks backup resource assignments (see the sandbox seeder)
    return moto_endpoint


def clients(endpoint: str, session: boto3.Session | None = None, regions: tuple[str, ...] = (EU,)) -> AwsClients:
    return AwsClients(AwsTarget(name="prod", regions=regions, endpoint_url=endpoint), session=session)


def collect(aws: AwsClients, kind: str, scope: str = EU) -> dict[str, Evidence]:
    try:
        return {e.resource_id: e for e in collect_unit(get_kind(kind), aws, scope)}
    finally:
        aws.close()


def gap(aws: AwsClients, kind: str, scope: str = EU) -> CollectionError:
    with pytest.raises(CollectionError) as info:
        collect(aws, kind, scope)
    return info.value


def record_calls(aws: AwsClients, service: str, region: str = EU) -> list[str]:
    calls: list[str] = []
    c = aws.client(service, region)
    c.meta.events.register(f"before-call.{c.meta.service_model.service_id.hyphenize()}.*",
                           lambda model, **_: calls.append(model.name))  # fmt: skip
    return calls


def operations(evidence: Evidence) -> list[str]:
    return [op["operation"] for op in evidence.source["operations"]]


def answering(operation: str, code: str, status: int, message: str) -> boto3.Session:
    """A session whose `operation` ("service.Operation") gets this error answer, parsed by botocore as AWS's."""
    session = boto3.Session(region_name=US)

    def handler(request: Any, **_: Any) -> Any:
        return error_response(request, "json", code, status, message)

    session.events.register(f"before-send.{operation}", handler)
    return session


MACIE = f"arn:aws:macie2:{EU}:{ACCOUNT}:account"


def test_macie_enabled_and_paused(endpoint):
    client("macie2", endpoint, EU).enable_macie(findingPublishingFrequency="ONE_HOUR")
    client("macie2", endpoint, CENTRAL).enable_macie(findingPublishingFrequency="SIX_HOURS", status="PAUSED")

    on = collect(clients(endpoint), "aws.macie.account.status")[MACIE]
    paused = next(iter(collect(clients(endpoint), "aws.macie.account.status", CENTRAL).values()))

    assert on.observed == {"enabled": True, "status": "ENABLED", "finding_publishing_frequency": "ONE_HOUR"}
    assert on.region == EU and on.resource_type == "AWS::::Account" and operations(on) == ["GetMacieSession"]
    assert on.raw["session"]["serviceRole"].endswith("/AWSServiceRoleForAmazonMacie")
    assert on.raw["session"]["createdAt"].endswith("Z") and on.raw["error"] is None
    assert paused.resource_id == f"arn:aws:macie2:{CENTRAL}:{ACCOUNT}:account"
    assert paused.observed == {"enabled": False, "status": "PAUSED", "finding_publishing_frequency": "SIX_HOURS"}


def test_macie_not_enabled_is_a_fact_in_both_answers_aws_gives(endpoint):
    client("macie2", endpoint, EU).disable_macie()
    # moto, and the API reference: ResourceNotFoundException.
    (by_moto,) = collect(clients(endpoint), "aws.macie.account.status").values()
    # The real API for an account that never enabled Macie: 403 AccessDeniedException "Macie is not enabled."
    session = answering("macie2.GetMacieSession", "AccessDeniedException", 403, "Macie is not enabled.")
    (by_aws,) = collect(clients(endpoint, session), "aws.macie.account.status").values()

    for evidence, code in ((by_moto, "ResourceNotFoundException"), (by_aws, "AccessDeniedException")):
        assert evidence.resource_id == MACIE
        assert evidence.observed == {"enabled": False, "status": None, "finding_publishing_frequency": None}
        assert evidence.source["operations"][0]["error"] == code
        assert evidence.raw["session"] is None and evidence.raw["error"]["Code"] == code
    assert by_aws.raw["error"]["Message"] == "Macie is not enabled."


@pytest.mark.parametrize(
    "session",
    [
        lambda: faulty_session({"macie2.GetMacieSession": ("AccessDeniedException", 403)}),
        lambda: answering("macie2.GetMacieSession", "AccessDeniedException", 403,
                          f"User: arn:aws:sts::{ACCOUNT}:assumed-role/evidence-agent/run is not authorized to perform: "
                          f"macie2:GetMacieSession on resource: arn:aws:macie2:{EU}:{ACCOUNT}:*"),
        lambda: answering("macie2.GetMacieSession", "AccessDeniedException", 403,
                          f"User: arn:aws:sts::{ACCOUNT}:assumed-role/evidence-agent/run is not authorized to perform: "
                          "macie2:GetMacieSession with an explicit deny in a service control policy"),
    ],
    ids=["injected", "no identity policy", "scp deny"],
)  # fmt: skip
def test_macie_denied_is_a_gap_not_not_enabled(endpoint, session):
    denied = gap(clients(endpoint, session()), "aws.macie.account.status")
    assert denied.reason == GapReason.DENIED and denied.operation == "GetMacieSession"


def make_backups(endpoint: str) -> dict[str, str]:
    key = client("kms", endpoint, EU).create_key(Description="backups")["KeyMetadata"]["Arn"]
    eu = client("backup", endpoint, EU)
    locked = eu.create_backup_vault(BackupVaultName="acme-eu-backups", EncryptionKeyArn=key)["BackupVaultArn"]
    eu.put_backup_vault_lock_configuration(BackupVaultName="acme-eu-backups", MinRetentionDays=7,
                                           MaxRetentionDays=400, ChangeableForDays=3)  # fmt: skip
    plain = eu.create_backup_vault(BackupVaultName="scratch")["BackupVaultArn"]
    dr = client("backup", endpoint, CENTRAL).create_backup_vault(BackupVaultName="dr")["BackupVaultArn"]
    daily = eu.create_backup_plan(BackupPlan={"BackupPlanName": "daily", "Rules": [
        {"RuleName": "daily", "TargetBackupVaultName": "acme-eu-backups", "Lifecycle": {"DeleteAfterDays": 35},
         "CopyActions": [{"DestinationBackupVaultArn": dr, "Lifecycle": {"DeleteAfterDays": 14}}]},
    ]})  # fmt: skip
    eu.create_backup_selection(BackupPlanId=daily["BackupPlanId"], BackupSelection={
        "SelectionName": "message-store", "IamRoleArn": f"arn:aws:iam::{ACCOUNT}:role/backup",
        "Resources": [f"arn:aws:rds:{EU}:{ACCOUNT}:db:message-store"]})  # fmt: skip
    idle = eu.create_backup_plan(BackupPlan={"BackupPlanName": "idle", "Rules": [
        {"RuleName": "weekly", "TargetBackupVaultName": "scratch", "Lifecycle": {"DeleteAfterDays": 3}}]})  # fmt: skip
    return {"locked": locked, "plain": plain, "dr": dr, "daily": daily["BackupPlanArn"], "idle": idle["BackupPlanArn"],
            "idle_id": idle["BackupPlanId"]}  # fmt: skip


def test_backup_vaults_from_one_listing_with_their_vault_lock(endpoint):
    made = make_backups(endpoint)
    aws = clients(endpoint)
    calls = record_calls(aws, "backup")

    vaults = collect(aws, "aws.backup.vault.configuration")

    assert calls == ["ListBackupVaults"]  # the listing carries Vault Lock: no DescribeBackupVault per vault
    assert set(vaults) == {made["locked"], made["plain"]}  # the eu-central-1 vault is another unit's
    locked = vaults[made["locked"]].observed
    assert locked["locked"] is True and (locked["min_retention_days"], locked["max_retention_days"]) == (7, 400)
    assert locked["lock_date"].endswith("Z") and locked["encryption_key_arn"].startswith(f"arn:aws:kms:{EU}:")
    assert vaults[made["plain"]].observed == {
        "vault_name": "scratch", "vault_type": "BACKUP_VAULT", "encryption_key_arn": None,
        "has_recovery_points": False, "locked": False, "min_retention_days": None, "max_retention_days": None,
        "lock_date": None,
    }  # fmt: skip
    assert all(e.resource_type == "AWS::Backup::BackupVault" and e.region == EU for e in vaults.values())
    assert operations(vaults[made["plain"]]) == ["ListBackupVaults"]


def test_backup_plans_with_rules_copies_and_assignments(endpoint):
    made = make_backups(endpoint)
    aws = clients(endpoint)
    calls = record_calls(aws, "backup")

    plans = collect(aws, "aws.backup.plan.rules")

    assert set(plans) == {made["daily"], made["idle"]}
    daily, idle = plans[made["daily"]].observed, plans[made["idle"]].observed
    assert daily["plan_name"] == "daily" and daily["selection_count"] == 1
    (rule,) = daily["rules"]
    assert (rule["delete_after_days"], rule["continuous_backup"], rule["target_vault"]) == (
        35,
        False,
        "acme-eu-backups",
    )
    assert rule["copy_actions"] == [{"destination_vault_arn": made["dr"], "destination_region": CENTRAL,
                                     "delete_after_days": 14}]  # fmt: skip
    assert idle["selection_count"] == 0 and idle["rules"][0]["copy_actions"] == []
    assert sorted(calls) == sorted(["ListBackupPlans"] + ["GetBackupPlan", "ListBackupSelections"] * 2)
    assert operations(plans[made["idle"]]) == ["ListBackupPlans", "GetBackupPlan", "ListBackupSelections"]
    assert plans[made["idle"]].source["operations"][2]["params"] == {"BackupPlanId": made["idle_id"]}
    assert plans[made["daily"]].raw["selections"][0]["SelectionName"] == "message-store"
    assert all(e.resource_type == "AWS::Backup::BackupPlan" and e.region == EU for e in plans.values())


@pytest.mark.parametrize("after", ["ListBackupPlans", "GetBackupPlan"])
def test_a_plan_deleted_while_it_is_read_is_left_out_not_a_gap(endpoint, after):
    """Deleted after the listing, GetBackupPlan answers it with a DeletionDate; deleted after GetBackupPlan,
    ListBackupSelections answers ResourceNotFoundException. Either way the plan is gone, not a failure."""
    made = make_backups(endpoint)
    aws = clients(endpoint)

    def delete(parsed: dict, **_: Any) -> None:
        if after == "ListBackupPlans" or parsed.get("BackupPlanId") == made["idle_id"]:
            client("backup", endpoint, EU).delete_backup_plan(BackupPlanId=made["idle_id"])

    aws.client("backup", EU).meta.events.register(f"after-call.backup.{after}", delete)
    assert set(collect(aws, "aws.backup.plan.rules")) == {made["daily"]}


@pytest.mark.parametrize(
    ("kind", "operation"),
    [
        ("aws.backup.vault.configuration", "ListBackupVaults"),
        ("aws.backup.plan.rules", "ListBackupPlans"),
        ("aws.backup.plan.rules", "GetBackupPlan"),
        # Never "no resource assignments": a plan whose assignments cannot be read is not judged at all.
        ("aws.backup.plan.rules", "ListBackupSelections"),
    ],
)
def test_backup_denied_is_a_gap_not_an_empty_result(endpoint, kind, operation):
    make_backups(endpoint)
    denied = gap(clients(endpoint, faulty_session({f"backup.{operation}": ("AccessDeniedException", 403)})), kind)
    assert denied.reason == GapReason.DENIED and denied.operation == operation


RESTORE_TESTING = "aws.backup.restore_testing.plans"
RESTORE_TESTING_ACCOUNT = f"arn:aws:backup:{EU}:{ACCOUNT}:account"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/restore-test"


def make_restore_tests(endpoint: str, plans: tuple[str, ...] = ("weekly", "idle"), selections: int = 1) -> None:
    """Restore testing plans of one vault in eu-west-1; the first one gets `selections` RDS selections."""
    b = client("backup", endpoint, EU)
    vault = b.create_backup_vault(BackupVaultName="acme-backups")["BackupVaultArn"]
    for name in plans:
        b.create_restore_testing_plan(RestoreTestingPlan={
            "RestoreTestingPlanName": name, "ScheduleExpression": "cron(0 4 ? * SUN *)",
            "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": [vault],
                                       "RecoveryPointTypes": ["SNAPSHOT"]},
        })  # fmt: skip
    for i in range(selections):
        b.create_restore_testing_selection(RestoreTestingPlanName=plans[0], RestoreTestingSelection={
            "RestoreTestingSelectionName": f"db_{i}", "ProtectedResourceType": "RDS", "IamRoleArn": ROLE,
            "ProtectedResourceArns": [f"arn:aws:rds:{EU}:{ACCOUNT}:db:db-{i}"], "ValidationWindowHours": 2,
            "RestoreMetadataOverrides": {"dbsubnetgroupname": "restore-tests"},
        })  # fmt: skip


def page_size(aws: AwsClients, operation: str, size: int) -> list[dict]:
    """Make moto answer `operation` in pages of `size` items; returns the parameters of every call made."""
    calls: list[dict] = []

    def shrink(params: dict, **_: Any) -> None:
        params["MaxResults"] = size
        calls.append(dict(params))

    aws.client("backup", EU).meta.events.register(f"before-parameter-build.backup.{operation}", shrink)
    return calls


def test_restore_testing_plans_with_their_selections_as_one_regional_record(endpoint):
    make_restore_tests(endpoint, selections=2)
    aws = clients(endpoint)
    calls = record_calls(aws, "backup")

    (evidence,) = collect(aws, RESTORE_TESTING).values()

    assert evidence.resource_id == RESTORE_TESTING_ACCOUNT and evidence.resource_type == "AWS::::Account"
    vault = f"arn:aws:backup:{EU}:{ACCOUNT}:backup-vault:acme-backups"
    plan = {"schedule": "cron(0 4 ? * SUN *)", "timezone": "Etc/UTC", "start_window_hours": 24, "vaults": [vault],
            "selection_window_days": 30}  # fmt: skip
    assert evidence.observed == {"plans": [
        {"name": "idle", **plan, "selections": []},
        {"name": "weekly", **plan, "selections": [
            {"name": f"db_{i}", "resource_type": "RDS", "all_resources": False, "resource_count": 1,
             "validation_window_hours": 2} for i in (0, 1)]},
    ]}  # fmt: skip
    per_plan = ["GetRestoreTestingPlan", "ListRestoreTestingSelections"]
    assert sorted(calls) == sorted(["ListRestoreTestingPlans", *per_plan * 2, *["GetRestoreTestingSelection"] * 2])
    assert {f"backup:{call}" for call in calls} == set(get_kind(RESTORE_TESTING).permissions)
    assert operations(evidence)[0] == "ListRestoreTestingPlans"
    assert {"operation": "GetRestoreTestingSelection", "params": {"RestoreTestingPlanName": "weekly",
            "RestoreTestingSelectionName": "db_1"}} in [{k: op[k] for k in ("operation", "params")}
                                                        for op in evidence.source["operations"]]  # fmt: skip
    weekly = evidence.raw["plans"][1]
    assert weekly["plan"]["RestoreTestingPlan"]["RestoreTestingPlanArn"].startswith(
        f"arn:aws:backup:{EU}:{ACCOUNT}:restore-testing-plan:weekly-"
    )
    assert weekly["plan"]["RestoreTestingPlan"]["CreationTime"].endswith("Z")
    # Sensitive in the API model: the key stays, the values do not.
    overrides = [s["RestoreTestingSelection"]["RestoreMetadataOverrides"] for s in weekly["selections"]]
    assert overrides == [REDACTED] * 2


def test_no_restore_testing_plan_is_a_fact_not_a_gap(endpoint):
    aws = clients(endpoint)
    calls = record_calls(aws, "backup")
    (evidence,) = collect(aws, RESTORE_TESTING).values()
    assert evidence.observed == {"plans": []} and evidence.raw == {"plans": []}
    assert calls == ["ListRestoreTestingPlans"] and operations(evidence) == ["ListRestoreTestingPlans"]


def test_restore_testing_reads_every_page_of_plans_and_of_selections(endpoint):
    make_restore_tests(endpoint, ("weekly", "idle", "plan_0", "plan_1", "plan_2"), selections=3)
    aws = clients(endpoint)
    plan_pages = page_size(aws, "ListRestoreTestingPlans", 2)
    selection_pages = page_size(aws, "ListRestoreTestingSelections", 2)

    (evidence,) = collect(aws, RESTORE_TESTING).values()

    assert [p["name"] for p in evidence.observed["plans"]] == ["idle", "plan_0", "plan_1", "plan_2", "weekly"]
    assert [s["name"] for s in evidence.observed["plans"][-1]["selections"]] == ["db_0", "db_1", "db_2"]
    assert [bool(c.get("NextToken")) for c in plan_pages] == [False, True, True]  # 2 + 2 + 1
    weekly_pages = [c for c in selection_pages if c["RestoreTestingPlanName"] == "weekly"]
    assert [bool(c.get("NextToken")) for c in weekly_pages] == [False, True]  # 2 + 1
    assert len(evidence.source["operations"][0]["request_ids"]) == 3


@pytest.mark.parametrize("after", ["ListRestoreTestingPlans", "GetRestoreTestingPlan", "ListRestoreTestingSelections"])
def test_restore_testing_deleted_while_it_is_read_is_left_out_not_a_gap(endpoint, after):
    """Deleted after the listing, the plan answers not found to GetRestoreTestingPlan; after GetRestoreTestingPlan,
    to ListRestoreTestingSelections. A selection deleted after its listing answers not found to
    GetRestoreTestingSelection. Whatever is gone is left out; the rest is evidence as usual."""
    make_restore_tests(endpoint, selections=2)
    aws = clients(endpoint)
    backup_client = client("backup", endpoint, EU)

    def delete(parsed: dict, **_: Any) -> None:
        if after == "ListRestoreTestingSelections":
            if any(s["RestoreTestingPlanName"] == "weekly" for s in parsed["RestoreTestingSelections"]):
                backup_client.delete_restore_testing_selection(RestoreTestingPlanName="weekly",
                                                               RestoreTestingSelectionName="db_1")  # fmt: skip
        elif after == "ListRestoreTestingPlans" or parsed["RestoreTestingPlan"]["RestoreTestingPlanName"] == "idle":
            backup_client.delete_restore_testing_plan(RestoreTestingPlanName="idle")

    aws.client("backup", EU).meta.events.register(f"after-call.backup.{after}", delete)
    (evidence,) = collect(aws, RESTORE_TESTING).values()

    plans = {p["name"]: [s["name"] for s in p["selections"]] for p in evidence.observed["plans"]}
    if after == "ListRestoreTestingSelections":
        assert plans == {"idle": [], "weekly": ["db_0"]}
        ops = evidence.source["operations"]
        (asked,) = [op for op in ops if op["params"].get("RestoreTestingSelectionName") == "db_1"]
        assert asked["operation"] == "GetRestoreTestingSelection" and asked["error"] == "ResourceNotFoundException"
    else:
        assert plans == {"weekly": ["db_0", "db_1"]}
        assert "idle" not in json.dumps(evidence.raw)


@pytest.mark.parametrize(
    "operation",
    ["ListRestoreTestingPlans", "GetRestoreTestingPlan", "ListRestoreTestingSelections", "GetRestoreTestingSelection"],
)
def test_restore_testing_denied_is_a_gap_not_no_plans(endpoint, operation):
    """Never "no restore testing plan" or "selects no resources" when the answer could not be read."""
    make_restore_tests(endpoint)
    denied = gap(clients(endpoint, faulty_session({f"backup.{operation}": ("AccessDeniedException", 403)})),
                 RESTORE_TESTING)  # fmt: skip
    assert denied.reason == GapReason.DENIED and denied.operation == operation


def test_restore_testing_last_run_stays_out_of_observed_and_raw(endpoint):
    """AWS answers each plan's LastExecutionTime, which moves with every restore test: no new state, no stale raw."""
    make_restore_tests(endpoint)

    def collected(last_run: dt.datetime) -> Evidence:
        aws = clients(endpoint)

        def ran(parsed: dict, **_: Any) -> None:
            for plan in [parsed.get("RestoreTestingPlan", {}), *parsed.get("RestoreTestingPlans", [])]:
                plan["LastExecutionTime"] = last_run

        for operation in ("ListRestoreTestingPlans", "GetRestoreTestingPlan"):
            aws.client("backup", EU).meta.events.register(f"after-call.backup.{operation}", ran)
        (evidence,) = collect(aws, RESTORE_TESTING).values()
        return evidence

    monday, sunday = (collected(dt.datetime(2030, 1, day, 4, tzinfo=dt.UTC)) for day in (6, 13))
    assert monday.state_sha() == sunday.state_sha() and monday.raw == sunday.raw
    assert "LastExecutionTime" not in canonical_json(monday.raw) and "CreationTime" in canonical_json(monday.raw)


def test_restore_testing_moto_shim_answers_with_aws_errors(endpoint):
    """The sandbox's shim: AWS's name rule, one wildcard or ARNs, and no plan deleted under its selections."""
    make_restore_tests(endpoint)
    b = client("backup", endpoint, EU)
    selection = {"RestoreTestingSelectionName": "tables", "ProtectedResourceType": "DynamoDB", "IamRoleArn": ROLE}
    attempts = [
        (b.create_restore_testing_plan, {"RestoreTestingPlan": {
            "RestoreTestingPlanName": "weekly-restore", "ScheduleExpression": "cron(0 4 ? * SUN *)",
            "RecoveryPointSelection": {"Algorithm": "LATEST_WITHIN_WINDOW", "IncludeVaults": ["*"],
                                       "RecoveryPointTypes": ["SNAPSHOT"]}}}, "InvalidParameterValueException"),
        (b.create_restore_testing_selection, {"RestoreTestingPlanName": "weekly", "RestoreTestingSelection": {
            **selection, "ProtectedResourceArns": ["*", f"arn:aws:dynamodb:{EU}:{ACCOUNT}:table/t"]}},
         "InvalidParameterValueException"),
        (b.create_restore_testing_selection, {"RestoreTestingPlanName": "gone", "RestoreTestingSelection": {
            **selection, "ProtectedResourceArns": ["*"]}}, "ResourceNotFoundException"),
        (b.delete_restore_testing_plan, {"RestoreTestingPlanName": "weekly"}, "InvalidRequestException"),
        (b.get_restore_testing_selection, {"RestoreTestingPlanName": "idle", "RestoreTestingSelectionName": "db_0"},
         "ResourceNotFoundException"),
    ]  # fmt: skip
    for call, params, code in attempts:
        with pytest.raises(b.exceptions.ClientError) as info:
            call(**params)
        assert info.value.response["Error"]["Code"] == code, params
    created = b.create_restore_testing_plan(RestoreTestingPlan={
        "RestoreTestingPlanName": "daily", "ScheduleExpression": "cron(0 5 ? * * *)",
        "RecoveryPointSelection": {"Algorithm": "RANDOM_WITHIN_WINDOW", "IncludeVaults": ["*"],
                                   "RecoveryPointTypes": ["CONTINUOUS"]}})  # fmt: skip
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    deleted = b.delete_restore_testing_plan(RestoreTestingPlanName="daily")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


def make_groups(endpoint: str) -> dict[str, str]:
    ec2 = client("ec2", endpoint, EU)
    subnets = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": image})
    asg = client("autoscaling", endpoint, EU)
    asg.create_auto_scaling_group(AutoScalingGroupName="chat-api", LaunchTemplate={"LaunchTemplateName": "web"},
                                  MinSize=2, MaxSize=8, DesiredCapacity=2, HealthCheckType="ELB",
                                  VPCZoneIdentifier=",".join(s["SubnetId"] for s in subnets[:2]))  # fmt: skip
    asg.put_scaling_policy(AutoScalingGroupName="chat-api", PolicyName="cpu-50", PolicyType="TargetTrackingScaling",
                           TargetTrackingConfiguration={"TargetValue": 50.0, "PredefinedMetricSpecification": {
                               "PredefinedMetricType": "ASGAverageCPUUtilization"}})  # fmt: skip
    asg.put_scaling_policy(AutoScalingGroupName="chat-api", PolicyName="steps", PolicyType="StepScaling",
                           AdjustmentType="ChangeInCapacity",
                           StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}])  # fmt: skip
    asg.create_auto_scaling_group(AutoScalingGroupName="workers", LaunchTemplate={"LaunchTemplateName": "web"},
                                  MinSize=1, MaxSize=1, VPCZoneIdentifier=subnets[0]["SubnetId"])  # fmt: skip
    asg.suspend_processes(AutoScalingGroupName="workers", ScalingProcesses=["Launch", "AZRebalance"])
    names = {g["AutoScalingGroupName"]: g["AutoScalingGroupARN"] for g in asg.describe_auto_scaling_groups()[
        "AutoScalingGroups"]}  # fmt: skip
    return names | {"zones": ",".join(s["AvailabilityZone"] for s in subnets[:2])}


def test_autoscaling_groups_with_their_policies_from_one_policy_listing(endpoint):
    made = make_groups(endpoint)
    aws = clients(endpoint)
    calls = record_calls(aws, "autoscaling")

    groups = collect(aws, "aws.autoscaling.group.configuration")

    assert calls == ["DescribeAutoScalingGroups", "DescribePolicies"]  # one policy listing for every group
    assert set(groups) == {made["chat-api"], made["workers"]}
    api = groups[made["chat-api"]].observed
    assert (api["min_size"], api["max_size"], api["health_check_type"]) == (2, 8, "ELB")
    assert api["availability_zones"] == made["zones"].split(",")
    assert api["scaling_policies"] == [{"name": "cpu-50", "type": "TargetTrackingScaling", "enabled": True},
                                       {"name": "steps", "type": "StepScaling", "enabled": True}]  # fmt: skip
    assert api["target_tracking"] is True and api["step_scaling"] is True and api["suspended_processes"] == []
    workers = groups[made["workers"]].observed
    assert workers["scaling_policies"] == [] and workers["target_tracking"] is False
    assert workers["suspended_processes"] == ["AZRebalance", "Launch"] and len(workers["availability_zones"]) == 1
    assert "desired_capacity" not in api and "Instances" not in groups[made["chat-api"]].raw["group"]
    assert operations(groups[made["workers"]]) == ["DescribeAutoScalingGroups", "DescribePolicies"]
    assert all(e.resource_type == "AWS::AutoScaling::AutoScalingGroup" and e.region == EU for e in groups.values())


def test_a_region_without_groups_asks_for_no_policies(endpoint):
    aws = clients(endpoint)
    calls = record_calls(aws, "autoscaling")
    assert collect(aws, "aws.autoscaling.group.configuration") == {}
    assert calls == ["DescribeAutoScalingGroups"]


@pytest.mark.parametrize("operation", ["DescribeAutoScalingGroups", "DescribePolicies"])
def test_autoscaling_denied_is_a_gap_not_groups_without_policies(endpoint, operation):
    make_groups(endpoint)
    denied = gap(clients(endpoint, faulty_session({f"autoscaling.{operation}": ("AccessDenied", 403)})),
                 "aws.autoscaling.group.configuration")  # fmt: skip
    assert denied.reason == GapReason.DENIED and denied.operation == operation


def test_bucket_lifecycle_rules_and_no_configuration_as_a_fact(endpoint):
    s3c = client("s3", endpoint, EU)
    for name in ("acme-audit-logs-eu", "acme-scratch"):
        s3c.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": EU})
    s3c.put_bucket_lifecycle_configuration(Bucket="acme-audit-logs-eu", LifecycleConfiguration={"Rules": [
        {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "logs/"}, "Expiration": {"Days": 400},
         "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}]},
        {"ID": "paused", "Status": "Disabled", "Filter": {}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
    ]})  # fmt: skip
    aws = clients(endpoint)
    calls = record_calls(aws, "s3")

    found = collect(aws, "aws.s3.bucket.lifecycle", "global")

    logs, scratch = found["arn:aws:s3:::acme-audit-logs-eu"], found["arn:aws:s3:::acme-scratch"]
    assert logs.observed == {
        "configured": True,
        "enabled_rules": [{"id": "expire", "prefix": "logs/", "tag_or_size_filter": False, "expiration_days": 400,
                           "expiration_date": None, "noncurrent_expiration_days": None,
                           "transitions": [{"days": 90, "date": None, "storage_class": "GLACIER"}],
                           "noncurrent_transitions": []}],
        "disabled_rule_count": 1,
    }  # fmt: skip
    assert scratch.observed == {"configured": False, "enabled_rules": [], "disabled_rule_count": 0}
    assert scratch.source["operations"][-1]["error"] == "NoSuchLifecycleConfiguration"
    assert logs.region == EU and calls.count("GetBucketLifecycleConfiguration") == 2


def test_bucket_lifecycle_denied_is_a_gap_not_no_rules(endpoint):
    client("s3", endpoint, EU).create_bucket(
        Bucket="acme-scratch", CreateBucketConfiguration={"LocationConstraint": EU}
    )
    session = faulty_session({"s3.GetBucketLifecycleConfiguration": ("AccessDenied", 403)})
    denied = gap(clients(endpoint, session), "aws.s3.bucket.lifecycle", "global")
    assert denied.reason == GapReason.DENIED and denied.operation == "GetBucketLifecycleConfiguration"


# --------------------------------------------------------------------------- the sandbox seeder


def vaults_arn(region: str, name: str) -> str:
    return f"arn:aws:backup:{region}:{ACCOUNT}:backup-vault:{name}"


def test_sandbox_seed_has_compliant_and_non_compliant_examples(endpoint):
    seed_base(endpoint)
    aws_resilience.seed(endpoint)
    aws = clients(endpoint, regions=(EU, US))

    def observed(kind: str, scopes: tuple[str, ...] = (EU, US)) -> dict[tuple[str, str], dict]:
        """(region, last part of the resource id) -> observed."""
        items = [e for scope in scopes for e in collect_unit(get_kind(kind), aws, scope)]
        return {(e.region, e.resource_id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]): e.observed for e in items}

    try:
        assert observed("aws.macie.account.status") == {
            (EU, "account"): {"enabled": True, "status": "ENABLED", "finding_publishing_frequency": "FIFTEEN_MINUTES"},
            (US, "account"): {"enabled": False, "status": None, "finding_publishing_frequency": None},
        }
        vaults = observed("aws.backup.vault.configuration")
        assert set(vaults) == {(EU, "acme-eu-backups"), (US, "legacy-backups")}
        assert vaults[(EU, "acme-eu-backups")]["locked"] and vaults[(EU, "acme-eu-backups")]["min_retention_days"]
        assert not vaults[(US, "legacy-backups")]["locked"]

        plans = {o["plan_name"]: o for o in observed("aws.backup.plan.rules").values()}
        assert set(plans) == {"acme-daily-eu", "legacy-weekly", "reports-archive"}
        daily = {r["rule_name"]: r for r in plans["acme-daily-eu"]["rules"]}
        assert daily["daily"]["copy_actions"][0]["destination_region"] == CENTRAL
        assert daily["monthly"]["move_to_cold_storage_after_days"] == 30
        assert plans["legacy-weekly"]["rules"][0]["delete_after_days"] == 3
        assert [p["selection_count"] for p in (plans["acme-daily-eu"], plans["reports-archive"])] == [1, 0]

        restore_tests = {region: o["plans"] for (region, _), o in observed(RESTORE_TESTING).items()}
        (weekly,) = restore_tests[EU]
        assert weekly["name"] == "acme_weekly_restore_test" and weekly["selection_window_days"] == 30
        assert weekly["vaults"] == [vaults_arn(EU, "acme-eu-backups")]
        assert [(s["name"], s["resource_type"]) for s in weekly["selections"]] == [("chat_messages", "DynamoDB"),
                                                                                 ("message_store", "RDS")]  # fmt: skip
        assert [(p["name"], p["selections"]) for p in restore_tests[US]] == [("legacy_restore_test", [])]

        groups = observed("aws.autoscaling.group.configuration")
        api, workers = groups[(EU, "chat-api")], groups[(US, "legacy-workers")]
        assert len(api["availability_zones"]) == 2 and api["min_size"] == 2 and api["target_tracking"]
        assert len(workers["availability_zones"]) == 1 and workers["min_size"] == workers["max_size"] == 1
        assert workers["scaling_policies"] == []

        rules = {name: o for (_, name), o in observed("aws.s3.bucket.lifecycle", ("global",)).items()}
        assert rules["acme-audit-logs-eu"]["enabled_rules"][0]["expiration_days"] == 400
        assert rules["acme-chat-media-eu"]["enabled_rules"][0]["noncurrent_expiration_days"] == 30
        assert rules["acme-legacy-exports"]["configured"] is False
        assert rules["acme-web-assets"]["enabled_rules"][0]["transitions"][0]["storage_class"] == "STANDARD_IA"
    finally:
        aws.close()
