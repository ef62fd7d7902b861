"""Retention, legal holds and the pruned horizon (docs/store.md, Retention).

`prune` removes what ended before the cutoff and is not held: evidence and verdict intervals, the
blobs only they used, the unit outcomes and gaps of runs that finished before it, and drift events
of those runs whose alerting is over. Each such run stays in the chain as a **tombstone** (id, times,
status, digest, previous digest, counts): the chain still links end to end, and the prune itself is
a chain record listing a hash of every tombstone it made, so editing one breaks `verify`.

Boundaries are moved to run boundaries first (the cutoff back to the start of any run that straddles
it, a hold's period out to cover runs that straddle its ends), so every run that is kept still has
every interval it observed and its digest can be recomputed.
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from collector.store.chain import seal
from collector.store.models import (
    Blob,
    DeliveryStatus,
    DriftDelivery,
    DriftEvent,
    EvidenceState,
    Gap,
    LegalHold,
    Run,
    RunStatus,
    RunUnit,
    VerdictState,
)
from collector.store.query import run_counts
from connectors.base import agent_version, canonical_json, rfc3339, sha256_hex

log = structlog.get_logger("evidence_agent.retention")

CHUNK = 1000
COLLECTION = "collection"


class RetentionError(Exception):
    """A prune or hold that cannot be done as asked (the CLI prints it and exits 2)."""


def actor() -> str:
    """Who did it, for the chain: the OS user and host (a CronJob's pod name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


# --------------------------------------------------------------------------- chain records


def append_record(session: Session, record: str, details: dict[str, Any], now: dt.datetime) -> Run:
    """A non-collection record sealed into the chain (its digest covers `details`)."""
    run = Run(status=RunStatus.COMPLETE, started_at=now, finished_at=now, agent_version=agent_version(),
              config_digest=sha256_hex(canonical_json(details)), targets=[], host=socket.gethostname(), pid=0,
              record=record, details=details, drift_at=now)  # fmt: skip
    session.add(run)
    session.flush()
    seal(session, run)
    session.flush()
    return run


def tombstone_sha(run: Run) -> str:
    return sha256_hex(canonical_json({
        "run": run.id, "seq": run.seq, "status": run.status, "started_at": rfc3339(run.started_at),
        "finished_at": rfc3339(run.finished_at) if run.finished_at else None, "targets": sorted(run.targets),
        "digest": run.digest, "prev_digest": run.prev_digest, "counts": run.tombstone,
        "pruned_at": rfc3339(run.pruned_at) if run.pruned_at else None,
    }))  # fmt: skip


# --------------------------------------------------------------------------- holds


def add_hold(engine: sa.Engine, framework: str, start: dt.datetime, end: dt.datetime, reason: str, by: str,
             now: dt.datetime) -> dict[str, Any]:  # fmt: skip
    if end < start:
        raise RetentionError("--to: the end of the held period is before its start")
    if not reason.strip():
        raise RetentionError("--reason: say why the period is held")
    with Session(engine) as session, session.begin():
        hold = LegalHold(framework=framework, period_from=start, period_to=end, reason=reason.strip(), created_by=by,
                         created_at=now)  # fmt: skip
        session.add(hold)
        session.flush()
        record = append_record(session, "hold", {"hold": hold.id, "framework": framework, "from": rfc3339(start),
                                                 "to": rfc3339(end), "reason": hold.reason, "by": by}, now)  # fmt: skip
        hold.created_run_id = record.id
        return hold_record(hold)


def release_hold(engine: sa.Engine, hold_id: int, by: str, now: dt.datetime) -> dict[str, Any]:
    with Session(engine) as session, session.begin():
        hold = session.get(LegalHold, hold_id)
        if hold is None:
            raise RetentionError(f"HOLD_ID: no hold {hold_id}")
        if hold.released_at is not None:
            raise RetentionError(f"HOLD_ID: hold {hold_id} was already released at {rfc3339(hold.released_at)}")
        record = append_record(session, "release", {"hold": hold.id, "by": by}, now)
        hold.released_at, hold.released_by, hold.released_run_id = now, by, record.id
        return hold_record(hold)


def hold_record(hold: LegalHold) -> dict[str, Any]:
    return {"id": hold.id, "framework": hold.framework, "from": rfc3339(hold.period_from),
            "to": rfc3339(hold.period_to), "reason": hold.reason, "by": hold.created_by,
            "at": rfc3339(hold.created_at), "released_at": rfc3339(hold.released_at) if hold.released_at else None,
            "released_by": hold.released_by}  # fmt: skip


def list_holds(engine: sa.Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return [hold_record(h) for h in session.execute(sa.select(LegalHold).order_by(LegalHold.id)).scalars()]


# --------------------------------------------------------------------------- planning


@dataclass
class PrunePlan:
    cutoff: dt.datetime | None  # the horizon after snapping to run boundaries (None: nothing to prune)
    requested_cutoff: dt.datetime | None
    held: list[tuple[dt.datetime, dt.datetime, int]] = field(default_factory=list)  # snapped windows, hold id
    runs: list[int] = field(default_factory=list)  # runs to tombstone
    evidence: list[int] = field(default_factory=list)
    verdicts: list[int] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    run_units: list[int] = field(default_factory=list)
    drift_events: list[int] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "cutoff": rfc3339(self.cutoff) if self.cutoff else None,
            "requested_cutoff": rfc3339(self.requested_cutoff) if self.requested_cutoff else None,
            "held": [{"hold": h, "from": rfc3339(a), "to": rfc3339(b)} for a, b, h in self.held],
            "removed": {"runs_tombstoned": len(self.runs), "evidence_states": len(self.evidence),
                        "verdict_states": len(self.verdicts), "gaps": len(self.gaps),
                        "run_units": len(self.run_units), "drift_events": len(self.drift_events),
                        "drift_deliveries": len(self.deliveries), "blobs": len(self.blobs)},
            "skipped": dict(sorted(self.skipped.items())),
        }  # fmt: skip


def _runs(session: Session) -> list[Any]:
    return session.execute(
        sa.select(Run.id, Run.seq, Run.started_at, Run.finished_at, Run.pruned_at)
        .where(Run.seq.is_not(None), Run.record == COLLECTION)
        .order_by(Run.started_at, Run.id)
    ).all()


def _snap_cutoff(runs: list[Any], cutoff: dt.datetime) -> dt.datetime:
    while True:
        straddling = [r.started_at for r in runs if r.started_at < cutoff <= (r.finished_at or r.started_at)]
        if not straddling:
            return cutoff
        cutoff = min(straddling)


def _snap_window(runs: list[Any], start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    while True:
        wider_start = min([start, *(r.started_at for r in runs if r.started_at < start <= (r.finished_at or start))])
        wider_end = max([end, *((r.finished_at or end) for r in runs if r.started_at <= end < (r.finished_at or end))])
        if (wider_start, wider_end) == (start, end):
            return start, end
        start, end = wider_start, wider_end


def _outside_holds(start_col: Any, end_col: Any, held: Iterable[tuple[dt.datetime, dt.datetime, int]]) -> Any:
    return sa.and_(sa.true(), *(sa.or_(end_col < a, start_col > b) for a, b, _ in held))


def _ids(session: Session, query: Any) -> list[Any]:
    return list(session.execute(query).scalars())


def _last_observation_before(session: Session, start: dt.datetime) -> dt.datetime:
    """When the states valid at `start` were last observed before it: a bundle of a period binds each such
    state to the run that last saw it, so a hold keeps those runs (and so everything they observed)."""
    es, ru = EvidenceState, RunUnit
    units = session.execute(
        sa.select(es.target, es.kind, es.scope)
        .where(es.first_seen_at <= start, sa.or_(es.ended_at.is_(None), es.ended_at > start))
        .distinct()
    ).all()
    earliest = start
    for unit in units:
        seen = session.execute(
            sa.select(sa.func.max(ru.collected_at)).where(
                ru.target == unit.target, ru.kind == unit.kind, ru.scope == unit.scope,
                ru.status == "collected", ru.collected_at <= start)
        ).scalar()  # fmt: skip
        if seen is not None:
            earliest = min(earliest, seen)
    return earliest


def plan_prune(session: Session, keep_days: int, keep_runs_min: int, now: dt.datetime) -> PrunePlan:
    requested = now - dt.timedelta(days=keep_days)
    runs = _runs(session)
    cutoff = requested
    if len(runs) > keep_runs_min:
        cutoff = min(cutoff, sorted(r.started_at for r in runs)[-keep_runs_min])
    else:
        cutoff = min([cutoff, *(r.started_at for r in runs)]) if runs else cutoff
    cutoff = _snap_cutoff(runs, cutoff)
    plan = PrunePlan(cutoff=cutoff, requested_cutoff=requested)
    for hold in session.execute(sa.select(LegalHold).where(LegalHold.released_at.is_(None))).scalars():
        start = min(hold.period_from, _last_observation_before(session, hold.period_from))
        start, end = _snap_window(runs, start, hold.period_to)
        plan.held.append((start, end, hold.id or 0))

    prunable_runs = [r for r in runs if r.pruned_at is None and r.finished_at is not None and r.finished_at < cutoff]
    kept_by_hold = [r for r in prunable_runs if not all(r.finished_at < a or r.started_at > b for a, b, _ in plan.held)]
    plan.runs = [r.id for r in prunable_runs if r not in kept_by_hold]
    if kept_by_hold:
        plan.skipped["runs kept by a legal hold"] = len(kept_by_hold)

    for model, target in ((EvidenceState, plan.evidence), (VerdictState, plan.verdicts)):
        ended = sa.and_(model.ended_at.is_not(None), model.ended_at < cutoff)
        free = _outside_holds(model.first_seen_at, model.ended_at, plan.held)
        target.extend(_ids(session, sa.select(model.id).where(ended, free).order_by(model.id)))
        held = session.execute(sa.select(sa.func.count()).select_from(model).where(ended, ~free)).scalar_one()
        if held:
            plan.skipped[f"{model.__tablename__} rows kept by a legal hold"] = int(held)
    # A unit's newest collection stays even in a pruned run: it is where its open intervals were last seen.
    ru = RunUnit
    newest = set(_ids(session, sa.select(sa.func.max(ru.id)).where(ru.status == "collected")
                      .group_by(ru.target, ru.kind, ru.scope)))  # fmt: skip
    for part in _chunks(plan.runs):
        plan.gaps += _ids(session, sa.select(Gap.id).where(Gap.run_id.in_(part)))
        plan.run_units += [i for i in _ids(session, sa.select(RunUnit.id).where(RunUnit.run_id.in_(part)))
                           if i not in newest]  # fmt: skip
        failed = sa.select(DriftDelivery.event_id).where(DriftDelivery.status == DeliveryStatus.FAILED)
        events = _ids(session, sa.select(DriftEvent.id).where(DriftEvent.run_id.in_(part),
                                                              DriftEvent.alert_state != "pending",
                                                              DriftEvent.id.not_in(failed)))  # fmt: skip
        plan.drift_events += events
        waiting = session.execute(
            sa.select(sa.func.count()).select_from(DriftEvent).where(DriftEvent.run_id.in_(part))
        ).scalar_one() - len(events)  # fmt: skip
        if waiting:
            plan.skipped["drift events still waiting for delivery or confirmation"] = (
                plan.skipped.get("drift events still waiting for delivery or confirmation", 0) + waiting
            )
    for part in _chunks(plan.drift_events):
        plan.deliveries += _ids(session, sa.select(DriftDelivery.id).where(DriftDelivery.event_id.in_(part)))
    plan.blobs = _orphaned_blobs(session, plan.evidence)
    return plan


def _orphaned_blobs(session: Session, pruned_evidence: list[int]) -> list[str]:
    """Blobs that only pruned intervals use (attachments' files are never pruned)."""
    from collector.store.models import Attachment

    candidates: set[str] = set()
    for part in _chunks(pruned_evidence):
        candidates.update(_ids(session, sa.select(EvidenceState.blob_sha).where(EvidenceState.id.in_(part))))
    pruned = set(pruned_evidence)
    orphans = []
    for part in _chunks(sorted(candidates)):
        users = session.execute(
            sa.select(EvidenceState.blob_sha, EvidenceState.id).where(EvidenceState.blob_sha.in_(part))
        ).all()
        still_used = {sha for sha, interval in users if interval not in pruned}
        still_used |= set(_ids(session, sa.select(Attachment.blob_sha).where(Attachment.blob_sha.in_(part))))
        orphans += [sha for sha in part if sha not in still_used]
    return orphans


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------- pruning


def prune(engine: sa.Engine, keep_days: int, keep_runs_min: int, now: dt.datetime, *, dry_run: bool = False,
          by: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Plan (and unless `dry_run`, carry out) a prune in one transaction; returns its summary."""
    with Session(engine) as session, session.begin():
        plan = plan_prune(session, keep_days, keep_runs_min, now)
        summary = plan.summary() | {"dry_run": dry_run, "keep_days": keep_days, "keep_runs_min": keep_runs_min}
        if dry_run or not (plan.runs or plan.evidence or plan.verdicts or plan.blobs):
            summary["record"] = None
            return summary
        counts = run_counts(session, plan.runs)
        for part in _chunks(plan.deliveries):
            session.execute(sa.delete(DriftDelivery).where(DriftDelivery.id.in_(part)))
        for model, ids in ((DriftEvent, plan.drift_events), (VerdictState, plan.verdicts),
                           (EvidenceState, plan.evidence), (Gap, plan.gaps), (RunUnit, plan.run_units)):  # fmt: skip
            for part in _chunks(ids):
                session.execute(sa.delete(model).where(model.id.in_(part)))
        for part in _chunks(plan.blobs):
            session.execute(sa.delete(Blob).where(Blob.sha256.in_(part)))
        tombstones = []
        for part in _chunks(plan.runs):
            for run in session.execute(sa.select(Run).where(Run.id.in_(part)).order_by(Run.seq)).scalars():
                run.pruned_at = now
                run.tombstone = counts.get(run.id or 0)
                session.flush()
                tombstones.append([run.id, run.seq, tombstone_sha(run)])
        details = {k: v for k, v in summary.items() if k not in ("dry_run",)} | {
            "horizon": summary["cutoff"],
            "tombstones": tombstones,
            "by": by or actor(),
        }
        record = append_record(session, "prune", details, now)
        summary["record"] = record.id
    log.info("pruned", **{k: v for k, v in summary.items() if k != "held"})
    return summary


@dataclass(frozen=True)
class Horizon:
    before: dt.datetime
    held: list[tuple[dt.datetime, dt.datetime]]

    def covers(self, at: dt.datetime) -> bool:
        """Whether `at` falls in a pruned period (before the horizon and in no window a hold kept)."""
        return at < self.before and not any(a <= at <= b for a, b in self.held)


def pruned_horizon(session: Session) -> Horizon | None:
    """What the newest prune left: its horizon, and the windows held then (kept whole)."""
    details = session.execute(
        sa.select(Run.details).where(Run.record == "prune", Run.seq.is_not(None)).order_by(Run.seq.desc()).limit(1)
    ).scalar()
    if not details or not details.get("horizon"):
        return None
    parse = dt.datetime.fromisoformat
    held = [(parse(h["from"].replace("Z", "+00:00")), parse(h["to"].replace("Z", "+00:00")))
            for h in details.get("held", [])]  # fmt: skip
    return Horizon(parse(details["horizon"].replace("Z", "+00:00")), held)
