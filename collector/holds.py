"""Legal holds: periods of a framework's evidence that prune must keep, whatever the retention says
(docs/store.md, Legal holds). Placing and releasing one are chain records, with who and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.retention import RetentionError, append_record
from collector.store.models import LegalHold
from connectors.base import rfc3339


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
