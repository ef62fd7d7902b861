"""`diff RUN_A RUN_B`: what differs between what two runs knew, resource by resource.

"What run R knew" is every interval valid at R: first seen in R or earlier, not ended by R (a unit with
a gap in R keeps what was known before, as everywhere in the store). Evidence differences name each
changed setting by its dotted path in `observed`; verdict differences give both verdicts and reasons.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.store.models import Blob, EvidenceState, Run, VerdictState

MISSING = object()


class RunNotFound(LookupError):
    pass


def _valid_at(model: Any, run_id: int) -> Any:
    return sa.and_(model.first_seen_run_id <= run_id, sa.or_(model.ended_run_id.is_(None), model.ended_run_id > run_id))


def _states(session: Session, run_id: int, target: str | None) -> dict[tuple[str, str, str], tuple[str, str]]:
    es = EvidenceState
    query = sa.select(es.target, es.kind, es.resource_id, es.state_sha, es.blob_sha).where(_valid_at(es, run_id))
    if target:
        query = query.where(es.target == target)
    return {(r.target, r.kind, r.resource_id): (r.state_sha, r.blob_sha) for r in session.execute(query)}


def _verdicts(session: Session, run_id: int, target: str | None) -> dict[tuple[str, str, str], tuple[str, str]]:
    vs = VerdictState
    query = sa.select(vs.target, vs.check_id, vs.resource_id, vs.verdict, vs.reason).where(_valid_at(vs, run_id))
    if target:
        query = query.where(vs.target == target)
    return {(r.target, r.check_id, r.resource_id): (r.verdict, r.reason) for r in session.execute(query)}


def _observed(session: Session, blob_sha: str) -> Any:
    content = session.execute(sa.select(Blob.content).where(Blob.sha256 == blob_sha)).scalar_one()
    return json.loads(content)["observed"]


def setting_changes(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """Dotted paths whose values differ; lists are compared whole (their order is part of the setting)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            out += setting_changes(before.get(key, MISSING), after.get(key, MISSING), sub)
        return out
    if before == after:
        return []
    return [{"path": path or "(whole)", "before": None if before is MISSING else before,
             "after": None if after is MISSING else after}]  # fmt: skip


def diff_runs(engine: sa.Engine, run_a: int, run_b: int, target: str | None = None) -> dict[str, Any]:
    with Session(engine) as session:
        for run_id in (run_a, run_b):
            if session.get(Run, run_id) is None:
                raise RunNotFound(f"no run {run_id}")
        states_a, states_b = _states(session, run_a, target), _states(session, run_b, target)
        evidence = []
        for key in sorted(set(states_a) | set(states_b)):
            a, b = states_a.get(key), states_b.get(key)
            if a and b and a[0] == b[0]:
                continue
            entry: dict[str, Any] = {"target": key[0], "kind": key[1], "resource_id": key[2]}
            if a is None:
                entry["change"], entry["settings"] = "added", setting_changes({}, _observed(session, b[1]))
            elif b is None:
                entry["change"], entry["settings"] = "removed", setting_changes(_observed(session, a[1]), {})
            else:
                entry["change"] = "changed"
                entry["settings"] = setting_changes(_observed(session, a[1]), _observed(session, b[1]))
            evidence.append(entry)
        verdicts_a, verdicts_b = _verdicts(session, run_a, target), _verdicts(session, run_b, target)
        verdicts = []
        for key in sorted(set(verdicts_a) | set(verdicts_b)):
            a, b = verdicts_a.get(key), verdicts_b.get(key)
            if a == b:
                continue
            verdicts.append({
                "target": key[0], "check_id": key[1], "resource_id": key[2],
                "before": {"verdict": a[0], "reason": a[1]} if a else None,
                "after": {"verdict": b[0], "reason": b[1]} if b else None,
            })  # fmt: skip
    return {"run_a": run_a, "run_b": run_b, "evidence": evidence, "verdicts": verdicts}
