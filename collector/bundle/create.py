"""`evidence-agent bundle create`: write one bundle zip for a framework, a period and optional filters.

Members are streamed one after another (zipfile's `open(name, "w")`), hashed as they are written,
and read from one consistent snapshot of the store in batches, so memory does not grow with the
period. The order: evidence per control, attachments, gaps, drift, samples, the chain (states and
runs), controls.csv, the OSCAL document, index.html, then manifest.json (which lists every file
before it with size and sha256), its signature, and SHA256SUMS (every file, manifest included).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from collector.bundle import keys, oscal
from collector.bundle.evidence import (
    EvidenceContext,
    EvidenceStats,
    latest_collections,
    verdict_history,
    write_evidence,
)
from collector.bundle.layout import CONTROLS_CSV, FORMAT, INDEX_HTML, MANIFEST, OSCAL, SIGNATURE, SUMS, ts
from collector.bundle.records import write_access, write_attachments, write_drift, write_gaps, write_samples
from collector.bundle.report import ControlReport, controls_csv, render_index
from collector.bundle.runs import ChainStats, write_chain
from collector.bundle.scope import Period, Sample, Scope, build_scope, snapshot
from collector.bundle.zipout import BundleZip, SecretGuard
from connectors.base import agent_version, canonical_json, sha256_hex, utcnow
from controls.catalog import Catalog

FAILING_SHOWN = 25
DEFAULT_FRESHNESS = dt.timedelta(days=2)


@dataclass(frozen=True)
class BundleRequest:
    framework: str
    period: Period
    out: Path
    controls: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    samples: tuple[Sample, ...] = ()
    sign_key: Ed25519PrivateKey | None = None


@dataclass
class BundleResult:
    path: Path
    manifest: dict[str, Any]
    size: int


def framework_digests(scope: Scope) -> dict[str, str]:
    """Digests of the framework's catalog (controls) and mapping (links) as used for this bundle."""
    fw = scope.framework
    controls = [[c.id, c.title, c.group] for c in fw.controls]
    links = sorted([link.check_id, link.control_id, link.strength.value, link.rationale] for link in fw.links)
    return {"catalog_sha256": sha256_hex(canonical_json(controls)), "mapping_sha256": sha256_hex(canonical_json(links))}


def _latest_per_check(scope: Scope, latest: dict[tuple[str, str, str], tuple[Any, ...]]) -> dict[str, Any]:
    """Per check: its evidence's newest collection up to the end of the period, and until when that counts
    as current (the unit's freshness limit; None where the store has none)."""
    newest: dict[str, tuple[dt.datetime, dt.datetime | None]] = {}
    for (target, kind, _), (_, at, fresh_until) in latest.items():
        if scope.targets and target not in scope.targets:
            continue
        for check in scope.checks.values():
            if kind in check.reads and (check.id not in newest or at > newest[check.id][0]):
                newest[check.id] = (at, fresh_until)
    return newest


def create_bundle(
    engine: sa.Engine,
    catalog: Catalog,
    request: BundleRequest,
    *,
    guard: SecretGuard | None = None,
    now: Callable[[], dt.datetime] = utcnow,
) -> BundleResult:
    generated_at = now()
    out_path = request.out
    partial = out_path.with_name(out_path.name + ".partial")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with snapshot(engine) as conn:
            scope = build_scope(conn, catalog, request.framework, request.period, list(request.controls),
                                list(request.targets), request.samples)  # fmt: skip
            stamp = min(scope.period.end, generated_at)  # member times from the data, not the clock
            out = BundleZip(partial, stamp, guard or SecretGuard())
            try:
                manifest = _write(out, engine, conn, scope, request, generated_at)
            finally:
                out.close()
        os.replace(partial, out_path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BundleResult(out_path, manifest, out_path.stat().st_size)


def _write(out: BundleZip, engine: sa.Engine, conn: sa.Connection, scope: Scope, request: BundleRequest,
           generated_at: dt.datetime) -> dict[str, Any]:  # fmt: skip
    from collector.compliance import check_states, control_statuses

    period = scope.period
    latest = latest_collections(conn, period.end)
    ctx = EvidenceContext(conn, scope, latest)
    evidence = write_evidence(out, ctx)
    attachments = write_attachments(out, conn, scope)
    gaps = write_gaps(out, conn, scope)
    drift = write_drift(out, conn, scope)
    write_access(out, conn, scope)
    samples = write_samples(out, engine, scope)
    chain = write_chain(out, conn, scope, ctx.context_runs | attachments.runs)
    edges, histories = verdict_history(conn, scope)

    at_end = min(period.last_moment, generated_at)
    targets = scope.targets or None
    with Session(engine) as session:
        states = check_states(session, at_end, targets)
    statuses = {s.id: s for s in control_statuses(engine, scope.catalog, scope.framework.id, at_end, targets,
                                                  states=states)}  # fmt: skip
    collected = _latest_per_check(scope, latest)
    reports = _control_reports(scope, statuses, states, collected, evidence, histories, gaps, drift, attachments)
    out.write_bytes(CONTROLS_CSV, controls_csv(scope.framework.id, reports).encode("utf-8"))

    meta = _meta(scope, request, generated_at, chain, engine, samples)
    freshness = 2 * chain.typical_interval if chain.typical_interval else DEFAULT_FRESHNESS
    observations = []
    for check in sorted(scope.checks):
        history = histories.get(check)
        state = states[check]
        at, fresh_until = collected.get(check, (None, None))
        expires = fresh_until or (at + freshness if at else None)
        observations.append(oscal.CheckObservation(
            check, state.passed, state.failed, state.not_applicable,
            sum(history.opened.values()) if history else 0, at, expires,
            [c.evidence_path for c in scope.controls if c.evidence_path and any(x.id == check for x in c.checks)],
        ))  # fmt: skip
    findings = [
        oscal.ControlFinding(r.id, r.title, r.status, [x["check"] for x in r.checks], r.resources, r.failures,
                             r.gaps_now, [a["path"] for a in r.attachments])
        for r in reports
    ]  # fmt: skip
    model = oscal.build(meta, observations, findings, [(f.path, f.sha256) for f in out.files.values()])
    out.write_bytes(OSCAL, oscal.serialize(model))
    out.write_bytes(INDEX_HTML, render_index(meta, reports, edges).encode("utf-8"))

    manifest = meta | {
        "controls": [{"id": r.id, "title": r.title, "status": r.status, "evidence": r.evidence_path,
                      "evidence_states": r.evidence_states} for r in reports],
        "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in sorted(out.files.values(),
                                                                                       key=lambda f: f.path)],
    }  # fmt: skip
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    out.write_bytes(MANIFEST, manifest_bytes)
    if request.sign_key is not None:
        out.write_bytes(SIGNATURE, keys.sign(request.sign_key, manifest_bytes))
    sums = "".join(f"{f.sha256}  {f.path}\n" for f in sorted(out.files.values(), key=lambda f: f.path))
    out.write_bytes(SUMS, sums.encode("utf-8"))
    return manifest


