"""The run digest chain and its verification.

digest(run) = sha256 over newline-terminated canonical JSON lines:
  header   {run id, prev digest, status, times, targets, agent version, config/catalog digests}
  units    every unit's outcome, sorted
  gaps     every gap, sorted
  opens    every interval the run opened: key, scope, state, blob, resource type, region, first-seen time
  obs      every (key, state sha256, blob sha256) observed in the run, sorted, as a compact array
  attach   manual evidence attached in the run (file sha256, control, effective date)
  verdicts every verdict interval the run opened or ended (what changed in the judgement)
  ends     every interval the run ended: key, state, reason, time, last seen
"Observed in run R" is derived from the intervals: the unit was collected in R and the interval
was open at R. So editing, inserting or deleting an evidence row or a blob changes the digest
recomputed for every run that observed it, and `verify` names the first such run.
After a prune (collector/retention.py), a tombstone is checked by the hash its prune record lists,
and a run pruned in part by the residual digest its prune record lists (collector/store/pruned.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.store.models import (
    Attachment,
    Blob,
    EvidenceState,
    Gap,
    Run,
    RunStatus,
    RunUnit,
    UnitStatus,
    VerdictState,
)
from collector.store.pruned import Partial, partial_runs
from connectors.base import canonical_json, sha256_hex, state_sha

GENESIS = "0" * 64


def _ts(value: dt.datetime | None) -> str | None:
    """Store timestamps come back aware UTC on every backend (UTCDateTime), so isoformat is canonical."""
    return value.isoformat() if value is not None else None


def _lines(session: Session, run: Run, prev_digest: str) -> Iterator[dict]:
    yield {
        "run": run.id,
        "prev": prev_digest,
        "status": run.status,
        "started_at": _ts(run.started_at),
        "finished_at": _ts(run.finished_at),
        "targets": sorted(run.targets),
        "agent_version": run.agent_version,
        "config_digest": run.config_digest,
        "catalog_digest": run.catalog_digest,
    } | ({"record": run.record, "details": run.details} if run.record != "collection" else {})
    units = session.execute(
        sa.select(RunUnit).where(RunUnit.run_id == run.id).order_by(RunUnit.target, RunUnit.kind, RunUnit.scope)
    ).scalars()
    for u in units:
        yield {
            "unit": [u.target, u.kind, u.scope],
            "status": u.status,
            "collected_at": _ts(u.collected_at),
            "finished_at": _ts(u.finished_at),
            "counts": [u.observed, u.opened, u.changed, u.removed],
            "note": u.note,
        }
    gaps = session.execute(
        sa.select(Gap).where(Gap.run_id == run.id).order_by(Gap.target, Gap.kind, Gap.scope, Gap.id)
    ).scalars()
    for g in gaps:
        yield {
            "gap": [g.target, g.kind, g.scope],
            "reason": g.reason,
            "operation": g.operation,
            "message": g.message,
            "at": _ts(g.recorded_at),
        }
    es = EvidenceState
    opened = session.connection().execute(
        sa.select(es.target, es.kind, es.resource_id, es.scope, es.state_sha, es.blob_sha, es.resource_type,
                  es.region, es.first_seen_at)
        .where(es.first_seen_run_id == run.id)
        .order_by(es.target, es.kind, es.resource_id, es.id)
    )  # fmt: skip
    for o in opened:
        yield {
            "open": [o.target, o.kind, o.resource_id],
            "scope": o.scope,
            "state": o.state_sha,
            "blob": o.blob_sha,
            "resource_type": o.resource_type,
            "region": o.region,
            "at": _ts(o.first_seen_at),
        }
    # Core execution (no ORM row processing): the one query that reads every observation of the run.
    observed = session.connection().execute(
        sa.select(es.target, es.kind, es.resource_id, es.state_sha, es.blob_sha)
        .join(
            RunUnit,
            sa.and_(
                RunUnit.run_id == run.id,
                RunUnit.status == UnitStatus.COLLECTED,
                RunUnit.target == es.target,
                RunUnit.kind == es.kind,
                RunUnit.scope == es.scope,
            ),
        )
        .where(es.first_seen_run_id <= run.id, sa.or_(es.ended_run_id.is_(None), es.ended_run_id > run.id))
        .order_by(es.target, es.kind, es.resource_id, es.id)
    )
    for row in observed:
        # A fixed-order array, not a sorted dict: the bulk of every digest, so kept cheap to encode.
        yield ["obs", row.target, row.kind, row.resource_id, row.state_sha, row.blob_sha]
    for a in session.execute(
        sa.select(Attachment).where(Attachment.run_id == run.id).order_by(Attachment.id)
    ).scalars():
        yield {"attachment": [a.framework, a.control_id], "blob": a.blob_sha, "filename": a.filename,
               "note": a.note, "effective": a.effective_date.isoformat(), "at": _ts(a.attached_at)}  # fmt: skip
    vs = VerdictState
    for v in session.connection().execute(
        sa.select(vs.check_id, vs.target, vs.resource_id, vs.verdict, vs.reason, vs.first_seen_at)
        .where(vs.first_seen_run_id == run.id)
        .order_by(vs.check_id, vs.target, vs.resource_id, vs.id)
    ):
        yield ["verdict", v.check_id, v.target, v.resource_id, v.verdict, v.reason, _ts(v.first_seen_at)]
    for v in session.connection().execute(
        sa.select(vs.check_id, vs.target, vs.resource_id, vs.end_reason, vs.ended_at)
        .where(vs.ended_run_id == run.id)
        .order_by(vs.check_id, vs.target, vs.resource_id, vs.id)
    ):
        yield ["verdict_end", v.check_id, v.target, v.resource_id, v.end_reason, _ts(v.ended_at)]
    ends = session.execute(
        sa.select(es).where(es.ended_run_id == run.id).order_by(es.target, es.kind, es.resource_id, es.id)
    ).scalars()
    for e in ends:
        yield {
            "end": [e.target, e.kind, e.resource_id],
            "state": e.state_sha,
            "reason": e.end_reason,
            "at": _ts(e.ended_at),
            "last_seen": [e.last_seen_run_id, _ts(e.last_seen_at)],
        }


def _encode(line: dict | list) -> str:
    if isinstance(line, list):
        return json.dumps(line, separators=(",", ":"), ensure_ascii=False)
    return canonical_json(line)


def run_digest(session: Session, run: Run, prev_digest: str) -> str:
    h = hashlib.sha256()
    batch: list[str] = []
    for line in _lines(session, run, prev_digest):
        batch.append(_encode(line))
        if len(batch) >= 2000:
            h.update(("\n".join(batch) + "\n").encode("utf-8"))
            batch.clear()
    if batch:
        h.update(("\n".join(batch) + "\n").encode("utf-8"))
    return h.hexdigest()


def seal(session: Session, run: Run) -> None:
    """Append `run` to the chain: next sequence number, previous head's digest, its own digest."""
    if session.get_bind().dialect.name == "postgresql":
        from collector.store.lock import CHAIN_LOCK_KEY

        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})
    head = session.execute(
        sa.select(Run.seq, Run.digest).where(Run.seq.is_not(None)).order_by(Run.seq.desc()).limit(1)
    ).first()
    run.seq = (head.seq + 1) if head else 1
    run.prev_digest = head.digest if head else GENESIS
    session.flush()
    run.digest = run_digest(session, run, run.prev_digest)


