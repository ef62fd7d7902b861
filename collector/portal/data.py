"""What the portal shows, as plain data: the pages render it as HTML and `/api/` returns it as JSON.

Each read is bounded by what one page needs: a control page reads the verdicts of that control's
checks only, counts in the database where it shows counts, and builds the verdict timeline from the
counts at the window's start plus the changes inside it (so its cost follows the changes, not the days).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.compliance import (
    check_states,
    control_statuses,
    coverage,
    is_stale,
    latest_units,
    providers_in_use,
    valid_at,
)
from collector.store.chain import verify as verify_chain
from collector.store.models import (
    AccessEntry,
    Attachment,
    Blob,
    DriftEvent,
    EvidenceState,
    Gap,
    Run,
    RunUnit,
    VerdictState,
)
from collector.store.query import run_counts, run_record
from connectors.base import rfc3339, utcnow
from controls.base import registered_checks
from controls.catalog import Catalog

FAILING_SHOWN = 100
DRIFT_SHOWN = 50
RUNS_SHOWN = 100
HISTORY_SHOWN = 200
DEFAULT_WINDOW = dt.timedelta(days=30)


class NotFound(Exception):
    """No such framework, control, evidence item or run: 404."""


def ts(moment: dt.datetime | None) -> str | None:
    return rfc3339(moment) if moment is not None else None


@dataclass(frozen=True)
class View:
    """The moment and window a page is read for, already checked against the viewer's scope."""

    at: dt.datetime | None  # None: now (open intervals)
    start: dt.datetime  # the window for timelines, drift and history
    end: dt.datetime

    @property
    def moment(self) -> dt.datetime:
        return self.at or utcnow()


@dataclass
class Portal:
    """The store and catalog a portal reads, with the chain verification it keeps up to date."""

    engine: sa.Engine
    catalog: Catalog
    chain: ChainStatus = field(default_factory=lambda: ChainStatus())

    def framework(self, framework_id: str) -> Any:
        try:
            return self.catalog.framework(framework_id)
        except KeyError:
            raise NotFound(f"no framework {framework_id!r}") from None

    def checks_of(self, framework_id: str) -> dict[str, set[str]]:
        """Per control of the framework: the registered checks mapped to it."""
        known = {c.id for c in registered_checks()}
        out: dict[str, set[str]] = defaultdict(set)
        for link in self.framework(framework_id).links:
            if link.check_id in known:
                out[link.control_id].add(link.check_id)
        return out

    def kinds_of(self, frameworks: tuple[str, ...] | None) -> set[str] | None:
        """The evidence kinds the checks of these frameworks read (None: every kind)."""
        if frameworks is None:
            return None
        mapped = {
            link.check_id
            for fw in frameworks
            if fw in self.catalog.frameworks
            for link in self.catalog.frameworks[fw].links
        }
        return {kind for c in registered_checks() if c.id in mapped for kind in c.reads}


# ---------------------------------------------------------------------------------------------- frameworks


def frameworks_list(portal: Portal, allowed: tuple[str, ...] | None) -> list[dict[str, Any]]:
    cover = {c["framework"]: c for c in coverage(portal.catalog)}
    return [
        {
            "id": fw.id,
            "title": fw.title,
            "version": fw.version,
            "controls": len(fw.controls),
            "coverage": {k: cover[fw.id][k] for k in ("primary", "supporting_only", "manual_only")},
        }
        for fw in portal.catalog.frameworks.values()
        if allowed is None or fw.id in allowed
    ]


