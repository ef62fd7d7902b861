"""Control status at a point in time, findings and coverage: queries over the stored verdicts and units.

A control's status, per framework:
- `non_compliant`: a mapped check fails on some resource;
- `not_collected`: nothing fails, but a unit of a kind a mapped check reads was not collected
  (its latest collection up to T was a gap, or it was never collected), or its latest successful
  collection is older than its freshness limit at T (`stale`: evidence too old to count);
- `compliant`: every mapped check passes (or does not apply) on every resource, at least one passes;
- `not_applicable`: mapped checks found nothing to judge (no such resources), nothing missing;
- `manual`: no automated check is mapped; attachments may cover it. Never reported as passing.
Checks of a provider this store has never collected from (no GCP target, say) are left out.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.store.models import Attachment, RunUnit, UnitStatus, VerdictState
from connectors.base import rfc3339, utcnow
from controls.base import CheckSpec, registered_checks
from controls.catalog import Catalog, Framework, Strength


@dataclass
class CheckState:
    """What is known of one check at T: verdicts per status and units of its kinds not collected."""

    passed: int = 0
    failed: int = 0
    not_applicable: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ControlStatus:
    id: str
    title: str
    group: str
    status: str
    checks: list[dict[str, str]]
    resources: int
    failures: int
    gaps: int
    attachments: int

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "group": self.group, "status": self.status,
                "checks": self.checks, "resources": self.resources, "failures": self.failures,
                "gaps": self.gaps, "attachments": self.attachments}  # fmt: skip


def valid_at(column_start: Any, column_end: Any, at: dt.datetime | None) -> Any:
    if at is None:
        return column_end.is_(None)
    return sa.and_(column_start <= at, sa.or_(column_end.is_(None), column_end > at))


def verdicts_at(
    session: Session, at: dt.datetime | None, targets: Iterable[str] | None = None, checks: Iterable[str] | None = None
) -> list[VerdictState]:
    query = sa.select(VerdictState).where(valid_at(VerdictState.first_seen_at, VerdictState.ended_at, at))
    if targets:
        query = query.where(VerdictState.target.in_(list(targets)))
    if checks is not None:
        query = query.where(VerdictState.check_id.in_(list(checks)))
    return list(session.execute(query.order_by(VerdictState.check_id, VerdictState.resource_id)).scalars())


def verdict_counts_at(
    session: Session, at: dt.datetime | None, targets: Iterable[str] | None = None, checks: Iterable[str] | None = None
) -> list[tuple[str, str, int]]:
    """(check, verdict, resources) at T, counted by the database: for pages that show counts, not rows."""
    query = sa.select(VerdictState.check_id, VerdictState.verdict, sa.func.count()).where(
        valid_at(VerdictState.first_seen_at, VerdictState.ended_at, at)
    )
    if targets:
        query = query.where(VerdictState.target.in_(list(targets)))
    if checks is not None:
        query = query.where(VerdictState.check_id.in_(list(checks)))
    return [(c, v, n) for c, v, n in session.execute(query.group_by(VerdictState.check_id, VerdictState.verdict))]


def latest_units(session: Session, at: dt.datetime | None) -> dict[str, list[RunUnit]]:
    """Per kind, the newest outcome (up to T) of each of its units."""
    query = sa.select(RunUnit.target, RunUnit.kind, RunUnit.scope, sa.func.max(RunUnit.run_id).label("run_id"))
    if at is not None:
        query = query.where(RunUnit.collected_at <= at)
    latest = query.group_by(RunUnit.target, RunUnit.kind, RunUnit.scope).subquery()
    rows = session.execute(
        sa.select(RunUnit).join(
            latest,
            sa.and_(RunUnit.run_id == latest.c.run_id, RunUnit.target == latest.c.target,
                    RunUnit.kind == latest.c.kind, RunUnit.scope == latest.c.scope),
        )
    ).scalars()  # fmt: skip
    out: dict[str, list[RunUnit]] = defaultdict(list)
    for unit in rows:
        out[unit.kind].append(unit)
    return out


def is_stale(unit: RunUnit, at: dt.datetime) -> bool:
    """A collected unit whose freshness limit passed by `at`: it counts as a gap (reason `stale`)."""
    return unit.status == UnitStatus.COLLECTED and unit.fresh_until is not None and unit.fresh_until < at


def check_states(
    session: Session,
    at: dt.datetime | None,
    targets: Iterable[str] | None = None,
    *,
    checks: Collection[str] | None = None,
    failures: bool = True,
) -> dict[str, CheckState]:
    """What is known of each check at T. `checks` limits it to those; `failures=False` counts verdicts in the
    database and leaves `CheckState.failures` empty (for pages that only show counts)."""
    wanted = set(targets or [])
    states: dict[str, CheckState] = defaultdict(CheckState)
    if failures:
        for v in verdicts_at(session, at, wanted, checks):
            state = states[v.check_id]
            if v.verdict == "fail":
                state.failed += 1
                state.failures.append({"target": v.target, "resource_id": v.resource_id, "region": v.region,
                                       "reason": v.reason})  # fmt: skip
            elif v.verdict == "pass":
                state.passed += 1
            else:
                state.not_applicable += 1
    else:
        for check_id, verdict, n in verdict_counts_at(session, at, wanted, checks):
            state = states[check_id]
            if verdict == "fail":
                state.failed += n
            elif verdict == "pass":
                state.passed += n
            else:
                state.not_applicable += n
    units = latest_units(session, at)
    moment = at or utcnow()
    for spec in registered_checks():
        if checks is not None and spec.id not in checks:
            continue
        state = states[spec.id]
        seen = [u for kind in spec.reads for u in units.get(kind, []) if not wanted or u.target in wanted]
        if not seen:
            state.gaps.append({"kind": ", ".join(spec.reads), "target": None, "scope": None,
                               "reason": "never collected"})  # fmt: skip
        for kind in spec.reads:
            for u in (u for u in units.get(kind, []) if not wanted or u.target in wanted):
                if u.status == UnitStatus.GAP:
                    state.gaps.append({"kind": kind, "target": u.target, "scope": u.scope, "reason": "gap",
                                       "run_id": u.run_id})  # fmt: skip
                elif is_stale(u, moment):
                    state.gaps.append({"kind": kind, "target": u.target, "scope": u.scope, "reason": "stale",
                                       "run_id": u.run_id, "fresh_until": rfc3339(u.fresh_until)})  # fmt: skip
    return states


def providers_in_use(session: Session) -> set[str]:
    kinds = session.execute(sa.select(RunUnit.kind).distinct()).scalars()
    return {kind.split(".", 1)[0] for kind in kinds}


def _attachment_counts(session: Session, framework: str, at: dt.datetime | None) -> dict[str, int]:
    query = sa.select(Attachment.control_id, sa.func.count()).where(Attachment.framework == framework)
    if at is not None:
        query = query.where(Attachment.attached_at <= at, Attachment.effective_date <= at.date())
    return dict(session.execute(query.group_by(Attachment.control_id)).all())


def control_statuses(
    engine: sa.Engine,
    catalog: Catalog,
    framework_id: str,
    at: dt.datetime | None = None,
    targets: Iterable[str] | None = None,
    states: dict[str, CheckState] | None = None,
) -> list[ControlStatus]:
    """`states` (from `check_states`) may be given by a caller that needs them too, to read them once."""
    framework = catalog.framework(framework_id)
    with Session(engine) as session:
        states = states if states is not None else check_states(session, at, targets)
        attached = _attachment_counts(session, framework_id, at)
        providers = providers_in_use(session)
    # Checks of a provider with no target in this store (GCP checks for an AWS-only user) do not count.
    # Before anything was collected, every check counts (so mapped controls read not_collected).
    checks = {c.id: c for c in registered_checks() if c.provider in providers or not providers}
    by_control = framework.links_by_control()
    out = []
    for control in framework.controls:
        links = [link for link in by_control.get(control.id, []) if link.check_id in checks]
        linked = [{"check": link.check_id, "strength": link.strength.value, "rationale": link.rationale}
                  for link in links]  # fmt: skip
        if not links:
            out.append(ControlStatus(control.id, control.title, control.group, "manual", [], 0, 0, 0,
                                     attached.get(control.id, 0)))  # fmt: skip
            continue
        mapped = [states[link.check_id] for link in links]
        failures = sum(s.failed for s in mapped)
        gaps = sum(len(s.gaps) for s in mapped)
        resources = sum(s.passed + s.failed + s.not_applicable for s in mapped)
        passed = sum(s.passed for s in mapped)
        if failures:
            status = "non_compliant"
        elif gaps:
            status = "not_collected"
        elif passed:
            status = "compliant"
        else:
            status = "not_applicable"
        out.append(ControlStatus(control.id, control.title, control.group, status, linked, resources, failures,
                                 gaps, attached.get(control.id, 0)))  # fmt: skip
    return out


def findings(
    engine: sa.Engine,
    catalog: Catalog,
    *,
    framework: str | None = None,
    control: str | None = None,
    check: str | None = None,
    target: str | None = None,
    status: str | None = None,
    at: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """One row per check and resource: verdict, reason, region, and the controls it maps to."""
    wanted_checks: set[str] | None = None
    fw: Framework | None = catalog.framework(framework) if framework else None
    if fw and control:
        fw.control(control)
        wanted_checks = {link.check_id for link in fw.links if link.control_id == control}
    if check:
        wanted_checks = {check} if wanted_checks is None else wanted_checks & {check}
    links_by_check = {f.id: f.links_by_check() for f in catalog.frameworks.values()}
    with Session(engine) as session:
        rows = verdicts_at(session, at, [target] if target else None)
    out = []
    for v in rows:
        if wanted_checks is not None and v.check_id not in wanted_checks:
            continue
        if status and v.verdict != status:
            continue
        controls = {fid: [link.control_id for link in links.get(v.check_id, [])]
                    for fid, links in links_by_check.items()}  # fmt: skip
        if fw and not controls[fw.id]:
            continue
        out.append({"check": v.check_id, "target": v.target, "kind": v.kind, "resource_id": v.resource_id,
                    "region": v.region, "verdict": v.verdict, "reason": v.reason,
                    "since": rfc3339(v.first_seen_at), "since_run": v.first_seen_run_id,
                    "controls": controls if not fw else {fw.id: controls[fw.id]}})  # fmt: skip
    return out


def coverage(catalog: Catalog) -> list[dict[str, Any]]:
    """Per framework: controls with a primary automated check, with supporting checks only, manual only."""
    known: dict[str, CheckSpec] = {c.id: c for c in registered_checks()}
    out = []
    for fw in catalog.frameworks.values():
        by_control = fw.links_by_control()
        primary = supporting = manual = 0
        for control in fw.controls:
            strengths = {link.strength for link in by_control.get(control.id, []) if link.check_id in known}
            if Strength.PRIMARY in strengths:
                primary += 1
            elif strengths:
                supporting += 1
            else:
                manual += 1
        out.append({"framework": fw.id, "title": fw.title, "controls": len(fw.controls), "primary": primary,
                    "supporting_only": supporting, "manual_only": manual})  # fmt: skip
    return out
