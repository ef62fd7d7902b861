"""Drift: what changed for the worse or the better in one run, as events (docs/alerts.md).

Computed from the run's own transitions, so the work is O(changes), not O(resources):
- verdict intervals opened or ended in the run (per check and resource): `regressed` (was not
  failing, fails now), `new_failure` (a resource or check seen for the first time, failing),
  `remediated` (failed, does not now), `removed` (the resource is gone);
- unit outcomes (per target, kind, scope): `collection_gap` (a gap after a collection, or first
  time), `gap_resolved` (collected after a gap).
Each event names the controls its check maps to per framework, the reasons, and the evidence
intervals before and after. With `alerts.confirm_runs: N`, a failure waits (`pending`) until it has
held for N collections of its unit; one that ends sooner is a blip, never sent (`suppressed`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.store.models import (
    AlertState,
    DriftEvent,
    EvidenceState,
    Gap,
    Run,
    RunStatus,
    RunUnit,
    UnitStatus,
    VerdictState,
)
from connectors.base import canonical_json, rfc3339, sha256_hex
from controls.catalog import Catalog, Strength

FAIL = "fail"
FAILURES = ("regressed", "new_failure")
ENDINGS = ("remediated", "removed")
CHUNK = 500
WRITE_BATCH = 1000  # drift events inserted per flush


@dataclass(frozen=True)
class CheckControls:
    """Per check: control ids per framework, and whether any link is primary (severity)."""

    controls: dict[str, list[str]]
    primary: bool


def check_controls(catalog: Catalog) -> dict[str, CheckControls]:
    by_check: dict[str, dict[str, list[str]]] = defaultdict(dict)
    primary: set[str] = set()
    for framework in catalog.frameworks.values():
        for link in framework.links:
            by_check[link.check_id].setdefault(framework.id, []).append(link.control_id)
            if link.strength == Strength.PRIMARY:
                primary.add(link.check_id)
    return {
        check: CheckControls({fw: sorted(ids) for fw, ids in sorted(fws.items())}, check in primary)
        for check, fws in by_check.items()
    }


def kind_controls(catalog_map: dict[str, CheckControls], checks: Iterable[str]) -> dict[str, list[str]]:
    merged: dict[str, set[str]] = defaultdict(set)
    for check in checks:
        for fw, ids in catalog_map.get(check, CheckControls({}, False)).controls.items():
            merged[fw].update(ids)
    return {fw: sorted(ids) for fw, ids in sorted(merged.items())}


def severity(event_type: str, controls: CheckControls | None) -> str:
    """high: a failure of a check that is primary evidence for some control; medium: any other failure,
    or a collection gap; low: everything that got better or went away."""
    if event_type in FAILURES:
        return "high" if controls and controls.primary else "medium"
    return "medium" if event_type == "collection_gap" else "low"


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _evidence_ids(session: Session, run_id: int, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], Any]:
    """(target, kind, resource_id) -> {before, after}: the evidence interval the run ended and the one it
    opened; a verdict that changed on unchanged evidence (a policy or the clock moved) has the open one as both.
    Read through the run's own intervals (indexed by run), so the cost follows the run's changes."""
    es = EvidenceState
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    cols = (es.id, es.target, es.kind, es.resource_id, es.state_sha, es.first_seen_run_id, es.ended_run_id)
    for column in (es.ended_run_id, es.first_seen_run_id):
        for row in session.execute(sa.select(*cols).where(column == run_id)):
            key = (row.target, row.kind, row.resource_id)
            if key in keys:
                slot = found.setdefault(key, {"before": None, "after": None})
                slot["before" if row.ended_run_id == run_id else "after"] = {"id": row.id, "state_sha": row.state_sha}
    unchanged: dict[tuple[str, str], list[str]] = defaultdict(list)
    for target, kind, resource in keys - set(found):
        unchanged[(target, kind)].append(resource)
    for (target, kind), resources in unchanged.items():
        for part in _chunks(sorted(resources)):
            rows = session.execute(
                sa.select(*cols).where(es.target == target, es.kind == kind, es.resource_id.in_(part),
                                       es.ended_run_id.is_(None))
            )  # fmt: skip
            for row in rows:
                ref = {"id": row.id, "state_sha": row.state_sha}
                found[(row.target, row.kind, row.resource_id)] = {"before": ref, "after": ref}
    return found


def _new_event(
    run: Run,
    event_type: str,
    *,
    target: str,
    kind: str,
    scope: str,
    now: dt.datetime,
    details: dict[str, Any],
    **fields: Any,
) -> DriftEvent:
    body = {
        "run_id": run.id,
        "type": event_type,
        "target": target,
        "kind": kind,
        "scope": scope,
        "details": details,
        **{k: v for k, v in fields.items() if k != "alert_state"},
    }
    return DriftEvent(
        run_id=run.id,
        type=event_type,
        target=target,
        kind=kind,
        scope=scope,
        details=details,
        sha256=sha256_hex(canonical_json(body)),
        created_at=now,
        **fields,
    )


def _verdict_events(
    session: Session, run: Run, catalog_map: dict[str, CheckControls], now: dt.datetime, confirm_runs: int
) -> Iterator[DriftEvent]:
    """The events of the verdicts this run changed, one at a time (a first run over a large account makes
    tens of thousands: `compute_run` writes them in batches rather than holding them all)."""
    vs = VerdictState
    cols = (
        vs.id,
        vs.check_id,
        vs.target,
        vs.kind,
        vs.scope,
        vs.resource_id,
        vs.region,
        vs.verdict,
        vs.reason,
        vs.end_reason,
    )
    opened = session.execute(sa.select(*cols).where(vs.first_seen_run_id == run.id)).all()
    ended = {
        (r.target, r.check_id, r.resource_id): r
        for r in session.execute(sa.select(*cols).where(vs.ended_run_id == run.id))
    }
    transitions: list[tuple[str, Any, Any]] = []  # (type, before row, after row)
    for row in opened:
        before = ended.pop((row.target, row.check_id, row.resource_id), None)
        if before is None:
            if row.verdict == FAIL:
                transitions.append(("new_failure", None, row))
        elif before.verdict != FAIL and row.verdict == FAIL:
            transitions.append(("regressed", before, row))
        elif before.verdict == FAIL and row.verdict != FAIL:
            transitions.append(("remediated", before, row))
    transitions += [("removed", row, None) for row in ended.values() if row.end_reason == "removed"]
    if not transitions:
        return

    keys = {(r.target, r.kind, r.resource_id) for _, b, a in transitions for r in (b, a) if r is not None}
    evidence = _evidence_ids(session, run.id, keys)
    earlier = _earlier_failures(session, [(b or a) for t, b, a in transitions if t in ENDINGS])
    for event_type, before, after in transitions:
        row = after or before
        controls = catalog_map.get(row.check_id)
        details = {
            "reason": after.reason if after else None,
            "verdict": after.verdict if after else None,
            "previous": {"verdict": before.verdict, "reason": before.reason} if before else None,
            "controls": controls.controls if controls else {},
            "evidence": evidence.get((row.target, row.kind, row.resource_id), {"before": None, "after": None}),
        }
        if event_type in FAILURES:
            state = AlertState.PENDING if confirm_runs > 1 else AlertState.DUE
        elif before is not None and before.verdict == FAIL:
            state = _ending_state(earlier.get((row.target, row.check_id, row.resource_id)))
        else:
            state = AlertState.DUE  # a passing resource gone: recorded and sent to sinks that want `removed`
        yield _new_event(
            run,
            event_type,
            target=row.target,
            kind=row.kind,
            scope=row.scope,
            now=now,
            details=details,
            check_id=row.check_id,
            region=row.region,
            resource_id=row.resource_id,
            severity=severity(event_type, controls),
            alert_state=state,
            verdict_state_id=after.id if after is not None and event_type in FAILURES else None,
        )


def _earlier_failures(session: Session, rows: list[Any]) -> dict[tuple[str, str, str], DriftEvent]:
    """The newest failure event of each (target, check, resource) whose failure ends in this run."""
    latest: dict[tuple[str, str, str], DriftEvent] = {}
    by_target: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in rows:
        by_target[(row.target, row.check_id)].append(row.resource_id)
    for (target, check), resources in by_target.items():
        for part in _chunks(sorted(set(resources))):
            found = session.execute(
                sa.select(DriftEvent)
                .where(DriftEvent.check_id == check, DriftEvent.target == target, DriftEvent.resource_id.in_(part))
                .order_by(DriftEvent.id)
            ).scalars()  # by the event key index; the type is checked here, so no planner picks the type index
            for event in found:
                if event.type in FAILURES:
                    latest[(target, check, event.resource_id or "")] = event
    return latest


def _ending_state(failure: DriftEvent | None) -> AlertState:
    """A failure that was (or will be) sent gets its ending sent too; a failure still waiting for
    confirmation was a blip: neither is sent. A failure from before any event (the first run's) ends
    visibly."""
    if failure is None:
        return AlertState.DUE
    if failure.alert_state == AlertState.PENDING:
        failure.alert_state = AlertState.SUPPRESSED
        failure.details = {**failure.details, "blip": True}
        return AlertState.SUPPRESSED
    return AlertState.SUPPRESSED if failure.alert_state == AlertState.SUPPRESSED else AlertState.DUE


def _previous_outcome(session: Session, unit: Any, run_id: int) -> str | None:
    ru = RunUnit
    return session.execute(
        sa.select(ru.status)
        .where(
            ru.target == unit.target,
            ru.kind == unit.kind,
            ru.scope == unit.scope,
            ru.run_id < run_id,
            ru.status.in_((UnitStatus.COLLECTED, UnitStatus.GAP)),
        )
        .order_by(ru.run_id.desc())
        .limit(1)
    ).scalar()


def _previous_collected(session: Session, unit: Any, run_id: int) -> int | None:
    ru = RunUnit
    return session.execute(
        sa.select(sa.func.max(ru.run_id)).where(
            ru.target == unit.target, ru.kind == unit.kind, ru.scope == unit.scope, ru.run_id < run_id,
            ru.status == UnitStatus.COLLECTED)
    ).scalar()  # fmt: skip


def _unit_events(
    session: Session,
    run: Run,
    catalog_map: dict[str, CheckControls],
    checks_by_kind: dict[str, list[str]],
    now: dt.datetime,
) -> list[DriftEvent]:
    """Gap transitions. Only units with a gap now, or a gap at some earlier time, are looked at."""
    ru = RunUnit
    units = session.execute(
        sa.select(ru.target, ru.kind, ru.scope, ru.status).where(
            ru.run_id == run.id, ru.status.in_((UnitStatus.COLLECTED, UnitStatus.GAP))
        )
    ).all()
    gapped_before = {
        (r.target, r.kind, r.scope)
        for r in session.execute(
            sa.select(Gap.target, Gap.kind, Gap.scope)
            .where(Gap.run_id < run.id, Gap.target.in_(run.targets))
            .distinct()
        )
    }
    stale_marks = _stale_marks(
        session, {(u.target, u.kind, u.scope) for u in units if u.status == UnitStatus.COLLECTED}
    )
    gaps = {
        (g.target, g.kind, g.scope): g for g in session.execute(sa.select(Gap).where(Gap.run_id == run.id)).scalars()
    }
    events = []
    for unit in units:
        key = (unit.target, unit.kind, unit.scope)
        if unit.status == UnitStatus.GAP:
            if _previous_outcome(session, unit, run.id) == UnitStatus.GAP:
                continue  # the same gap goes on: it was raised when it began
            gap = gaps.get(key)
            event_type = "collection_gap"
            details = {
                "reason": f"{gap.reason}: {gap.message}" if gap else "not collected",
                "gap_reason": gap.reason if gap else None,
                "operation": gap.operation if gap else None,
            }
        elif key in gapped_before and _previous_outcome(session, unit, run.id) == UnitStatus.GAP:
            event_type = "gap_resolved"
            details = {"reason": "collected again"}
        elif key in stale_marks and _previous_collected(session, unit, run.id) in stale_marks[key]:
            event_type = "gap_resolved"
            details = {"reason": "collected again after its evidence went stale"}
        else:
            continue
        details["controls"] = kind_controls(catalog_map, checks_by_kind.get(unit.kind, []))
        events.append(
            _new_event(
                run,
                event_type,
                target=unit.target,
                kind=unit.kind,
                scope=unit.scope,
                now=now,
                details=details,
                region=unit.scope,
                severity=severity(event_type, None),
                alert_state=AlertState.DUE,
            )
        )
    return events


def _stale_marks(session: Session, keys: set[tuple[str, str, str]]) -> dict[tuple[str, str, str], set[int]]:
    """Per unit, the last collected runs for which a `stale` collection_gap was already raised."""
    marks: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    if not keys:
        return marks
    targets = sorted({k[0] for k in keys})
    rows = session.execute(
        sa.select(DriftEvent.target, DriftEvent.kind, DriftEvent.scope, DriftEvent.details).where(
            DriftEvent.type == "collection_gap", DriftEvent.target.in_(targets)
        )
    )
    for row in rows:
        key = (row.target, row.kind, row.scope)
        last = (row.details or {}).get("last_collected_run")
        if key in keys and last is not None:
            marks[key].add(int(last))
    return marks


def _stale_events(session: Session, run: Run, catalog_map: dict[str, CheckControls],
                  checks_by_kind: dict[str, list[str]], now: dt.datetime) -> list[DriftEvent]:  # fmt: skip
    """Units of any target whose last successful collection outlived its freshness limit: one
    `collection_gap` (reason `stale`) per such unit and collection, raised by whichever run sees it first."""
    from collector.compliance import is_stale, latest_units

    stale = [u for units in latest_units(session, None).values() for u in units if is_stale(u, now)]
    marks = _stale_marks(session, {(u.target, u.kind, u.scope) for u in stale})
    events = []
    for u in stale:
        if u.run_id in marks.get((u.target, u.kind, u.scope), set()):
            continue
        details = {
            "reason": f"stale: last collected in run {u.run_id}, current only until {rfc3339(u.fresh_until)}",
            "gap_reason": "stale",
            "last_collected_run": u.run_id,
            "fresh_until": rfc3339(u.fresh_until),
            "controls": kind_controls(catalog_map, checks_by_kind.get(u.kind, [])),
        }
        events.append(_new_event(run, "collection_gap", target=u.target, kind=u.kind, scope=u.scope, now=now,
                                 details=details, region=u.scope, severity=severity("collection_gap", None),
                                 alert_state=AlertState.DUE))  # fmt: skip
    return events


def _confirm(session: Session, run: Run, confirm_runs: int) -> None:
    """Pending failures of this run's targets: sent once they held for `confirm_runs` collections of their
    unit, dropped as a blip when their failing verdict ended sooner. A few queries per unit, not per event."""
    pending = list(session.execute(
        sa.select(DriftEvent).where(DriftEvent.alert_state == AlertState.PENDING, DriftEvent.target.in_(run.targets))
    ).scalars())  # fmt: skip
    if not pending:
        return
    ended: dict[int, int | None] = {}
    for part in _chunks([e.verdict_state_id for e in pending if e.verdict_state_id]):
        rows = session.execute(sa.select(VerdictState.id, VerdictState.ended_run_id).where(VerdictState.id.in_(part)))
        ended.update((row.id, row.ended_run_id) for row in rows)
    collected: dict[tuple[str, str, str], list[int]] = {}
    for key in {(e.target, e.kind, e.scope) for e in pending}:
        first = min(e.run_id for e in pending if (e.target, e.kind, e.scope) == key)
        collected[key] = list(session.execute(
            sa.select(RunUnit.run_id).where(
                RunUnit.target == key[0], RunUnit.kind == key[1], RunUnit.scope == key[2],
                RunUnit.status == UnitStatus.COLLECTED, RunUnit.run_id >= first, RunUnit.run_id <= run.id)
        ).scalars())  # fmt: skip
    confirmed = []
    for event in pending:
        if event.verdict_state_id not in ended or (ended[event.verdict_state_id] or run.id + 1) <= run.id:
            event.alert_state = AlertState.SUPPRESSED
            event.details = {**event.details, "blip": True}
            continue
        held = sum(1 for r in collected[(event.target, event.kind, event.scope)] if r >= event.run_id)
        if held >= confirm_runs:
            confirmed.append((event, held))
    if not confirmed:
        return
    blips: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    checks = sorted({e.check_id or "" for e, _ in confirmed})
    targets = sorted({e.target for e, _ in confirmed})
    for part in _chunks(sorted({e.resource_id or "" for e, _ in confirmed})):
        for row in session.execute(  # by (check, target, resource): the event key index, not a scan
            sa.select(DriftEvent.id, DriftEvent.check_id, DriftEvent.target, DriftEvent.resource_id, DriftEvent.type,
                      DriftEvent.alert_state).where(
                DriftEvent.check_id.in_(checks), DriftEvent.target.in_(targets), DriftEvent.resource_id.in_(part))
        ):  # fmt: skip
            if row.type in FAILURES and row.alert_state == AlertState.SUPPRESSED:
                blips[(row.check_id, row.target, row.resource_id)].append(row.id)
    for event, held in confirmed:
        key = (event.check_id, event.target, event.resource_id)
        earlier = sum(1 for i in blips.get(key, []) if i < (event.id or 0))
        event.alert_state = AlertState.DUE
        event.details = {**event.details, "confirmed_in_run": run.id, "held_runs": held, "blips_before": earlier}


def compute_run(engine: sa.Engine, run_id: int, catalog: Catalog, confirm_runs: int, now: dt.datetime) -> list[int]:
    """Drift events of one sealed run, and the confirmation of earlier pending failures; once per run."""
    from controls.base import registered_checks

    catalog_map = check_controls(catalog)
    checks_by_kind: dict[str, list[str]] = defaultdict(list)
    for spec in registered_checks():
        for kind in spec.reads:
            checks_by_kind[kind].append(spec.id)
    with Session(engine) as session, session.begin():
        run = session.get(Run, run_id, with_for_update=engine.dialect.name == "postgresql")
        if run is None or run.drift_at is not None or run.status == RunStatus.RUNNING:
            return []
        # Unit and stale events are computed first, as before any event of this run is written; all are
        # written in the order verdict, unit, stale.
        others = _unit_events(session, run, catalog_map, checks_by_kind, now)
        others += _stale_events(session, run, catalog_map, checks_by_kind, now)
        ids: list[int] = []
        batch: list[DriftEvent] = []
        for event in _verdict_events(session, run, catalog_map, now, confirm_runs):
            batch.append(event)
            if len(batch) == WRITE_BATCH:
                ids += _write(session, batch)
                batch = []
        ids += _write(session, batch + others)
        _confirm(session, run, confirm_runs)
        run.drift_at = now
        return ids


def _write(session: Session, events: list[DriftEvent]) -> list[int]:
    """Insert these events and let the session forget them (the caller keeps only their ids)."""
    session.add_all(events)
    session.flush()
    for event in events:
        session.expunge(event)
    return [e.id for e in events if e.id is not None]


def undrifted_runs(engine: sa.Engine, targets: list[str]) -> list[int]:
    """Sealed runs of these targets whose drift was not computed yet (say, the process died after sealing)."""
    with Session(engine) as session:
        rows = session.execute(
            sa.select(Run.id, Run.targets)
            .where(Run.drift_at.is_(None), Run.status != RunStatus.RUNNING)
            .order_by(Run.id)
        ).all()
    wanted = set(targets)
    return [r.id for r in rows if wanted.intersection(r.targets)]


# --------------------------------------------------------------------------- reading


def event_record(event: DriftEvent) -> dict[str, Any]:
    """The JSON shape of one event (docs/cli.md, `drift`; also the webhook's `events[]`)."""
    d = event.details or {}
    return {
        "id": event.id,
        "type": event.type,
        "run_id": event.run_id,
        "at": rfc3339(event.created_at),
        "severity": event.severity,
        "alert_state": event.alert_state,
        "target": event.target,
        "check_id": event.check_id,
        "kind": event.kind,
        "scope": event.scope,
        "region": event.region,
        "resource_id": event.resource_id,
        "reason": d.get("reason"),
        "previous": d.get("previous"),
        "controls": d.get("controls", {}),
        "evidence": d.get("evidence"),
        "sha256": event.sha256,
    }


def list_events(
    engine: sa.Engine,
    *,
    since: dt.datetime | None = None,
    types: list[str] | None = None,
    target: str | None = None,
    run_id: int | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    query = sa.select(DriftEvent).order_by(DriftEvent.id)
    if since is not None:
        query = query.where(DriftEvent.created_at >= since)
    if types:
        query = query.where(DriftEvent.type.in_(types))
    if target:
        query = query.where(DriftEvent.target == target)
    if run_id is not None:
        query = query.where(DriftEvent.run_id == run_id)
    if limit:
        query = query.order_by(None).order_by(DriftEvent.id.desc()).limit(limit)
    with Session(engine) as session:
        events = list(session.execute(query).scalars())
        events.sort(key=lambda e: e.id or 0)
        deliveries = _deliveries(session, [e.id for e in events if e.id is not None])
    return [event_record(e) | {"deliveries": deliveries.get(e.id or 0, [])} for e in events]


def _deliveries(session: Session, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    from collector.store.models import DriftDelivery

    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for part in _chunks(ids):
        for d in session.execute(
            sa.select(DriftDelivery).where(DriftDelivery.event_id.in_(part)).order_by(DriftDelivery.sink)
        ).scalars():
            out[d.event_id].append(
                {
                    "sink": d.sink,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_attempt_at": rfc3339(d.last_attempt_at),
                    "delivered_at": rfc3339(d.delivered_at) if d.delivered_at else None,
                    "error": d.last_error,
                }
            )
    return out
