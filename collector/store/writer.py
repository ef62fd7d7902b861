"""Temporal writes: only changes make new rows.

For one unit (target, kind, scope) and the evidence a successful collection produced:
- a resource whose state is unchanged writes nothing (its open interval was last seen in
  this run, which the `run_unit` row records);
- a changed state ends the open interval (`changed`) and opens a new one;
- an open interval whose resource was not observed is ended (`removed`);
- a blob is stored once per content hash.
A unit that failed writes a `gap` and leaves its intervals open. Each unit is one transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.store.chain import seal
from collector.store.models import (
    Blob,
    EndReason,
    EvidenceState,
    Gap,
    Run,
    RunStatus,
    RunUnit,
    UnitStatus,
    VerdictState,
)
from connectors.base import CollectionError, Evidence, agent_version, canonical_json, sha256_hex

CHUNK = 500


@dataclass(frozen=True, slots=True)
class Judgement:
    """One check's verdict on one resource of the unit."""

    check_id: str
    resource_id: str
    region: str
    verdict: str
    reason: str


@dataclass(frozen=True, slots=True)
class UnitKey:
    target: str
    kind: str
    scope: str


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def blob_bytes(evidence: Evidence) -> bytes:
    doc = {"observed": evidence.observed, "raw": evidence.raw, "source": evidence.source}
    return canonical_json(doc).encode("utf-8")