def framework_overview(portal: Portal, framework_id: str, view: View) -> dict[str, Any]:
    fw = portal.framework(framework_id)
    mapped = set().union(*portal.checks_of(framework_id).values())
    with Session(portal.engine) as session:
        states = check_states(session, view.at, checks=mapped, failures=False)
    statuses = control_statuses(portal.engine, portal.catalog, framework_id, view.at, states=states)
    counts = Counter(s.status for s in statuses)
    families: dict[str, Counter] = defaultdict(Counter)
    for s in statuses:
        families[s.group or "controls"][s.status] += 1
    cover = next(c for c in coverage(portal.catalog) if c["framework"] == framework_id)
    return {
        "framework": {"id": fw.id, "title": fw.title, "version": fw.version},
        "at": ts(view.at),
        "counts": dict(counts),
        "families": {group: dict(n) for group, n in sorted(families.items())},
        "coverage": {k: cover[k] for k in ("controls", "primary", "supporting_only", "manual_only")},
        "controls": [s.as_dict() | {"checks": len(s.checks)} for s in statuses],
    }


# ------------------------------------------------------------------------------------------------ controls


def control_detail(portal: Portal, framework_id: str, control_id: str, view: View) -> dict[str, Any]:
    fw = portal.framework(framework_id)
    try:
        control = fw.control(control_id)
    except KeyError:
        raise NotFound(f"{framework_id} has no control {control_id!r}") from None
    with Session(portal.engine) as session:
        # As for the status: checks of a provider this store has never collected from do not count.
        providers = providers_in_use(session)
        checks = {c for c in portal.checks_of(framework_id).get(control_id, set())
                  if c.split(".", 1)[0] in providers or not providers}  # fmt: skip
        specs = {c.id: c for c in registered_checks() if c.id in checks}
        states = check_states(session, view.at, checks=checks, failures=False)
        status = next(
            s
            for s in control_statuses(portal.engine, portal.catalog, framework_id, view.at, states=states)
            if s.id == control_id
        )
        # the failing count at T is what check_states just counted (same checks, same moment)
        failing_total = sum(states[c].failed for c in checks)
        failing = _failing(session, checks, view.at) if failing_total else []
        timeline = _timeline(session, checks, view.start, min(view.end, utcnow()))
        drift, drift_total = _drift(session, checks, view.start, view.end)
        attachments = _attachments(session, framework_id, control_id, view.at)
    links = {link.check_id: link for link in fw.links_by_control().get(control_id, [])}
    return {
        "framework": {"id": fw.id, "title": fw.title},
        "control": {
            "id": control.id,
            "title": control.title,
            "group": control.group,
            "status": status.status,
            "resources": status.resources,
            "failures": status.failures,
            "gaps": status.gaps,
            "attachments": status.attachments,
        },
        "at": ts(view.at),
        "window": {"from": ts(view.start), "to": ts(view.end)},
        "checks": [
            {
                "check": cid,
                "strength": links[cid].strength.value,
                "rationale": links[cid].rationale,
                "reads": list(specs[cid].reads),
                "description": specs[cid].description,
                "passed": states[cid].passed,
                "failed": states[cid].failed,
                "not_applicable": states[cid].not_applicable,
            }
            for cid in sorted(specs, key=lambda c: (links[c].strength.value != "primary", c))
        ],
        "failing": failing,
        "failing_total": failing_total,
        "gaps": [g | {"check": cid} for cid in sorted(specs) for g in states[cid].gaps],
        "timeline": timeline,
        "drift": drift,
        "drift_total": drift_total,
        "attachments": attachments,
    }


def _failing(session: Session, checks: set[str], at: dt.datetime | None) -> list[dict[str, Any]]:
    """The failing verdicts at T (the first FAILING_SHOWN), each with the evidence item it judged (looked up
    together: one query per target and kind, not one per row)."""
    if not checks:
        return []
    vs = VerdictState
    where = sa.and_(vs.check_id.in_(checks), vs.verdict == "fail", valid_at(vs.first_seen_at, vs.ended_at, at))
    rows = (
        session.execute(
            sa.select(vs).where(where).order_by(vs.check_id, vs.target, vs.resource_id).limit(FAILING_SHOWN)
        )
        .scalars()
        .all()
    )
    es = EvidenceState
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for v in rows:
        wanted[(v.target, v.kind)].add(v.resource_id)
    state_ids: dict[tuple[str, str, str], int] = {}
    for (target, kind), resource_ids in wanted.items():
        found = session.execute(
            sa.select(es.resource_id, sa.func.max(es.id))
            .where(
                es.target == target,
                es.kind == kind,
                es.resource_id.in_(sorted(resource_ids)),
                valid_at(es.first_seen_at, es.ended_at, at),
            )
            .group_by(es.resource_id)
        )
        state_ids.update({(target, kind, resource_id): state_id for resource_id, state_id in found})
    return [
        {
            "check": v.check_id,
            "target": v.target,
            "kind": v.kind,
            "resource_id": v.resource_id,
            "region": v.region,
            "reason": v.reason,
            "since": ts(v.first_seen_at),
            "evidence_id": state_ids.get((v.target, v.kind, v.resource_id)),
        }
        for v in rows
    ]


