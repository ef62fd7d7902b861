"""Retention and the pruned horizon (docs/store.md, Retention); the legal holds it honours are collector/holds.py.

`prune` removes what ended before the cutoff and is not held: evidence and verdict intervals, the
blobs only they used, the unit outcomes and gaps of runs that finished before it, and drift events
of those runs whose alerting is over. Each target has its own cutoff (its own `retention:`, or the
global one), so a run may lose one target's rows and keep another's. A run that finished before the
cutoff of every target it collected stays in the chain as a **tombstone** (id, times, status, digest,
previous digest, counts); a run that lost only some targets' rows keeps its digest and gets a
**residual digest**, its digest recomputed over what is left. The chain still links end to end, and
the prune itself is a chain record listing a hash of every tombstone and every residual digest it
made, so editing either breaks `verify` (collector/store/pruned.py reads them back).

Boundaries are moved to run boundaries first (each cutoff back to the start of any run that straddles
it, a hold's period out to cover runs that straddle its ends), so a run after a target's cutoff still
has every interval of that target it observed and its digest can be recomputed.
"""

from __future__ import annotations

import datetime as dt
import getpass
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm import Session

from collector.store.chain import GENESIS, run_digest, seal
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
from collector.store.pruned import partial_runs
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


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Keep:
    """A retention policy: intervals that ended more than `days` ago go (None: keep everything), but never
    from the newest `runs_min` collection runs of the target."""

    days: int | None
    runs_min: int = 10


@dataclass
class Cut:
    keep: Keep
    requested: dt.datetime | None = None
    cutoff: dt.datetime | None = None  # after keep_runs_min and snapping to run boundaries (None: kept whole)

    def record(self) -> dict[str, Any]:
        return {"keep_days": self.keep.days, "keep_runs_min": self.keep.runs_min,
                "requested_cutoff": rfc3339(self.requested) if self.requested else None,
                "cutoff": rfc3339(self.cutoff) if self.cutoff else None}  # fmt: skip


@dataclass
class PrunePlan:
    cutoff: dt.datetime | None  # the newest horizon of any target (None: nothing to prune)
    requested_cutoff: dt.datetime | None  # of the global policy
    targets: dict[str, Cut] = field(default_factory=dict)
    held: list[tuple[dt.datetime, dt.datetime, int]] = field(default_factory=list)  # snapped windows, hold id
    runs: list[int] = field(default_factory=list)  # runs to tombstone
    partial: dict[int, list[str]] = field(default_factory=dict)  # runs losing some targets' rows: those targets
    evidence: list[int] = field(default_factory=list)
    verdicts: list[int] = field(default_factory=list)
    gaps: list[int] = field(default_factory=list)
    run_units: list[int] = field(default_factory=list)
    drift_events: list[int] = field(default_factory=list)
    deliveries: list[int] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def removes_anything(self) -> bool:
        return any((self.runs, self.partial, self.evidence, self.verdicts, self.gaps, self.run_units,
                    self.drift_events, self.blobs))  # fmt: skip

    def summary(self) -> dict[str, Any]:
        return {
            "cutoff": rfc3339(self.cutoff) if self.cutoff else None,
            "requested_cutoff": rfc3339(self.requested_cutoff) if self.requested_cutoff else None,
            "targets": {name: cut.record() for name, cut in sorted(self.targets.items())},
            "held": [{"hold": h, "from": rfc3339(a), "to": rfc3339(b)} for a, b, h in self.held],
            "removed": {"runs_tombstoned": len(self.runs), "runs_partly_pruned": len(self.partial),
                        "evidence_states": len(self.evidence), "verdict_states": len(self.verdicts),
                        "gaps": len(self.gaps), "run_units": len(self.run_units),
                        "drift_events": len(self.drift_events), "drift_deliveries": len(self.deliveries),
                        "blobs": len(self.blobs)},
            "skipped": dict(sorted(self.skipped.items())),
        }  # fmt: skip

    def skip(self, why: str, count: int) -> None:
        if count:
            self.skipped[why] = self.skipped.get(why, 0) + count


def _runs(session: Session) -> list[Any]:
    return session.execute(
        sa.select(Run.id, Run.seq, Run.started_at, Run.finished_at, Run.pruned_at, Run.targets)
        .where(Run.seq.is_not(None), Run.record == COLLECTION)
        .order_by(Run.started_at, Run.id)
    ).all()


def _snap_cutoff(runs: list[Any], cutoff: dt.datetime) -> dt.datetime:
    while True:
        straddling = [r.started_at for r in runs if r.started_at < cutoff <= (r.finished_at or r.started_at)]
        if not straddling:
            return cutoff
        cutoff = min(straddling)


