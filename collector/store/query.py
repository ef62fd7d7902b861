"""Reads: runs, and "what did we know at time T" as a query over intervals, not a replay."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.store.models import Blob, EvidenceState, Gap, Run, RunUnit, UnitStatus
from connectors.base import rfc3339


def _ts(value: dt.datetime | None) -> str | None:
    return rfc3339(value) if value is not None else None


def run_counts(session: Session, run_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per run: units, collected, gaps, skipped, and resources observed / new / changed / removed."""
    rows = session.execute(
        sa.select(
            RunUnit.run_id,
            sa.func.count().label("units"),
            sa.func.sum(sa.case((RunUnit.status == UnitStatus.GAP, 1), else_=0)).label("gaps"),
            sa.func.sum(sa.case((RunUnit.status == UnitStatus.SKIPPED, 1), else_=0)).label("skipped"),
            sa.func.sum(RunUnit.observed).label("observed"),
            sa.func.sum(RunUnit.opened).label("new"),
            sa.func.sum(RunUnit.changed).label("changed"),
            sa.func.sum(RunUnit.removed).label("removed"),
        )
        .where(RunUnit.run_id.in_(run_ids))
        .group_by(RunUnit.run_id)
    )
    empty = {"units": 0, "collected": 0, "gaps": 0, "skipped": 0, "observed": 0, "new": 0, "changed": 0, "removed": 0}
    out = {run_id: dict(empty) for run_id in run_ids}
    for row in rows:
        out[row.run_id] = {
            "units": row.units,
            "collected": row.units - (row.gaps or 0) - (row.skipped or 0),
            "gaps": row.gaps or 0,
            "skipped": row.skipped or 0,
            "observed": row.observed or 0,
            "new": row.new or 0,
            "changed": row.changed or 0,
            "removed": row.removed or 0,
        }
    return out


def run_record(run: Run, counts: dict[str, int]) -> dict[str, Any]:
    return {
        "id": run.id,
        "seq": run.seq,
        "status": run.status,
        "started_at": _ts(run.started_at),
        "finished_at": _ts(run.finished_at),
        "targets": run.targets,
        "agent_version": run.agent_version,
        "config_digest": run.config_digest,
        "digest": run.digest,
        "prev_digest": run.prev_digest,
        "counts": counts,
    }


def list_runs(engine: sa.Engine, limit: int | None = None) -> list[dict[str, Any]]:
    with Session(engine) as session:
        query = sa.select(Run).order_by(Run.id.desc())
        if limit:
            query = query.limit(limit)
        runs = session.execute(query).scalars().all()
        counts = run_counts(session, [r.id for r in runs if r.id is not None])
        return [run_record(r, counts[r.id]) for r in runs if r.id is not None]


def run_gaps(engine: sa.Engine, run_id: int) -> list[dict[str, Any]]:
    with Session(engine) as session:
        gaps = session.execute(sa.select(Gap).where(Gap.run_id == run_id).order_by(Gap.id)).scalars()
        return [
            {"target": g.target, "kind": g.kind, "scope": g.scope, "reason": g.reason,
             "operation": g.operation, "message": g.message, "recorded_at": _ts(g.recorded_at)}
            for g in gaps
        ]  # fmt: skip


def last_unit_durations(engine: sa.Engine, targets: list[str]) -> dict[tuple[str, str, str], float]:
    """Seconds each unit of these targets took the last time it was collected (for scheduling)."""
    latest = (
        sa.select(RunUnit.target, RunUnit.kind, RunUnit.scope, sa.func.max(RunUnit.run_id).label("run_id"))
        .where(RunUnit.target.in_(targets), RunUnit.status == UnitStatus.COLLECTED)
        .group_by(RunUnit.target, RunUnit.kind, RunUnit.scope)
        .subquery()
    )
    rows = sa.select(RunUnit.target, RunUnit.kind, RunUnit.scope, RunUnit.collected_at, RunUnit.finished_at).join(
        latest,
        sa.and_(RunUnit.run_id == latest.c.run_id, RunUnit.target == latest.c.target,
                RunUnit.kind == latest.c.kind, RunUnit.scope == latest.c.scope),
    )  # fmt: skip
    with Session(engine) as session:
        return {(r.target, r.kind, r.scope): (r.finished_at - r.collected_at).total_seconds()
                for r in session.execute(rows)}  # fmt: skip


@dataclass(frozen=True)
class EvidenceFilter:
    kind: str | None = None
    target: str | None = None
    resource: str | None = None
    at: dt.datetime | None = None


def _latest_collection(session: Session, at: dt.datetime | None) -> dict[tuple[str, str, str], tuple]:
    """Per unit, the newest collected run (up to `at`): where its open intervals were last seen."""
    query = sa.select(RunUnit.target, RunUnit.kind, RunUnit.scope, sa.func.max(RunUnit.run_id).label("run_id")).where(
        RunUnit.status == UnitStatus.COLLECTED
    )
    if at is not None:
        query = query.where(RunUnit.collected_at <= at)
    latest = query.group_by(RunUnit.target, RunUnit.kind, RunUnit.scope).subquery()
    rows = session.execute(
        sa.select(latest.c.target, latest.c.kind, latest.c.scope, RunUnit.run_id, RunUnit.collected_at).join(
            RunUnit,
            sa.and_(
                RunUnit.run_id == latest.c.run_id,
                RunUnit.target == latest.c.target,
                RunUnit.kind == latest.c.kind,
                RunUnit.scope == latest.c.scope,
            ),
        )
    )
    return {(r.target, r.kind, r.scope): (r.run_id, r.collected_at) for r in rows}


def evidence(engine: sa.Engine, flt: EvidenceFilter) -> Iterator[dict[str, Any]]:
    """Evidence states valid at `flt.at` (default: now), with their blob, ordered by key."""
    es = EvidenceState
    query = sa.select(es, Blob.content).join(Blob, Blob.sha256 == es.blob_sha)
    if flt.at is None:
        query = query.where(es.ended_run_id.is_(None))
    else:
        query = query.where(es.first_seen_at <= flt.at, sa.or_(es.ended_at.is_(None), es.ended_at > flt.at))
    if flt.kind:
        query = query.where(es.kind == flt.kind)
    if flt.target:
        query = query.where(es.target == flt.target)
    if flt.resource:
        query = query.where(es.resource_id == flt.resource)
    query = query.order_by(es.target, es.kind, es.resource_id)
    with Session(engine) as session:
        latest = _latest_collection(session, flt.at)
        for state, content in session.execute(query):
            doc = json.loads(bytes(content))
            # Valid at `at` means its unit's newest collection up to `at` observed it.
            last = latest.get((state.target, state.kind, state.scope), (None, None))
            yield {
                "target": state.target,
                "kind": state.kind,
                "resource_id": state.resource_id,
                "resource_type": state.resource_type,
                "region": state.region,
                "state_sha256": state.state_sha,
                "blob_sha256": state.blob_sha,
                "first_seen": {"run": state.first_seen_run_id, "at": _ts(state.first_seen_at)},
                "last_seen": {"run": last[0], "at": _ts(last[1])},
                "observed": doc["observed"],
                "source": doc["source"],
                "raw": doc["raw"],
            }