def _timeline(session: Session, checks: set[str], start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Passing and failing results at the end of each day of the window: the counts at its start, plus the
    verdict intervals that opened or ended inside it."""
    days: list[dt.datetime] = []
    edge = dt.datetime.combine(start.date(), dt.time(), dt.UTC) + dt.timedelta(days=1)
    while edge < end:
        days.append(edge)
        edge += dt.timedelta(days=1)
    days.append(end)
    series = {"pass": [0] * len(days), "fail": [0] * len(days)}
    if checks and end > start:
        vs = VerdictState
        wanted = sa.and_(vs.check_id.in_(checks), vs.verdict.in_(("pass", "fail")))
        base = session.execute(
            sa.select(vs.verdict, sa.func.count())
            .where(wanted, valid_at(vs.first_seen_at, vs.ended_at, start))
            .group_by(vs.verdict)
        ).all()
        # Counted by the database per moment: a run's verdicts share one moment per unit, so this is a few
        # rows per run, not one per verdict that opened or ended (10,000 on the day the window starts with).
        deltas: dict[str, list[tuple[dt.datetime, int]]] = {"pass": [], "fail": []}
        for column, sign in ((vs.first_seen_at, 1), (vs.ended_at, -1)):
            for verdict, moment, n in session.execute(
                sa.select(vs.verdict, column, sa.func.count())
                .where(wanted, column > start, column <= end)
                .group_by(vs.verdict, column)
            ):
                deltas[verdict].append((moment, sign * n))
        at_start = dict(base)
        for verdict in ("pass", "fail"):
            changes = sorted(deltas[verdict])
            times = [t for t, _ in changes]
            total, done = at_start.get(verdict, 0), 0
            for i, day in enumerate(days):
                upto = bisect.bisect_right(times, day)
                total += sum(d for _, d in changes[done:upto])
                done = upto
                series[verdict][i] = total
    return {"days": [ts(d) for d in days], "passing": series["pass"], "failing": series["fail"]}


def _drift(session: Session, checks: set[str], start: dt.datetime, end: dt.datetime) -> tuple[list[Any], int]:
    if not checks:
        return [], 0
    de = DriftEvent
    where = sa.and_(de.check_id.in_(checks), de.created_at >= start, de.created_at < end)
    total = session.execute(sa.select(sa.func.count()).select_from(de).where(where)).scalar_one()
    rows = session.execute(sa.select(de).where(where).order_by(de.id.desc()).limit(DRIFT_SHOWN)).scalars()
    return [
        {
            "id": e.id,
            "at": ts(e.created_at),
            "type": e.type,
            "check": e.check_id,
            "target": e.target,
            "resource_id": e.resource_id,
            "region": e.region,
            "severity": e.severity,
            "run_id": e.run_id,
            "reason": (e.details or {}).get("reason"),
        }
        for e in rows
    ], total


def _attachments(session: Session, framework_id: str, control_id: str, at: dt.datetime | None) -> list[Any]:
    query = sa.select(Attachment).where(Attachment.framework == framework_id, Attachment.control_id == control_id)
    if at is not None:
        query = query.where(Attachment.attached_at <= at)
    return [
        {
            "id": a.id,
            "filename": a.filename,
            "sha256": a.blob_sha,
            "effective_date": a.effective_date.isoformat(),
            "attached_at": ts(a.attached_at),
            "note": a.note,
            "run_id": a.run_id,
        }
        for a in session.execute(query.order_by(Attachment.attached_at.desc())).scalars()
    ]


# ------------------------------------------------------------------------------------------------ evidence


def evidence_item(portal: Portal, state_id: int) -> EvidenceState:
    with Session(portal.engine) as session:
        state = session.get(EvidenceState, state_id)
        if state is None:
            raise NotFound(f"no evidence item {state_id}")
        session.expunge(state)
        return state


def evidence_detail(portal: Portal, state: EvidenceState, view: View) -> dict[str, Any]:
    """One resource's history of observed settings (the states overlapping the window), each with its raw
    API answer, provenance and hashes, and the verdicts the checks gave it."""
    es = EvidenceState
    with Session(portal.engine) as session:
        history = session.execute(
            sa.select(es, Blob.content)
            .join(Blob, Blob.sha256 == es.blob_sha)
            .where(
                es.target == state.target,
                es.kind == state.kind,
                es.resource_id == state.resource_id,
                es.first_seen_at < view.end,
                sa.or_(es.ended_at.is_(None), es.ended_at > view.start),
            )
            .order_by(es.first_seen_at.desc())
            .limit(HISTORY_SHOWN)
        ).all()
        run_ids = {s.first_seen_run_id for s, _ in history} | {s.ended_run_id for s, _ in history if s.ended_run_id}
        digests = dict(session.execute(sa.select(Run.id, Run.digest).where(Run.id.in_(run_ids))).all())
        last_seen = _last_seen(session, state)
        checks = [c.id for c in registered_checks() if state.kind in c.reads]
        vs = VerdictState
        verdicts = (
            session.execute(
                sa.select(vs)
                .where(
                    vs.check_id.in_(checks),
                    vs.target == state.target,
                    vs.resource_id == state.resource_id,
                    vs.first_seen_at < view.end,
                    sa.or_(vs.ended_at.is_(None), vs.ended_at > view.start),
                )
                .order_by(vs.first_seen_at.desc())
                .limit(HISTORY_SHOWN)
            )
            .scalars()
            .all()
        )
    states = []
    for s, content in history:
        doc = json.loads(bytes(content))
        states.append(
            {
                "id": s.id,
                "state_sha256": s.state_sha,
                "blob_sha256": s.blob_sha,
                "first_seen": {
                    "run": s.first_seen_run_id,
                    "at": ts(s.first_seen_at),
                    "run_digest": digests.get(s.first_seen_run_id),
                },
                "last_seen": (
                    {"run": s.last_seen_run_id, "at": ts(s.last_seen_at)}
                    if s.ended_run_id
                    else {"run": last_seen[0], "at": ts(last_seen[1])}
                ),
                "ended": (
                    {
                        "run": s.ended_run_id,
                        "at": ts(s.ended_at),
                        "reason": s.end_reason,
                        "run_digest": digests.get(s.ended_run_id),
                    }
                    if s.ended_run_id
                    else None
                ),
                "observed": doc["observed"],
                "source": doc["source"],
                "raw": doc["raw"],
            }
        )
    return {
        "item": {
            "id": state.id,
            "target": state.target,
            "kind": state.kind,
            "scope": state.scope,
            "resource_id": state.resource_id,
            "resource_type": state.resource_type,
            "region": state.region,
        },
        "window": {"from": ts(view.start), "to": ts(view.end)},
        "at": ts(view.at),
        "current_id": _valid_id(states, view.moment),
        "states": states,
        "verdicts": [
            {
                "check": v.check_id,
                "verdict": v.verdict,
                "reason": v.reason,
                "since": ts(v.first_seen_at),
                "until": ts(v.ended_at),
                "run": v.first_seen_run_id,
            }
            for v in verdicts
        ],
    }


def _valid_id(states: list[dict[str, Any]], moment: dt.datetime) -> int | None:
    stamp = rfc3339(moment)
    for s in states:
        if s["first_seen"]["at"] <= stamp and (s["ended"] is None or s["ended"]["at"] > stamp):
            return s["id"]
    return None


def _last_seen(session: Session, state: EvidenceState) -> tuple[int | None, dt.datetime | None]:
    """The newest collection of the state's unit: where an open interval was last seen."""
    row = session.execute(
        sa.select(RunUnit.run_id, RunUnit.collected_at)
        .where(
            RunUnit.target == state.target,
            RunUnit.kind == state.kind,
            RunUnit.scope == state.scope,
            RunUnit.status == "collected",
        )
        .order_by(RunUnit.run_id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)


# ---------------------------------------------------------------------------------------------------- runs


def runs_list(portal: Portal, view: View, before: int | None = None) -> dict[str, Any]:
    with Session(portal.engine) as session:
        query = sa.select(Run).where(Run.started_at >= view.start, Run.started_at < view.end)
        if before is not None:
            query = query.where(Run.id < before)
        runs = session.execute(query.order_by(Run.id.desc()).limit(RUNS_SHOWN + 1)).scalars().all()
        more = len(runs) > RUNS_SHOWN
        runs = runs[:RUNS_SHOWN]
        counts = run_counts(session, [r.id for r in runs if r.id is not None])
        listed = [
            run_record(r, counts[r.id]) | {"record": r.record, "pruned": r.pruned_at is not None}
            for r in runs
            if r.id is not None
        ]
    return {
        "window": {"from": ts(view.start), "to": ts(view.end)},
        "runs": listed,
        "next_before": listed[-1]["id"] if more and listed else None,
        "chain": portal.chain.status(portal.engine),
    }


def run_detail(portal: Portal, run_id: int) -> tuple[Run, dict[str, Any]]:
    with Session(portal.engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        counts = run_counts(session, [run_id])[run_id]
        units = (
            session.execute(
                sa.select(RunUnit).where(RunUnit.run_id == run_id).order_by(RunUnit.target, RunUnit.kind, RunUnit.scope)
            )
            .scalars()
            .all()
        )
        gaps = session.execute(sa.select(Gap).where(Gap.run_id == run_id).order_by(Gap.id)).scalars().all()
        session.expunge(run)
        return run, run_record(run, counts) | {
            "record": run.record,
            "details": run.details,
            "pruned": run.pruned_at is not None,
            "units": [
                {
                    "target": u.target,
                    "kind": u.kind,
                    "scope": u.scope,
                    "status": u.status,
                    "collected_at": ts(u.collected_at),
                    "observed": u.observed,
                    "new": u.opened,
                    "changed": u.changed,
                    "removed": u.removed,
                    "fresh_until": ts(u.fresh_until),
                }
                for u in units
            ],
            "gaps": [
                {
                    "target": g.target,
                    "kind": g.kind,
                    "scope": g.scope,
                    "reason": g.reason,
                    "operation": g.operation,
                    "message": g.message,
                    "recorded_at": ts(g.recorded_at),
                }
                for g in gaps
            ],
        }


class ChainStatus:
    """The digest chain's verification, redone when a run was sealed since (keyed on the newest seal)."""

    def __init__(self, background: bool = True):
        self.background = background
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._result: dict[str, Any] | None = None
        self._running: tuple[Any, ...] | None = None

    def _head(self, engine: sa.Engine) -> tuple[Any, ...]:
        with engine.connect() as conn:
            return tuple(conn.execute(sa.select(sa.func.max(Run.seq), sa.func.count(Run.id))).one())

    def _verify(self, engine: sa.Engine, key: tuple[Any, ...]) -> None:
        started = utcnow()
        try:
            result = verify_chain(engine).as_dict()
        except sa.exc.SQLAlchemyError as exc:
            result = {"ok": None, "error": f"could not verify: {type(exc).__name__}"}
        problems = result.get("problems") or []
        result = {
            k: result.get(k)
            for k in ("ok", "runs_checked", "head", "first_broken_run", "pruned_runs", "pruned_before", "error")
        }
        result |= {"problems": len(problems), "first_problems": [p["problem"] for p in problems[:5]]}
        with self._lock:
            self._key, self._result, self._running = key, result | {"verified_at": ts(started)}, None

    def status(self, engine: sa.Engine) -> dict[str, Any]:
        key = self._head(engine)
        with self._lock:
            if self._key == key and self._result is not None:
                return self._result | {"state": "verified"}
            if self._running == key:
                return {"state": "verifying", "previous": self._result}
            self._running = key
        if not self.background:
            self._verify(engine, key)
            return self.status(engine)
        threading.Thread(target=self._verify, args=(engine, key), daemon=True, name="chain-verify").start()
        return {"state": "verifying", "previous": self._result}


# ------------------------------------------------------------------------------------------ access log


def access_entries(portal: Portal, since: dt.datetime | None, limit: int) -> list[dict[str, Any]]:
    query = sa.select(AccessEntry)
    if since is not None:
        query = query.where(AccessEntry.at >= since)
    with Session(portal.engine) as session:
        rows = session.execute(query.order_by(AccessEntry.id.desc()).limit(limit)).scalars().all()
    return [access_record(e) for e in rows]


def access_record(e: AccessEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": ts(e.at),
        "principal": e.principal,
        "role": e.role,
        "action": e.action,
        "method": e.method,
        "path": e.path,
        "query": e.query,
        "framework": e.framework,
        "status": e.status,
        "client": e.client,
    }


# --------------------------------------------------------------------------------------------- metrics


def metrics_text(portal: Portal) -> str:
    """Prometheus text format: last run per target, current evidence, units not collected, drift events."""
    lines: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
            number = str(int(value)) if float(value).is_integer() else repr(float(value))
            lines.append(f"{name}{{{text}}} {number}" if text else f"{name} {number}")

    with Session(portal.engine) as session:
        last: dict[str, Run] = {}
        for run in session.execute(
            sa.select(Run).where(Run.record == "collection", Run.seq.is_not(None)).order_by(Run.id.desc()).limit(500)
        ).scalars():
            for target in run.targets or []:
                last.setdefault(target, run)
        evidence = session.execute(
            sa.select(EvidenceState.target, EvidenceState.kind, sa.func.count())
            .where(EvidenceState.ended_run_id.is_(None))
            .group_by(EvidenceState.target, EvidenceState.kind)
        ).all()
        now = utcnow()
        gaps: Counter = Counter()
        for units in latest_units(session, None).values():
            for u in units:
                if u.status == "gap":
                    gaps[(u.target, "gap")] += 1
                elif is_stale(u, now):
                    gaps[(u.target, "stale")] += 1
        drift = session.execute(
            sa.select(DriftEvent.target, DriftEvent.type, sa.func.count()).group_by(DriftEvent.target, DriftEvent.type)
        ).all()
    family(
        "evidence_agent_last_run_timestamp_seconds",
        "gauge",
        "Start of the newest sealed run of each target.",
        [({"target": t}, r.started_at.timestamp()) for t, r in sorted(last.items())],
    )
    family(
        "evidence_agent_last_run_status",
        "gauge",
        "1 for the status of the newest sealed run of each target.",
        [({"target": t, "status": r.status}, 1) for t, r in sorted(last.items())],
    )
    family(
        "evidence_agent_evidence_items",
        "gauge",
        "Evidence items currently observed, per target and kind.",
        [({"target": t, "kind": k}, n) for t, k, n in sorted(evidence)],
    )
    family(
        "evidence_agent_units_not_collected",
        "gauge",
        "Units whose latest collection failed (gap) or is older than its freshness limit (stale).",
        [({"target": t, "reason": r}, n) for (t, r), n in sorted(gaps.items())],
    )
    family(
        "evidence_agent_drift_events_total",
        "counter",
        "Drift events recorded, per target and type.",
        [({"target": t, "type": k}, n) for t, k, n in sorted(drift)],
    )
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
