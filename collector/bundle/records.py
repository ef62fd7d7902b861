"""gaps.jsonl, drift.jsonl, attachments/ and samples/: what was not collected, what changed, manual
evidence, and point-in-time snapshots an auditor samples."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from collector.bundle.layout import ACCESS, ATTACHMENTS, DRIFT, GAPS, sample_dir, slug, ts
from collector.bundle.scope import Scope
from collector.bundle.zipout import BundleError, BundleZip
from collector.store.models import AccessEntry, Attachment, Blob, Gap, Run, RunUnit
from connectors.base import sha256_hex

KEEP = 10  # rows per control kept for the readable report


@dataclass
class Tally:
    """Per control: how many rows it had, and the first few for index.html."""

    counts: Counter = field(default_factory=Counter)
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    total: int = 0

    def add(self, controls: list[str], row: dict[str, Any]) -> None:
        self.total += 1
        for control in controls:
            self.counts[control] += 1
            if len(self.rows[control]) < KEEP:
                self.rows[control].append(row)


def write_gaps(out: BundleZip, conn: sa.Connection, scope: Scope) -> Tally:
    """Every unit of the bundle's kinds a period run could not collect, with the unit's times."""
    tally = Tally()
    by_kind = scope.controls_of_kind()
    ru = RunUnit
    query = (
        sa.select(Gap.id, Gap.run_id, Run.seq, Gap.target, Gap.kind, Gap.scope, Gap.reason, Gap.operation,
                  Gap.message, Gap.recorded_at, ru.collected_at, ru.finished_at)
        .join(Run, Run.id == Gap.run_id)
        .outerjoin(ru, sa.and_(ru.run_id == Gap.run_id, ru.target == Gap.target, ru.kind == Gap.kind,
                               ru.scope == Gap.scope))
        .where(scope.chain.contains(Run), Gap.kind.in_(scope.kinds), scope.target_filter(Gap.target))
        .order_by(Run.seq, Gap.target, Gap.kind, Gap.scope, Gap.id)
        .execution_options(yield_per=1000)
    )  # fmt: skip
    with out.member(GAPS) as member:
        for g in conn.execute(query):
            controls = by_kind.get(g.kind, [])
            row = {"id": g.id, "run": {"id": g.run_id, "seq": g.seq}, "target": g.target, "kind": g.kind,
                   "scope": g.scope, "reason": g.reason, "operation": g.operation, "message": g.message,
                   "recorded_at": ts(g.recorded_at),
                   "unit": {"started_at": ts(g.collected_at), "finished_at": ts(g.finished_at)},
                   "controls": controls}  # fmt: skip
            member.line(row)
            tally.add(controls, row)
    return tally


def write_access(out: BundleZip, conn: sa.Connection, scope: Scope) -> int:
    """The portal's access log of the period: who viewed or downloaded what of this framework (or of no
    framework in particular: runs, evidence items), and every refusal."""
    a = AccessEntry
    query = (
        sa.select(*AccessEntry.__table__.c)
        .where(a.at >= scope.period.start, a.at < scope.period.end,
               sa.or_(a.framework.is_(None), a.framework == scope.framework.id))
        .order_by(a.id)
        .execution_options(yield_per=1000)
    )  # fmt: skip
    count = 0
    with out.member(ACCESS) as member:
        for e in conn.execute(query):
            member.line({"id": e.id, "at": ts(e.at), "principal": e.principal, "role": e.role, "action": e.action,
                         "method": e.method, "path": e.path, "query": e.query, "framework": e.framework,
                         "status": e.status, "client": e.client})  # fmt: skip
            count += 1
    return count


def jsonable(value: Any) -> Any:
    """A value read from any column type, as plain JSON (naive datetimes are the store's UTC)."""
    if isinstance(value, dt.datetime):
        return ts(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def write_drift(out: BundleZip, conn: sa.Connection, scope: Scope) -> Tally:
    """Rows of `drift_event` from the period's runs, every column as stored (the table grows columns)."""
    tally = Tally()
    table = sa.Table("drift_event", sa.MetaData(), autoload_with=conn)
    by_check, by_kind = scope.controls_of_check(), scope.controls_of_kind()
    order = [table.c[name] for name in ("created_at", "id") if name in table.c]
    query = (
        sa.select(table, Run.seq.label("_run_seq"))
        .join(Run, Run.id == table.c.run_id)
        .where(scope.chain.contains(Run))
        .order_by(Run.seq, *order)
        .execution_options(yield_per=1000)
    )
    with out.member(DRIFT) as member:
        for row in conn.execute(query):
            data = {key: jsonable(value) for key, value in row._mapping.items() if key != "_run_seq"}
            if scope.targets and data.get("target") not in scope.targets:
                continue
            check = data.get("check_id")
            if check:
                if check not in by_check:
                    continue
                controls = by_check[check]
            else:
                kind = data.get("kind")
                if kind and kind not in by_kind:
                    continue
                controls = by_kind.get(kind, []) if kind else [c.id for c in scope.controls if c.checks]
            data["run_seq"] = row._run_seq
            data["bundle_controls"] = controls
            member.line(data)
            tally.add(controls, data)
    return tally


@dataclass
class AttachmentStats:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    runs: set[int] = field(default_factory=set)
    total: int = 0


def write_attachments(out: BundleZip, conn: sa.Connection, scope: Scope) -> AttachmentStats:
    """Manual evidence of the bundle's controls attached before the period ended and in effect by then."""
    stats = AttachmentStats()
    slugs = {c.id: c.slug for c in scope.controls}
    at = Attachment
    query = (
        sa.select(at.id, at.framework, at.control_id, at.blob_sha, at.filename, at.note, at.effective_date,
                  at.attached_at, at.run_id, Run.seq, Blob.content)
        .join(Blob, Blob.sha256 == at.blob_sha)
        .outerjoin(Run, Run.id == at.run_id)
        .where(at.framework == scope.framework.id, at.control_id.in_(list(slugs)),
               at.attached_at < scope.period.end, at.effective_date <= scope.period.last_moment.date())
        .order_by(at.control_id, at.id)
        .execution_options(yield_per=1)  # files of up to 50 MB: one at a time
    )  # fmt: skip
    index = []
    for a in conn.execute(query):
        content = bytes(a.content)
        if sha256_hex(content) != a.blob_sha:
            raise BundleError(f"attachment {a.id} ({a.filename}): its stored file no longer matches its sha256; "
                              "run `evidence-agent verify`")  # fmt: skip
        path = f"attachments/{slugs[a.control_id]}/{a.id}-{slug(a.filename)}"
        out.write_bytes(path, content)
        row = {"id": a.id, "framework": a.framework, "control": a.control_id, "filename": a.filename, "path": path,
               "sha256": a.blob_sha, "size": len(content), "effective_date": a.effective_date.isoformat(),
               "attached_at": ts(a.attached_at), "run": {"id": a.run_id, "seq": a.seq}, "note": a.note}  # fmt: skip
        index.append(row)
        stats.rows[a.control_id].append(row)
        stats.total += 1
        if a.run_id is not None and a.seq is not None:
            stats.runs.add(a.run_id)
    with out.member(ATTACHMENTS) as member:
        for row in index:
            member.line(row)
    return stats


def write_samples(out: BundleZip, engine: sa.Engine, scope: Scope) -> list[dict[str, Any]]:
    """samples/<date>/: control status and evidence as they stood at each sampled moment, produced by the
    same point-in-time queries as `controls --at` and `evidence --at`."""
    from collector.compliance import control_statuses
    from collector.store.query import EvidenceFilter, evidence

    wanted = {c.id for c in scope.controls}
    done = []
    for sample in scope.samples:
        folder = sample_dir(sample.label)
        statuses = control_statuses(engine, scope.catalog, scope.framework.id, sample.at, scope.targets or None)
        doc = {"framework": scope.framework.id, "at": ts(sample.at), "catalog_digest": scope.catalog.digest,
               "controls": [s.as_dict() for s in statuses if s.id in wanted]}  # fmt: skip
        with out.member(f"{folder}/controls.json") as member:
            member.write(json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
        count = 0
        with out.member(f"{folder}/evidence.jsonl") as member:
            for kind in scope.kinds:
                for target in scope.targets or (None,):
                    for item in evidence(engine, EvidenceFilter(kind=kind, target=target, at=sample.at)):
                        member.line(item)
                        count += 1
        done.append({"label": sample.label, "at": ts(sample.at), "path": folder, "evidence": count,
                     "statuses": dict(Counter(s["status"] for s in doc["controls"]))})  # fmt: skip
    return done