@dataclass
class Problem:
    run_id: int | None
    seq: int | None
    message: str

    def as_dict(self) -> dict:
        return {"run_id": self.run_id, "seq": self.seq, "problem": self.message}


@dataclass
class Verification:
    runs_checked: int = 0
    head: str | None = None
    problems: list[Problem] = field(default_factory=list)
    pruned_runs: int = 0
    pruned_before: str | None = None  # the newest prune's horizon: tombstones before it are checked by hash
    partly_pruned_runs: int = 0  # runs some targets' rows were pruned from: checked by their residual digest

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "runs_checked": self.runs_checked,
            "head": self.head,
            "first_broken_run": self.problems[0].run_id if self.problems else None,
            "pruned_runs": self.pruned_runs,
            "pruned_before": self.pruned_before,
            "partly_pruned_runs": self.partly_pruned_runs,
            "problems": [p.as_dict() for p in self.problems],
        }


def _check_blobs(session: Session, result: Verification) -> None:
    """Every blob's content hashes to its key, and every state hash matches its blob's observed."""
    es = EvidenceState
    bad_blobs: set[str] = set()
    for sha, content in session.execute(sa.select(Blob.sha256, Blob.content)):
        if sha256_hex(bytes(content)) != sha:
            bad_blobs.add(sha)
    rows = session.execute(
        sa.select(es.id, es.kind, es.resource_id, es.state_sha, es.blob_sha, es.first_seen_run_id, Blob.content)
        .outerjoin(Blob, Blob.sha256 == es.blob_sha)
        .order_by(es.first_seen_run_id, es.id)
    )
    for row in rows:
        where = f"evidence_state {row.id} ({row.kind} {row.resource_id})"
        if row.content is None:
            msg = f"{where}: its blob {row.blob_sha[:12]} is missing"
        elif row.blob_sha in bad_blobs:
            msg = f"{where}: blob {row.blob_sha[:12]} was altered (content no longer matches its sha256)"
        elif state_sha(row.kind, row.resource_id, json.loads(bytes(row.content))["observed"]) != row.state_sha:
            msg = f"{where}: state hash does not match the observed settings in its blob"
        else:
            continue
        seq = session.execute(sa.select(Run.seq).where(Run.id == row.first_seen_run_id)).scalar()
        result.problems.append(Problem(row.first_seen_run_id, seq, msg))
    attached = session.execute(
        sa.select(Attachment.id, Attachment.filename, Attachment.blob_sha, Attachment.run_id, Run.seq)
        .join(Run, Run.id == Attachment.run_id, isouter=True)
        .where(Attachment.blob_sha.in_(bad_blobs) if bad_blobs else sa.false())
    )
    for row in attached:
        result.problems.append(
            Problem(row.run_id, row.seq, f"attachment {row.id} ({row.filename}): its file was altered after attaching")
        )


