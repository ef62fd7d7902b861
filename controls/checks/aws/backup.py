"""AWS Backup checks: vaults locked, plans that keep backups long enough, copy them away and protect something,
and recovery points that are test-restored on a schedule."""

from __future__ import annotations

import datetime as dt

from controls.base import Policy, Subject, Verdict, check

NO_RESOURCES = "plan protects no resources (no resource assignments)"


def _days(days: int | None) -> str:
    return "forever" if days is None else f"{days} day{'' if days == 1 else 's'}"


@check("aws.backup.vault.lock_enabled", reads="aws.backup.vault.configuration")
def vault_lock_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The vault has Vault Lock with a minimum retention: its recovery points cannot be deleted early."""
    o = subject.observed
    if not o["locked"]:
        return Verdict.failed("no Vault Lock: recovery points can be deleted at any time by anyone allowed to")
    if o["min_retention_days"] is None:
        return Verdict.failed("Vault Lock without a minimum retention: recovery points can still be deleted early")
    retention = f"min {o['min_retention_days']} days" + (
        f", max {o['max_retention_days']} days" if o["max_retention_days"] is not None else ""
    )
    if o["lock_date"] is None:
        return Verdict.passed(f"Vault Lock in governance mode ({retention}): removable by users with permission")
    lock_date = dt.datetime.fromisoformat(o["lock_date"])
    if subject.at is not None and lock_date <= subject.at:
        return Verdict.passed(f"Vault Lock in compliance mode ({retention}), immutable since {o['lock_date']}")
    return Verdict.passed(f"Vault Lock in compliance mode ({retention}), changeable until {o['lock_date']}")


@check("aws.backup.plan.resources_assigned", reads="aws.backup.plan.rules")
def plan_resources_assigned(subject: Subject, policy: Policy) -> Verdict:
    """The backup plan has at least one resource assignment, so it backs something up."""
    count = subject.observed["selection_count"]
    if count == 0:
        return Verdict.failed(NO_RESOURCES)
    return Verdict.passed(f"{count} resource assignment{'' if count == 1 else 's'}")


@check("aws.backup.plan.retention_sufficient", reads="aws.backup.plan.rules")
def plan_retention_sufficient(subject: Subject, policy: Policy) -> Verdict:
    """Every rule of the plan keeps its recovery points at least min_backup_retention_days."""
    o = subject.observed
    if o["selection_count"] == 0:
        return Verdict.not_applicable(NO_RESOURCES)
    if not o["rules"]:
        return Verdict.not_applicable("plan has no rules")
    minimum = policy.min_backup_retention_days
    short = [r for r in o["rules"] if r["delete_after_days"] is not None and r["delete_after_days"] < minimum]
    if short:
        listed = ", ".join(f"{r['rule_name']} {_days(r['delete_after_days'])}" for r in short)
        return Verdict.failed(f"recovery points kept too briefly: {listed} (min {minimum})")
    listed = ", ".join(f"{r['rule_name']} {_days(r['delete_after_days'])}" for r in o["rules"])
    return Verdict.passed(f"every rule keeps recovery points at least {minimum} days: {listed}")


@check("aws.backup.plan.cross_region_copy", reads="aws.backup.plan.rules")
def plan_cross_region_copy(subject: Subject, policy: Policy) -> Verdict:
    """At least one rule of the plan copies its recovery points to a vault in another region."""
    o = subject.observed
    if o["selection_count"] == 0:
        return Verdict.not_applicable(NO_RESOURCES)
    copies = [c for r in o["rules"] for c in r["copy_actions"]]
    away = sorted({c["destination_region"] for c in copies if c["destination_region"] not in (None, subject.region)})
    if away:
        return Verdict.passed(f"recovery points copied to {', '.join(away)}")
    if copies:
        return Verdict.failed(f"copies stay in {subject.region}: no copy to another region")
    return Verdict.failed("no rule copies recovery points to another region")


def _plans(count: int) -> str:
    return f"{count} restore testing plan{'' if count == 1 else 's'}"


@check("aws.backup.restore_testing.scheduled", reads="aws.backup.restore_testing.plans")
def restore_testing_scheduled(subject: Subject, policy: Policy) -> Verdict:
    """A restore testing plan of the region has a schedule and selects resources: recovery points are test-restored."""
    plans = subject.observed["plans"]
    if not plans:
        return Verdict.failed(f"no restore testing plan: recovery points in {subject.region} are never test-restored")
    testing = [p for p in plans if p["schedule"] and p["selections"]]
    idle = ", ".join(p["name"] for p in plans if not p["selections"])
    if testing:
        listed = ", ".join(f"{p['name']} ({p['schedule']})" for p in testing)
        verb = "tests" if len(testing) == 1 else "test"
        unused = f"; no resources selected by {idle}" if idle else ""
        return Verdict.passed(f"{_plans(len(testing))} {verb} recovery points: {listed}{unused}")
    if idle:
        return Verdict.failed(f"restore testing plan(s) {idle} select no resources: nothing is test-restored")
    unscheduled = ", ".join(p["name"] for p in plans)
    return Verdict.failed(f"restore testing plan(s) {unscheduled} have no schedule: nothing is test-restored")