def _meta(scope: Scope, request: BundleRequest, generated_at: dt.datetime, chain: ChainStats, engine: sa.Engine,
          samples: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    fw = scope.framework
    signature = None
    if request.sign_key is not None:
        public = request.sign_key.public_key()
        signature = {"algorithm": "Ed25519", "file": SIGNATURE, "public_key": keys.public_pem(public),
                     "public_key_sha256": keys.fingerprint(public)}  # fmt: skip
    return {
        "format": FORMAT,
        "framework": {"id": fw.id, "title": fw.title, "version": fw.version} | framework_digests(scope),
        "catalog_digest": scope.catalog.digest,
        "period": {"from": ts(scope.period.start), "to": ts(scope.period.end), "end": "exclusive"}
        | ({"requested_to": ts(request.period.end), "cut_short_by": "a run still in progress"}
           if scope.period.end != request.period.end else {}),
        "filters": {"controls": list(request.controls), "targets": list(scope.targets),
                    "sample_dates": [s.label for s in scope.samples]},
        "generated": {"at": ts(generated_at), "database": engine.dialect.name,
                      "by": {"agent": "evidence-agent", "version": agent_version(), "host": socket.gethostname(),
                             "platform": platform.platform(terse=True), "python": platform.python_version()}},
        "chain": {"first": chain.first, "last": chain.last, "runs": chain.period_runs,
                  "statuses": dict(sorted(chain.statuses.items())), "context_runs": chain.context_runs,
                  "states": chain.states},
        "samples": samples,
        "signature": signature,
    }  # fmt: skip


def _control_reports(scope: Scope, statuses: dict[str, Any], states: dict[str, Any], collected: dict[str, Any],
                     evidence: dict[str, EvidenceStats], histories: dict[str, Any], gaps: Any, drift: Any,
                     attachments: Any) -> list[ControlReport]:  # fmt: skip
    reports = []
    for control in scope.controls:
        status = statuses[control.id]
        strength = {link.check_id: link for link in control.links}
        checks = []
        failing: list[dict[str, Any]] = []
        changes = 0
        recent: list[dict[str, Any]] = []
        failing_series: list[int] = []
        passing_series: list[int] = []
        for check in control.checks:
            state = states[check.id]
            link = strength[check.id]
            history = histories.get(check.id)
            checks.append({"check": check.id, "strength": link.strength.value, "rationale": link.rationale,
                           "reads": list(check.reads), "passed": state.passed, "failed": state.failed,
                           "not_applicable": state.not_applicable,
                           "collected": ts(collected[check.id][0]) if check.id in collected else None})  # fmt: skip
            failing.extend(f | {"check": check.id} for f in state.failures[: FAILING_SHOWN - len(failing)])
            if history:
                changes += sum(history.opened.values())
                recent.extend(history.recent)
                failing_series = _add(failing_series, history.failing)
                passing_series = _add(passing_series, history.passing)
        stats = evidence.get(control.id, EvidenceStats())
        reports.append(ControlReport(
            id=control.id, title=control.title, group=control.group, slug=control.slug, status=status.status,
            evidence_path=control.evidence_path, checks=checks, resources=status.resources, failures=status.failures,
            gaps_now=status.gaps, attachments_now=status.attachments, failing=failing[:FAILING_SHOWN],
            evidence_states=stats.states, evidence_resources=stats.resources, verdict_changes=changes,
            verdict_rows=sorted(recent, key=lambda v: v["at"], reverse=True)[:FAILING_SHOWN],
            failing_series=failing_series, passing_series=passing_series,
            gap_count=gaps.counts.get(control.id, 0), gap_rows=gaps.rows.get(control.id, []),
            drift_count=drift.counts.get(control.id, 0), drift_rows=drift.rows.get(control.id, []),
            attachments=attachments.rows.get(control.id, []),
        ))  # fmt: skip
    return reports


def _add(total: list[int], series: list[int]) -> list[int]:
    if not total:
        return list(series)
    return [a + b for a, b in zip(total, series, strict=True)]