def _cut(runs: list[Any], own: list[Any], keep: Keep, now: dt.datetime) -> Cut:
    """A target's cutoff: `now - days`, earlier to keep its newest `runs_min` runs (`own`), then back to the
    start of any run that straddles it (every run is wholly before or after it)."""
    if keep.days is None:
        return Cut(keep)
    requested = now - dt.timedelta(days=keep.days)
    starts = sorted(r.started_at for r in own)
    cutoff = min(requested, starts[-min(keep.runs_min, len(starts))]) if starts else requested
    return Cut(keep, requested, _snap_cutoff(runs, cutoff))


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


def plan_prune(session: Session, keep: Keep, now: dt.datetime, targets: Mapping[str, Keep] | None = None) -> PrunePlan:
    """What a prune removes: `keep` for every target, or the target's own policy in `targets`."""
    runs = _runs(session)
    names = sorted({name for r in runs for name in r.targets})
    cuts = {name: _cut(runs, [r for r in runs if name in r.targets], (targets or {}).get(name, keep), now)
            for name in names}  # fmt: skip
    unowned = _cut(runs, runs, keep, now)  # runs of no target (attachments): the global policy, over every run
    horizons = [c.cutoff for c in cuts.values()]
    if not names or any(not r.targets for r in runs):
        horizons.append(unowned.cutoff)
    plan = PrunePlan(cutoff=max((h for h in horizons if h is not None), default=None),
                     requested_cutoff=unowned.requested, targets=cuts)  # fmt: skip
    for hold in session.execute(sa.select(LegalHold).where(LegalHold.released_at.is_(None))).scalars():
        start = min(hold.period_from, _last_observation_before(session, hold.period_from))
        start, end = _snap_window(runs, start, hold.period_to)
        plan.held.append((start, end, hold.id or 0))

    # Per target, the runs that finished before its cutoff: their rows of that target go. A run goes whole
    # (a tombstone) once it finished before the cutoff of every target it collected.
    of_target: dict[str, list[int]] = {name: [] for name in names}
    pruned_in: dict[int, list[str]] = {}
    kept_by_hold = 0
    for r in runs:
        if r.pruned_at is not None or r.finished_at is None:
            continue
        cutoffs = [cuts[name].cutoff for name in r.targets] if r.targets else [unowned.cutoff]
        whole = all(c is not None and r.finished_at < c for c in cutoffs)
        gone = [name for name, c in zip(r.targets, cutoffs, strict=False) if c is not None and r.finished_at < c]
        if not (gone or whole):
            continue
        if not all(r.finished_at < a or r.started_at > b for a, b, _ in plan.held):
            kept_by_hold += 1
            continue
        if whole:
            plan.runs.append(r.id)
        for name in gone:
            of_target[name].append(r.id)
        pruned_in[r.id] = gone
    plan.skip("runs kept by a legal hold", kept_by_hold)

    touched: set[int] = set()  # runs whose digest lines lose a row
    for model, ids in ((EvidenceState, plan.evidence), (VerdictState, plan.verdicts)):
        for name, cut in cuts.items():
            if cut.cutoff is None:
                continue
            ended = sa.and_(model.target == name, model.ended_at.is_not(None), model.ended_at < cut.cutoff)
            free = _outside_holds(model.first_seen_at, model.ended_at, plan.held)
            for row in session.execute(sa.select(model.id, model.first_seen_run_id, model.ended_run_id)
                                       .where(ended, free).order_by(model.id)):  # fmt: skip
                ids.append(row.id)
                touched.update((row.first_seen_run_id, row.ended_run_id))
            held = session.execute(sa.select(sa.func.count()).select_from(model).where(ended, ~free)).scalar_one()
            plan.skip(f"{model.__tablename__} rows kept by a legal hold", int(held))
    # A unit's newest collection stays even in a pruned run: it is where its open intervals were last seen.
    ru = RunUnit
    newest = set(_ids(session, sa.select(sa.func.max(ru.id)).where(ru.status == "collected")
                      .group_by(ru.target, ru.kind, ru.scope)))  # fmt: skip
    failed = sa.select(DriftDelivery.event_id).where(DriftDelivery.status == DeliveryStatus.FAILED)
    tombstones = set(plan.runs)
    for name, run_ids in of_target.items():
        of_name = sa.select(ru.id, ru.run_id, ru.kind, ru.scope, ru.status).where(ru.target == name)
        units = [row for part in _chunks(run_ids) for row in session.execute(of_name.where(ru.run_id.in_(part)))]
        # So does its last collection before the cutoff when that run stays (pruned in part): it observed the
        # intervals that cross the cutoff, and still binds them in the chain (and in a bundle of its period).
        last = {(u.kind, u.scope): u for u in sorted(units, key=lambda u: u.run_id) if u.status == "collected"}
        kept = newest | {u.id for u in last.values() if u.run_id not in tombstones}
        plan.run_units += [u.id for u in units if u.id not in kept]
        touched.update(u.run_id for u in units if u.id not in kept)
        for part in _chunks(run_ids):
            for row in session.execute(sa.select(Gap.id, Gap.run_id).where(Gap.run_id.in_(part), Gap.target == name)):
                plan.gaps.append(row.id)
                touched.add(row.run_id)
            of_run = sa.and_(DriftEvent.run_id.in_(part), DriftEvent.target == name)
            events = _ids(session, sa.select(DriftEvent.id).where(of_run, DriftEvent.alert_state != "pending",
                                                                  DriftEvent.id.not_in(failed)))  # fmt: skip
            plan.drift_events += events
            waiting = session.execute(sa.select(sa.func.count()).select_from(DriftEvent).where(of_run)).scalar_one()
            plan.skip("drift events still waiting for delivery or confirmation", waiting - len(events))
    for part in _chunks(plan.drift_events):
        plan.deliveries += _ids(session, sa.select(DriftDelivery.id).where(DriftDelivery.event_id.in_(part)))
    plan.blobs = _orphaned_blobs(session, plan.evidence)
    partly = set(pruned_in) - set(plan.runs)
    if partly:  # runs that stay: those whose digest lines lose a row get a residual digest
        touched |= _observers(session, plan.evidence)
        plan.partial = {run_id: pruned_in[run_id] for run_id in sorted(touched & partly)}
    return plan


