"""controls/<control>/evidence.jsonl: every evidence state valid in the period for the control's checks.

Read in batches from the store (server-side on PostgreSQL), never the whole period at once. Each
line carries the state's identity and hashes, first / last seen, end, the stored blob (observed,
raw, source) verbatim, and the verdicts of the control's checks on that resource while it held.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from collector.bundle.layout import record, ts
from collector.bundle.scope import Scope, history_buckets
from collector.bundle.zipout import BundleZip
from collector.store.models import Blob, EvidenceState, Run, RunUnit, UnitStatus, VerdictState

BATCH = 500
RECENT = 25  # verdict changes kept per check for the readable report

UnitKey = tuple[str, str, str]


def observed_in(es: Any, runs: Any, lo_id: int | None = None, hi_id: int | None = None) -> Any:
    """EXISTS a run matching `runs(Run alias)` that collected the state's unit while the state was open:
    a run whose digest has an `obs` line for it."""
    ru = aliased(RunUnit)
    run = aliased(Run)
    conditions = [
        ru.target == es.target, ru.kind == es.kind, ru.scope == es.scope, ru.status == UnitStatus.COLLECTED,
        ru.run_id >= es.first_seen_run_id, sa.or_(es.ended_run_id.is_(None), ru.run_id < es.ended_run_id),
        run.id == ru.run_id, runs(run),
    ]  # fmt: skip
    if lo_id is not None and hi_id is not None:
        # Bounds that let the index seek straight to the period instead of walking each unit's history.
        conditions += [ru.run_id >= sa.case((es.first_seen_run_id > lo_id, es.first_seen_run_id), else_=lo_id),
                       ru.run_id <= hi_id]  # fmt: skip
    return sa.exists().where(*conditions)


def latest_collections(conn: sa.Connection, before: dt.datetime) -> dict[UnitKey, tuple[Any, ...]]:
    """Per unit, the newest run that collected it before `before`: (run id, time, fresh until or None)."""
    latest = (
        sa.select(RunUnit.target, RunUnit.kind, RunUnit.scope, sa.func.max(RunUnit.run_id).label("run_id"))
        .where(RunUnit.status == UnitStatus.COLLECTED, RunUnit.collected_at < before)
        .group_by(RunUnit.target, RunUnit.kind, RunUnit.scope)
        .subquery()
    )
    # The unit's freshness limit, where the store records one (collector.compliance counts it stale after).
    fresh = getattr(RunUnit, "fresh_until", sa.null())
    rows = conn.execute(
        sa.select(RunUnit.target, RunUnit.kind, RunUnit.scope, RunUnit.run_id, RunUnit.collected_at,
                  fresh.label("fresh_until")).join(
            latest,
            sa.and_(RunUnit.run_id == latest.c.run_id, RunUnit.target == latest.c.target,
                    RunUnit.kind == latest.c.kind, RunUnit.scope == latest.c.scope),
        )
    )  # fmt: skip
    return {(r.target, r.kind, r.scope): (r.run_id, r.collected_at, r.fresh_until) for r in rows}


@dataclass
class EvidenceContext:
    """What the evidence pass shares across controls: last collections, and runs needed to bind states."""

    conn: sa.Connection
    scope: Scope
    latest: dict[UnitKey, tuple[Any, ...]]
    context_runs: set[int] = field(default_factory=set)
    _latest_sealed: dict[UnitKey, int | None] = field(default_factory=dict)

    def context_run(self, row: Any) -> int | None:
        """A run outside the period that observed a state no period run observed (its unit was not
        collected in the period, or the first run of the period ended it): its digest binds the state."""
        if row.ended_run_id is not None and row.last_seen_run_id is not None:
            return int(row.last_seen_run_id)
        unit = (row.target, row.kind, row.scope)
        if unit not in self._latest_sealed:
            self._latest_sealed[unit] = self.conn.execute(
                sa.select(sa.func.max(RunUnit.run_id))
                .join(Run, Run.id == RunUnit.run_id)
                .where(RunUnit.target == row.target, RunUnit.kind == row.kind, RunUnit.scope == row.scope,
                       RunUnit.status == UnitStatus.COLLECTED, Run.seq.is_not(None))
            ).scalar()  # fmt: skip
        return self._latest_sealed[unit]


@dataclass
class EvidenceStats:
    states: int = 0
    resources: int = 0
    kinds: Counter = field(default_factory=Counter)
    _previous: tuple | None = None

    def add(self, row: Any) -> None:
        self.states += 1
        self.kinds[row.kind] += 1
        key = (row.target, row.kind, row.resource_id)
        if key != self._previous:  # rows come ordered by resource within a kind
            self.resources += 1
            self._previous = key


def _verdicts(conn: sa.Connection, scope: Scope, checks: list[str], batch: list[Any]) -> dict[tuple, list]:
    vs = VerdictState
    keys = {(r.target, r.kind, r.resource_id) for r in batch}
    # check, target and resource id only: the lookup index (ix_verdict_state_key); the kind is matched below.
    rows = conn.execute(
        sa.select(vs.check_id, vs.target, vs.kind, vs.resource_id, vs.verdict, vs.reason, vs.first_seen_run_id,
                  vs.first_seen_at, vs.ended_run_id, vs.ended_at, vs.end_reason)
        .where(vs.check_id.in_(checks), vs.target.in_({k[0] for k in keys}),
               vs.resource_id.in_({k[2] for k in keys}),
               scope.period.overlapping(vs.first_seen_at, vs.ended_at))
        .order_by(vs.check_id, vs.first_seen_at, vs.id)
    )  # fmt: skip
    out: dict[tuple, list] = defaultdict(list)
    for v in rows:
        key = (v.target, v.kind, v.resource_id)
        if key in keys:
            out[key].append(v)
    return out


def _ended(row: Any, end: dt.datetime) -> dict[str, Any] | None:
    if row.ended_at is None or row.ended_at >= end:
        return None  # still valid at the end of the period
    return {"run": row.ended_run_id, "at": ts(row.ended_at), "reason": row.end_reason}


def state_part(row: Any, ctx: EvidenceContext) -> str:
    """An evidence line without its verdicts and closing brace: the same for every control that reads the kind."""
    ended = _ended(row, ctx.scope.period.end)
    if ended is not None:
        last = (row.last_seen_run_id, row.last_seen_at)
    else:
        last = ctx.latest.get((row.target, row.kind, row.scope), (None, None))
    head = record({
        "state_id": row.id, "target": row.target, "kind": row.kind, "scope": row.scope,
        "resource_id": row.resource_id, "resource_type": row.resource_type, "region": row.region,
        "state_sha256": row.state_sha, "blob_sha256": row.blob_sha,
        "first_seen": {"run": row.first_seen_run_id, "at": ts(row.first_seen_at)},
        "last_seen": {"run": last[0], "at": ts(last[1])}, "ended": ended,
    })  # fmt: skip
    # The stored blob ({observed, raw, source}, canonical JSON) goes in verbatim: no parse, no re-encoding.
    inner = bytes(row.content).decode("utf-8").strip()[1:-1]
    return head[:-1] + ("," + inner if inner else "")


def verdict_entries(row: Any, verdicts: list[Any], end: dt.datetime) -> list[tuple[str, dict[str, Any]]]:
    """(check, entry) for the verdicts on the state's resource while the state held (same run scheme)."""
    out = []
    for v in verdicts:
        if row.ended_run_id is not None and v.first_seen_run_id >= row.ended_run_id:
            continue
        if v.ended_run_id is not None and v.ended_run_id <= row.first_seen_run_id:
            continue
        v_ended = None
        if v.ended_at is not None and v.ended_at < end:
            v_ended = {"run": v.ended_run_id, "at": ts(v.ended_at), "reason": v.end_reason}
        first = {"run": v.first_seen_run_id, "at": ts(v.first_seen_at)}
        out.append((v.check_id, {"check": v.check_id, "verdict": v.verdict, "reason": v.reason, "first_seen": first,
                                 "ended": v_ended}))  # fmt: skip
    return out