def open_run(
    engine: sa.Engine,
    targets: list[str],
    config_digest: str,
    started_at: dt.datetime,
    catalog_digest: str | None = None,
) -> int:
    with Session(engine) as session, session.begin():
        run = Run(
            status=RunStatus.RUNNING,
            started_at=started_at,
            agent_version=agent_version(),
            config_digest=config_digest,
            catalog_digest=catalog_digest,
            targets=sorted(targets),
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        session.add(run)
        session.flush()
        assert run.id is not None
        return run.id


def previous_collection(session: Session, unit: UnitKey, before_run: int) -> tuple[int, dt.datetime] | None:
    """The newest earlier run in which this unit was collected: where open intervals were last seen."""
    row = session.execute(
        sa.select(RunUnit.run_id, RunUnit.collected_at)
        .where(
            RunUnit.target == unit.target,
            RunUnit.kind == unit.kind,
            RunUnit.scope == unit.scope,
            RunUnit.status == UnitStatus.COLLECTED,
            RunUnit.run_id < before_run,
        )
        .order_by(RunUnit.run_id.desc())
        .limit(1)
    ).first()
    return (row.run_id, row.collected_at) if row else None


def _store_blobs(session: Session, blobs: dict[str, bytes]) -> None:
    keys = list(blobs)
    existing: set[str] = set()
    for part in chunks(keys):
        existing.update(session.execute(sa.select(Blob.sha256).where(Blob.sha256.in_(part))).scalars())
    fresh = [{"sha256": k, "content": blobs[k], "size": len(blobs[k])} for k in keys if k not in existing]
    for part in chunks(fresh):
        session.execute(sa.insert(Blob), list(part))


def _write_verdicts(session: Session, run_id: int, unit: UnitKey, judgements: list[Judgement], at: dt.datetime) -> None:
    """The same interval scheme for (check, resource) verdicts of this unit."""
    vs = VerdictState
    open_rows = session.connection().execute(
        sa.select(vs.id, vs.check_id, vs.resource_id, vs.verdict, vs.reason).where(
            vs.target == unit.target, vs.kind == unit.kind, vs.scope == unit.scope, vs.ended_run_id.is_(None)
        )
    )
    current = {(r.check_id, r.resource_id): (r.id, r.verdict, r.reason) for r in open_rows}
    ended: dict[EndReason, list[int]] = {EndReason.CHANGED: [], EndReason.REMOVED: []}
    fresh = []
    for j in {(j.check_id, j.resource_id): j for j in judgements}.values():
        was = current.pop((j.check_id, j.resource_id), None)
        if was and (was[1], was[2]) == (j.verdict, j.reason):
            continue
        if was:
            ended[EndReason.CHANGED].append(was[0])
        fresh.append({"check_id": j.check_id, "target": unit.target, "kind": unit.kind, "scope": unit.scope,
                      "resource_id": j.resource_id, "region": j.region, "verdict": j.verdict, "reason": j.reason,
                      "first_seen_run_id": run_id, "first_seen_at": at})  # fmt: skip
    ended[EndReason.REMOVED].extend(row[0] for row in current.values())
    for reason, ids in ended.items():
        for part in chunks(ids):
            session.execute(
                sa.update(vs).where(vs.id.in_(part)).values(ended_run_id=run_id, ended_at=at, end_reason=reason)
            )
    for part in chunks(fresh):
        session.execute(sa.insert(vs), list(part))


def write_unit(
    engine: sa.Engine,
    run_id: int,
    unit: UnitKey,
    evidence: list[Evidence],
    collected_at: dt.datetime,
    finished_at: dt.datetime,
    judgements: list[Judgement] | None = None,
    fresh_until: dt.datetime | None = None,
) -> RunUnit:
    by_resource: dict[str, tuple[Evidence, str]] = {}
    for item in evidence:
        if item.kind != unit.kind:
            raise CollectionError("error", f"connector yielded {item.kind} evidence in a {unit.kind} unit")
        sha = item.state_sha()
        seen = by_resource.get(item.resource_id)
        if seen and seen[1] != sha:
            raise CollectionError("error", f"resource {item.resource_id} observed twice with different settings")
        by_resource[item.resource_id] = (item, sha)

    with Session(engine) as session, session.begin():
        open_rows = (
            session.connection()
            .execute(
                sa.select(EvidenceState.id, EvidenceState.resource_id, EvidenceState.state_sha).where(
                    EvidenceState.target == unit.target,
                    EvidenceState.kind == unit.kind,
                    EvidenceState.scope == unit.scope,
                    EvidenceState.ended_run_id.is_(None),
                )
            )
            .all()
        )
        open_by_resource = {row.resource_id: (row.id, row.state_sha) for row in open_rows}

        opened: list[tuple[Evidence, str]] = []
        ended: dict[EndReason, list[int]] = {EndReason.CHANGED: [], EndReason.REMOVED: []}
        for resource_id, (item, sha) in by_resource.items():
            current = open_by_resource.pop(resource_id, None)
            if current and current[1] == sha:
                continue
            if current:
                ended[EndReason.CHANGED].append(current[0])
            opened.append((item, sha))
        ended[EndReason.REMOVED].extend(interval_id for interval_id, _ in open_by_resource.values())

        if any(ended.values()):
            last = previous_collection(session, unit, run_id)
            for reason, ids in ended.items():
                for part in chunks(ids):
                    session.execute(
                        sa.update(EvidenceState)
                        .where(EvidenceState.id.in_(part))
                        .values(
                            ended_run_id=run_id,
                            ended_at=collected_at,
                            end_reason=reason,
                            last_seen_run_id=last[0] if last else None,
                            last_seen_at=last[1] if last else None,
                        )
                    )

        blobs = {}
        rows = []
        for item, sha in opened:
            content = blob_bytes(item)
            blob_sha = sha256_hex(content)
            blobs[blob_sha] = content
            rows.append(
                {
                    "target": unit.target,
                    "kind": unit.kind,
                    "scope": unit.scope,
                    "resource_id": item.resource_id,
                    "resource_type": item.resource_type,
                    "region": item.region,
                    "state_sha": sha,
                    "blob_sha": blob_sha,
                    "first_seen_run_id": run_id,
                    "first_seen_at": item.collected_at,
                }
            )
        _store_blobs(session, blobs)
        for part in chunks(rows):
            session.execute(sa.insert(EvidenceState), list(part))
        _write_verdicts(session, run_id, unit, judgements or [], collected_at)

        outcome = RunUnit(
            run_id=run_id,
            target=unit.target,
            kind=unit.kind,
            scope=unit.scope,
            status=UnitStatus.COLLECTED,
            collected_at=collected_at,
            finished_at=finished_at,
            observed=len(by_resource),
            opened=len(opened) - len(ended[EndReason.CHANGED]),
            changed=len(ended[EndReason.CHANGED]),
            removed=len(ended[EndReason.REMOVED]),
            fresh_until=fresh_until,
        )
        session.add(outcome)
        session.flush()
        session.expunge(outcome)
        return outcome


def write_gap(
    engine: sa.Engine,
    run_id: int,
    unit: UnitKey,
    error: CollectionError,
    collected_at: dt.datetime,
    finished_at: dt.datetime,
) -> RunUnit:
    """Record that a unit could not be collected; its open intervals stay open."""
    with Session(engine) as session, session.begin():
        session.add(
            Gap(
                run_id=run_id,
                target=unit.target,
                kind=unit.kind,
                scope=unit.scope,
                reason=error.reason,
                operation=error.operation,
                message=error.message[:4000],
                recorded_at=finished_at,
            )
        )
        outcome = RunUnit(
            run_id=run_id,
            target=unit.target,
            kind=unit.kind,
            scope=unit.scope,
            status=UnitStatus.GAP,
            collected_at=collected_at,
            finished_at=finished_at,
        )
        session.add(outcome)
        session.flush()
        session.expunge(outcome)
        return outcome


def write_skip(engine: sa.Engine, run_id: int, unit: UnitKey, note: str, at: dt.datetime) -> RunUnit:
    """Record a unit deliberately not collected (say, a region not enabled for the account)."""
    with Session(engine) as session, session.begin():
        outcome = RunUnit(run_id=run_id, target=unit.target, kind=unit.kind, scope=unit.scope,
                          status=UnitStatus.SKIPPED, collected_at=at, finished_at=at, note=note[:4000])  # fmt: skip
        session.add(outcome)
        session.flush()
        session.expunge(outcome)
        return outcome


def seal_run(engine: sa.Engine, run_id: int, status: RunStatus, finished_at: dt.datetime) -> Run:
    """Give the run its final status and append it to the digest chain."""
    with Session(engine) as session, session.begin():
        run = session.get(Run, run_id)
        assert run is not None
        run.status = status
        run.finished_at = finished_at
        seal(session, run)
        session.flush()
        session.expunge(run)
        return run


def abort_stale(engine: sa.Engine, targets: list[str], now: dt.datetime) -> list[int]:
    """Mark runs left `running` by a killed process as `aborted` (the caller holds their targets' lock).

    What such a run wrote was written unit by unit, each unit atomically, so it stays as
    evidence of what was observed; the run is sealed into the chain with status `aborted`.
    """
    with Session(engine) as session:
        stale = session.execute(
            sa.select(Run.id, Run.targets).where(Run.status == RunStatus.RUNNING).order_by(Run.id)
        ).all()
    wanted = set(targets)
    single_writer = engine.dialect.name == "sqlite"
    aborted = []
    for run_id, run_targets in stale:
        if single_writer or wanted.intersection(run_targets):
            seal_run(engine, run_id, RunStatus.ABORTED, now)
            aborted.append(run_id)
    return aborted