def _observers(session: Session, pruned_evidence: list[int]) -> set[int]:
    """Runs with an `obs` line for one of these intervals (they collected its unit while it was open)."""
    es, ru = EvidenceState, RunUnit
    out: set[int] = set()
    for part in _chunks(pruned_evidence):
        out.update(_ids(session, sa.select(ru.run_id).distinct().join(es, sa.and_(
            ru.target == es.target, ru.kind == es.kind, ru.scope == es.scope, ru.status == "collected",
            ru.run_id >= es.first_seen_run_id, ru.run_id < es.ended_run_id)).where(es.id.in_(part))))  # fmt: skip
    return out


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


def prune(engine: sa.Engine, keep_days: int | None, keep_runs_min: int, now: dt.datetime, *,
          targets: Mapping[str, Keep] | None = None, dry_run: bool = False,
          by: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Plan (and unless `dry_run`, carry out) a prune in one transaction; returns its summary.

    `keep_days` / `keep_runs_min` apply to every target not in `targets` (its own policy)."""
    with Session(engine) as session, session.begin():
        plan = plan_prune(session, Keep(keep_days, keep_runs_min), now, targets)
        summary = plan.summary() | {"dry_run": dry_run, "keep_days": keep_days, "keep_runs_min": keep_runs_min}
        if dry_run or not plan.removes_anything():
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
            "partial": residuals(session, plan.partial),
            "by": by or actor(),
        }
        record = append_record(session, "prune", details, now)
        summary["record"] = record.id
    log.info("pruned", **{k: v for k, v in summary.items() if k not in ("held", "targets")})
    return summary


def configured(config: Any) -> tuple[Keep, dict[str, Keep]] | None:
    """A `Config`'s global retention and each target's own; None when neither sets keep_days (nothing goes)."""
    own = {name: Keep(r.keep_days, r.keep_runs_min) for name, r in config.retention_overrides().items()}
    if config.retention.keep_days is None and all(k.days is None for k in own.values()):
        return None
    return Keep(config.retention.keep_days, config.retention.keep_runs_min), own


def prune_configured(
    engine: sa.Engine, config: Any, now: dt.datetime, *, dry_run: bool = False
) -> dict[str, Any] | None:
    """Prune as a `Config` says (see `configured`); None when it keeps everything."""
    keeps = configured(config)
    if keeps is None:
        return None
    return prune(engine, keeps[0].days, keeps[0].runs_min, now, targets=keeps[1], dry_run=dry_run)


def residuals(session: Session, partial: dict[int, list[str]]) -> list[list[Any]]:
    """`[run, seq, residual digest, targets pruned from it]` for runs that stay with some targets' rows gone:
    the digest recomputed over what is left, which `verify` checks them against from now on."""
    before = partial_runs(session) if partial else {}
    out = []
    for part in _chunks(sorted(partial)):
        for run in session.execute(sa.select(Run).where(Run.id.in_(part)).order_by(Run.seq)).scalars():
            assert run.id is not None
            targets = set(partial[run.id]) | set(before[run.id].targets if run.id in before else ())
            out.append([run.id, run.seq, run_digest(session, run, run.prev_digest or GENESIS), sorted(targets)])
    return out