def _kind_query(ctx: EvidenceContext, kind: str) -> Any:
    scope, es = ctx.scope, EvidenceState
    chain = scope.chain
    bound = observed_in(es, chain.contains, chain.lo_id, chain.hi_id) if chain.lo is not None else sa.false()
    return (
        sa.select(es.id, es.target, es.kind, es.scope, es.resource_id, es.resource_type, es.region, es.state_sha,
                  es.blob_sha, es.first_seen_run_id, es.first_seen_at, es.last_seen_run_id, es.last_seen_at,
                  es.ended_run_id, es.ended_at, es.end_reason, Blob.content, bound.label("bound"))
        .join(Blob, Blob.sha256 == es.blob_sha)
        .where(es.kind == kind, scope.target_filter(es.target),
               scope.period.overlapping(es.first_seen_at, es.ended_at))
        .order_by(es.target, es.resource_id, es.first_seen_at, es.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip


def write_evidence(out: BundleZip, ctx: EvidenceContext) -> dict[str, EvidenceStats]:
    """Every control's evidence.jsonl. Each kind is read once, however many controls read it: its lines go
    to a spool file per control (only the verdicts differ), and each spool is then streamed into the zip."""
    controls = [c for c in ctx.scope.controls if c.checks]
    stats = {c.id: EvidenceStats() for c in controls}
    with tempfile.TemporaryDirectory(prefix="evidence-bundle-") as tmp:
        spools = {c.id: open(Path(tmp) / f"{i}.jsonl", "w+b") for i, c in enumerate(controls)}  # noqa: SIM115
        try:
            for kind in ctx.scope.kinds:
                readers = [(c, {x.id for x in c.checks if kind in x.reads}) for c in controls if kind in c.kinds]
                checks = sorted({check for _, ids in readers for check in ids})
                for batch in ctx.conn.execute(_kind_query(ctx, kind)).partitions():
                    verdicts = _verdicts(ctx.conn, ctx.scope, checks, batch)
                    for row in batch:
                        if not row.bound:
                            run_id = ctx.context_run(row)
                            if run_id is not None:
                                ctx.context_runs.add(run_id)
                        part = state_part(row, ctx)
                        entries = verdict_entries(row, verdicts.get((row.target, row.kind, row.resource_id), []),
                                                  ctx.scope.period.end)  # fmt: skip
                        for control, ids in readers:
                            line = (part + ',"verdicts":' + record([e for c, e in entries if c in ids]) + "}\n")
                            data = line.encode("utf-8")
                            out.guard.check(control.evidence_path or "", data)
                            spools[control.id].write(data)
                            stats[control.id].add(row)
            for control in controls:
                spool = spools[control.id]
                spool.seek(0)
                with out.member(control.evidence_path or "") as member:
                    for chunk in iter(lambda spool=spool: spool.read(1 << 20), b""):  # type: ignore[misc]
                        member.write(chunk, checked=True)
        finally:
            for spool in spools.values():
                spool.close()
    return stats


@dataclass
class CheckHistory:
    failing: list[int]
    passing: list[int]
    opened: Counter = field(default_factory=Counter)
    recent: deque = field(default_factory=lambda: deque(maxlen=RECENT))


def verdict_history(conn: sa.Connection, scope: Scope) -> tuple[list[dt.datetime], dict[str, CheckHistory]]:
    """Per check: failing and passing results at the end of each bucket of the period, verdict changes."""
    period = scope.period
    width, count = history_buckets(period)
    edges = [period.start + width * (i + 1) for i in range(count)]
    histories: dict[str, CheckHistory] = {}
    vs = VerdictState
    query = (
        sa.select(vs.check_id, vs.target, vs.resource_id, vs.region, vs.verdict, vs.reason, vs.first_seen_run_id,
                  vs.first_seen_at, vs.ended_at)
        .where(vs.check_id.in_(list(scope.checks)), scope.target_filter(vs.target),
               period.overlapping(vs.first_seen_at, vs.ended_at))
        .order_by(vs.first_seen_at, vs.id)
        .execution_options(yield_per=2000)
    )  # fmt: skip

    def bucket(moment: dt.datetime) -> int:
        return max(0, min(count, int((moment - period.start) / width)))

    for v in conn.execute(query):
        history = histories.get(v.check_id)
        if history is None:
            history = histories[v.check_id] = CheckHistory([0] * (count + 1), [0] * (count + 1))
        if v.first_seen_at >= period.start:
            history.opened[v.verdict] += 1
            history.recent.append({"at": ts(v.first_seen_at), "run": v.first_seen_run_id, "check": v.check_id,
                                   "target": v.target, "resource_id": v.resource_id, "region": v.region,
                                   "verdict": v.verdict, "reason": v.reason})  # fmt: skip
        series = history.failing if v.verdict == "fail" else history.passing if v.verdict == "pass" else None
        if series is None:
            continue
        # Counted at the end of bucket i when first_seen < edge_i <= ended.
        first = bucket(v.first_seen_at)
        last = count if v.ended_at is None else bucket(v.ended_at)
        if first < last:
            series[first] += 1
            series[last] -= 1
    for history in histories.values():
        for series in (history.failing, history.passing):
            running = 0
            for i in range(count + 1):
                running += series[i]
                series[i] = running
            series.pop()
    return edges, histories
