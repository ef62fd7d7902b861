"""runs.jsonl and states.jsonl: the period's stretch of the run digest chain, recomputable offline.

runs.jsonl has one line per run: its record (status, times, counts, digest, prev digest) and its
digest input lines as collector/store/chain.py writes them, except the `obs` lines. states.jsonl
lists, once, every evidence state any of these runs observed, in digest order, from which the obs
lines of every run are rebuilt (collector.bundle.chainlines). Context runs are runs outside the
period included only because they bind evidence of the period (a state the period's runs never
observed) or an attachment; they are recomputed but not linked. A tombstone (a pruned run) has no
lines; a run pruned in part has `pruned: {targets, residual_digest}`, and its lines (what is left of
it) recompute to that residual digest while its `digest` still links the chain (collector/store/pruned.py).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.bundle.chainlines import ObsReplay, collected_units, digest_of, obs_split
from collector.bundle.evidence import observed_in
from collector.bundle.layout import GENESIS, RUNS, STATES, digest_line, record, ts
from collector.bundle.scope import Scope
from collector.bundle.zipout import BundleError, BundleZip
from collector.store.chain import _lines as chain_lines
from collector.store.models import Attachment, EvidenceState, Gap, Run, RunUnit, UnitStatus, VerdictState
from collector.store.pruned import partial_runs

CHUNK = 100  # runs whose lines are read together


def _iso(value: dt.datetime | None) -> str | None:
    """Times in digest lines: isoformat of aware UTC, exactly as the chain hashes them."""
    return value.isoformat() if value is not None else None


@dataclass
class ChainStats:
    period_runs: int = 0
    context_runs: list[int] = field(default_factory=list)
    states: int = 0
    first: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    statuses: Counter = field(default_factory=Counter)
    pruned: int = 0
    partly_pruned: int = 0
    intervals: list[float] = field(default_factory=list)

    @property
    def typical_interval(self) -> dt.timedelta | None:
        return dt.timedelta(seconds=statistics.median(self.intervals)) if self.intervals else None


def _grouped(conn: sa.Connection, query: Any) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(query):
        out[row[0]].append(row)
    return out


def header_line(session: Session, run: Run) -> dict[str, Any]:
    """A run's header line, from the store's own line generator: its first line is built before it runs any
    query, and the header is where the chain records what kind of record a run is (a collection, a prune...)."""
    lines = chain_lines(session, run, run.prev_digest or GENESIS)
    try:
        return next(lines)  # type: ignore[return-value]
    finally:
        lines.close()


def run_lines(session: Session, runs: list[Run]) -> dict[int, list[Any]]:
    """The digest input lines of these runs, without obs lines (collector/store/chain.py `_lines`)."""
    conn = session.connection()
    ids = [r.id for r in runs]
    es, vs = EvidenceState, VerdictState
    ru = RunUnit
    units = _grouped(conn, sa.select(ru.run_id, ru.target, ru.kind, ru.scope, ru.status, ru.collected_at,
                                     ru.finished_at, ru.observed, ru.opened, ru.changed, ru.removed, ru.note)
                     .where(ru.run_id.in_(ids)).order_by(ru.run_id, ru.target, ru.kind, ru.scope))  # fmt: skip
    gaps = _grouped(conn, sa.select(Gap.run_id, Gap.target, Gap.kind, Gap.scope, Gap.reason, Gap.operation,
                                    Gap.message, Gap.recorded_at)
                    .where(Gap.run_id.in_(ids))
                    .order_by(Gap.run_id, Gap.target, Gap.kind, Gap.scope, Gap.id))  # fmt: skip
    opens = _grouped(conn, sa.select(es.first_seen_run_id, es.target, es.kind, es.resource_id, es.scope, es.state_sha,
                                     es.blob_sha, es.resource_type, es.region, es.first_seen_at)
                     .where(es.first_seen_run_id.in_(ids))
                     .order_by(es.first_seen_run_id, es.target, es.kind, es.resource_id, es.id))  # fmt: skip
    at = Attachment
    attachments = _grouped(conn, sa.select(at.run_id, at.framework, at.control_id, at.blob_sha, at.filename, at.note,
                                           at.effective_date, at.attached_at)
                           .where(at.run_id.in_(ids)).order_by(at.run_id, at.id))  # fmt: skip
    verdicts = _grouped(conn, sa.select(vs.first_seen_run_id, vs.check_id, vs.target, vs.resource_id, vs.verdict,
                                        vs.reason, vs.first_seen_at)
                        .where(vs.first_seen_run_id.in_(ids))
                        .order_by(vs.first_seen_run_id, vs.check_id, vs.target, vs.resource_id, vs.id))  # fmt: skip
    verdict_ends = _grouped(conn, sa.select(vs.ended_run_id, vs.check_id, vs.target, vs.resource_id, vs.end_reason,
                                            vs.ended_at)
                            .where(vs.ended_run_id.in_(ids))
                            .order_by(vs.ended_run_id, vs.check_id, vs.target, vs.resource_id, vs.id))  # fmt: skip
    ends = _grouped(conn, sa.select(es.ended_run_id, es.target, es.kind, es.resource_id, es.state_sha, es.end_reason,
                                    es.ended_at, es.last_seen_run_id, es.last_seen_at)
                    .where(es.ended_run_id.in_(ids))
                    .order_by(es.ended_run_id, es.target, es.kind, es.resource_id, es.id))  # fmt: skip
    out: dict[int, list[Any]] = {}
    for run in runs:
        lines: list[Any] = [header_line(session, run)]
        for u in units.get(run.id, []):
            lines.append({"unit": [u.target, u.kind, u.scope], "status": u.status, "collected_at": _iso(u.collected_at),
                          "finished_at": _iso(u.finished_at), "counts": [u.observed, u.opened, u.changed, u.removed],
                          "note": u.note})  # fmt: skip
        for g in gaps.get(run.id, []):
            lines.append({"gap": [g.target, g.kind, g.scope], "reason": g.reason, "operation": g.operation,
                          "message": g.message, "at": _iso(g.recorded_at)})  # fmt: skip
        for o in opens.get(run.id, []):
            lines.append({"open": [o.target, o.kind, o.resource_id], "scope": o.scope, "state": o.state_sha,
                          "blob": o.blob_sha, "resource_type": o.resource_type, "region": o.region,
                          "at": _iso(o.first_seen_at)})  # fmt: skip
        for a in attachments.get(run.id, []):
            lines.append({"attachment": [a.framework, a.control_id], "blob": a.blob_sha, "filename": a.filename,
                          "note": a.note, "effective": a.effective_date.isoformat(),
                          "at": _iso(a.attached_at)})  # fmt: skip
        for v in verdicts.get(run.id, []):
            lines.append(["verdict", v.check_id, v.target, v.resource_id, v.verdict, v.reason, _iso(v.first_seen_at)])
        for v in verdict_ends.get(run.id, []):
            lines.append(["verdict_end", v.check_id, v.target, v.resource_id, v.end_reason, _iso(v.ended_at)])
        for e in ends.get(run.id, []):
            lines.append({"end": [e.target, e.kind, e.resource_id], "state": e.state_sha, "reason": e.end_reason,
                          "at": _iso(e.ended_at), "last_seen": [e.last_seen_run_id, _iso(e.last_seen_at)]})  # fmt: skip
        out[run.id] = lines
    return out


def unit_counts(lines: list[Any]) -> dict[str, int]:
    """The `runs --format json` counts, from the run's unit lines."""
    counts = dict.fromkeys(("units", "collected", "gaps", "skipped", "observed", "new", "changed", "removed"), 0)
    for line in lines:
        if isinstance(line, dict) and "unit" in line:
            counts["units"] += 1
            status = line["status"]
            counts["collected" if status == UnitStatus.COLLECTED else "gaps" if status == UnitStatus.GAP
                   else "skipped"] += 1  # fmt: skip
            observed, opened, changed, removed = line["counts"]
            counts["observed"] += observed
            counts["new"] += opened
            counts["changed"] += changed
            counts["removed"] += removed
    return counts