def _check_interval_runs(session: Session, result: Verification, partial: dict[int, Partial]) -> None:
    """Each interval starts and ends in a run where its unit was collected (unless a prune removed that
    unit's outcome: the run is a tombstone, or its prune record lists the interval's target as pruned from it)."""
    es = EvidenceState
    for column, label in ((es.first_seen_run_id, "first seen"), (es.ended_run_id, "ended")):
        unit = sa.and_(
            RunUnit.run_id == column,
            RunUnit.target == es.target,
            RunUnit.kind == es.kind,
            RunUnit.scope == es.scope,
            RunUnit.status == UnitStatus.COLLECTED,
        )
        pruned = sa.exists().where(Run.id == column, Run.pruned_at.is_not(None))
        orphans = session.execute(
            sa.select(es.id, es.target, es.kind, es.resource_id, column.label("run_id"))
            .where(column.is_not(None), ~sa.exists().where(unit), ~pruned)
            .order_by(column, es.id)
        )
        for row in orphans:
            if row.target in (partial[row.run_id].targets if row.run_id in partial else ()):
                continue
            seq = session.execute(sa.select(Run.seq).where(Run.id == row.run_id)).scalar()
            result.problems.append(
                Problem(
                    row.run_id,
                    seq,
                    f"evidence_state {row.id} ({row.kind} {row.resource_id}) claims to be {label} in run "
                    f"{row.run_id}, which did not collect its unit",
                )
            )


def _check_tombstones(tombstones: list[Run], listed: dict[int, str], result: Verification) -> None:
    """A pruned run cannot be recomputed; its tombstone must hash to what the prune record says."""
    from collector.retention import tombstone_sha

    for run in tombstones:
        assert run.id is not None
        if run.id not in listed:
            result.problems.append(
                Problem(run.id, run.seq, f"run {run.id} is marked pruned but no prune record lists it")
            )
        elif tombstone_sha(run) != listed[run.id]:
            result.problems.append(
                Problem(run.id, run.seq, f"tombstone of pruned run {run.id} was altered after the prune")
            )


def verify(engine: sa.Engine) -> Verification:
    """Recompute every sealed run's digest in chain order and cross-check evidence and blobs."""
    result = Verification()
    with Session(engine) as session:
        runs = session.execute(sa.select(Run).where(Run.seq.is_not(None)).order_by(Run.seq)).scalars().all()
        prev = GENESIS
        expected_seq = 1
        listed: dict[int, str] = {}  # tombstone hashes the prune records vouch for
        tombstones: list[Run] = []
        partial = partial_runs(session)  # residual digests the prune records vouch for
        for run in runs:
            result.runs_checked += 1
            if run.seq != expected_seq:
                result.problems.append(
                    Problem(run.id, run.seq, f"chain position {expected_seq} is missing before run {run.id}")
                )
            if run.prev_digest != prev:
                result.problems.append(
                    Problem(run.id, run.seq, f"run {run.id} does not link to the digest of the run before it")
                )
            if run.status == RunStatus.RUNNING:
                result.problems.append(Problem(run.id, run.seq, f"run {run.id} is sealed but marked running"))
            if run.record == "prune":
                listed.update({int(t[0]): str(t[2]) for t in (run.details or {}).get("tombstones", [])})
                result.pruned_before = (run.details or {}).get("horizon")
            if run.pruned_at is not None:
                result.pruned_runs += 1
                tombstones.append(run)
                prev = run.digest or GENESIS
                expected_seq = (run.seq or expected_seq) + 1
                continue
            recomputed = run_digest(session, run, run.prev_digest or GENESIS)
            left = partial.get(run.id or 0)
            if left is not None:
                result.partly_pruned_runs += 1
                if recomputed != left.residual:
                    result.problems.append(
                        Problem(
                            run.id,
                            run.seq,
                            f"run {run.id}: recomputed digest {recomputed[:12]} differs from the residual "
                            f"{left.residual[:12]} prune record {left.record} lists for what it left of the "
                            "run: its remaining evidence, units or gaps were altered",
                        )
                    )
            elif recomputed != run.digest:
                result.problems.append(
                    Problem(
                        run.id,
                        run.seq,
                        f"run {run.id}: recomputed digest {recomputed[:12]} differs from the recorded "
                        f"{(run.digest or '')[:12]}: its evidence, units or gaps were altered",
                    )
                )
            prev = run.digest or GENESIS
            expected_seq = (run.seq or expected_seq) + 1
        result.head = runs[-1].digest if runs else None
        _check_tombstones(tombstones, listed, result)
        _check_blobs(session, result)
        _check_interval_runs(session, result, partial)
    result.problems.sort(key=lambda p: p.seq if p.seq is not None else 1 << 62)
    return result