def _summary(run: Any) -> dict[str, Any]:
    return {"id": run.id, "seq": run.seq, "started_at": ts(run.started_at), "digest": run.digest,
            "prev_digest": run.prev_digest}  # fmt: skip


def _tombstone(run: Run) -> dict[str, Any] | None:
    """A run whose evidence retention pruned: it stays in the chain (id, times, digests, counts), but its
    digest can no longer be recomputed (collector/retention.py)."""
    if getattr(run, "pruned_at", None) is None:
        return None
    return {"pruned_at": ts(run.pruned_at), "counts": getattr(run, "tombstone", None)}


def write_chain(out: BundleZip, conn: sa.Connection, scope: Scope, wanted_context: set[int]) -> ChainStats:
    chain = scope.chain
    stats = ChainStats()
    context: dict[int, int] = {}
    if wanted_context:
        for run_id, seq in conn.execute(
            sa.select(Run.id, Run.seq).where(Run.id.in_(sorted(wanted_context)), Run.seq.is_not(None))
        ):
            if chain.lo is None or not chain.lo <= seq <= chain.hi:
                context[run_id] = seq
    stats.context_runs = sorted(context)

    def in_bundle(run: Any) -> Any:
        parts = [chain.contains(run)] + ([run.id.in_(stats.context_runs)] if context else [])
        return sa.or_(*parts)

    es = EvidenceState
    observed = []
    if chain.lo is not None:
        observed.append(observed_in(es, chain.contains, chain.lo_id, chain.hi_id))
    if context:
        observed.append(observed_in(es, lambda run: run.id.in_(stats.context_runs)))
    replay = ObsReplay()
    query = (
        sa.select(es.id, es.target, es.kind, es.scope, es.resource_id, es.state_sha, es.blob_sha,
                  es.first_seen_run_id, es.ended_run_id)
        .where(sa.or_(*observed) if observed else sa.false())
        .order_by(es.target, es.kind, es.resource_id, es.id)
        .execution_options(yield_per=5000)
    )  # fmt: skip
    with out.member(STATES) as member:
        for row in conn.execute(query):
            member.line({"id": row.id, "target": row.target, "kind": row.kind, "scope": row.scope,
                         "resource_id": row.resource_id, "state_sha256": row.state_sha, "blob_sha256": row.blob_sha,
                         "first_seen_run": row.first_seen_run_id, "ended_run": row.ended_run_id})  # fmt: skip
            replay.add(id=row.id, target=row.target, kind=row.kind, scope=row.scope, resource_id=row.resource_id,
                       state=row.state_sha, blob=row.blob_sha, first_run=row.first_seen_run_id,
                       ended_run=row.ended_run_id)  # fmt: skip
            stats.states += 1

    previous_start: dt.datetime | None = None
    session = Session(bind=conn)
    partial = partial_runs(session)
    runs_query = sa.select(Run).where(in_bundle(Run)).order_by(Run.seq).execution_options(yield_per=CHUNK)
    with out.member(RUNS) as member:
        for runs in session.execute(runs_query).scalars().partitions():
            lines_of = run_lines(session, [r for r in runs if _tombstone(r) is None])
            for run in runs:
                role = "context" if run.id in context else "period"
                head = {"id": run.id, "seq": run.seq, "role": role, "status": run.status,
                        "started_at": ts(run.started_at), "finished_at": ts(run.finished_at),
                        "targets": sorted(run.targets), "digest": run.digest,
                        "prev_digest": run.prev_digest or GENESIS}  # fmt: skip
                tombstone = _tombstone(run)
                if tombstone is not None:
                    member.line(head | {"pruned": tombstone})
                    stats.pruned += 1
                else:
                    lines = lines_of.pop(run.id)
                    encoded = [digest_line(line) for line in lines]
                    obs = replay.observed(run.id, collected_units(lines))
                    left = partial.get(run.id)
                    if digest_of(encoded, obs_split(lines), obs) != (left.residual if left else run.digest):
                        raise BundleError(
                            f"run {run.id} (seq {run.seq}): its digest does not recompute from the stored rows; "
                            "run `evidence-agent verify` to find what changed in the store"
                        )
                    if left is not None:  # pruned in part: its lines recompute to the residual its prune listed
                        head["pruned"] = {"targets": list(left.targets), "residual_digest": left.residual}
                        stats.partly_pruned += 1
                    # The digest lines go in as encoded for the digest (the same JSON), not encoded twice.
                    text = record(head | {"counts": unit_counts(lines)})
                    member.line(text[:-1] + ',"lines":[' + ",".join(encoded) + "]}")
                if role == "period":
                    stats.period_runs += 1
                    stats.statuses[run.status] += 1
                    stats.first = stats.first or _summary(run)
                    stats.last = _summary(run)
                    if previous_start is not None:
                        stats.intervals.append((run.started_at - previous_start).total_seconds())
                    previous_start = run.started_at
            for run in runs:  # a partition at a time: no run is kept once written
                session.expunge(run)
    session.close()
    return stats
