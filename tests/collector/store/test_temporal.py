"""Store semantics on SQLite and PostgreSQL: intervals, removal, gaps, point-in-time reads."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.store.models import Blob, EvidenceState, Gap, Run
from collector.store.query import EvidenceFilter, evidence
from collector.store.writer import write_unit
from ea_testkit.store import UNIT, at, bucket_evidence


def states(engine: sa.Engine) -> list[EvidenceState]:
    with Session(engine) as s:
        return list(s.execute(sa.select(EvidenceState).order_by(EvidenceState.id)).scalars())


def current(engine: sa.Engine, **flt: object) -> dict[str, dict]:
    return {row["resource_id"]: row for row in evidence(engine, EvidenceFilter(**flt))}


def test_unchanged_observation_moves_last_seen_only(engine, script):
    first = script.run({"media": {}})
    second = script.run({"media": {}})
    rows = states(engine)
    assert len(rows) == 1, "an unchanged observation must not add a row"
    assert rows[0].first_seen_run_id == first and rows[0].ended_run_id is None
    seen = current(engine)["arn:aws:s3:::media"]
    assert seen["first_seen"]["run"] == first
    assert seen["last_seen"] == {"run": second, "at": "2026-03-01T14:00:00Z"}
    with Session(engine) as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Blob)).scalar() == 1


def test_changed_observation_ends_interval_and_opens_new_one(engine, script):
    script.run({"media": {}})
    second = script.run({"media": {}})
    third = script.run({"media": {"encrypted": False}})
    old, new = states(engine)
    assert (old.ended_run_id, old.end_reason) == (third, "changed")
    assert old.ended_at == at(3)
    assert (old.last_seen_run_id, old.last_seen_at) == (second, at(2))
    assert new.first_seen_run_id == third and new.ended_run_id is None
    assert current(engine)["arn:aws:s3:::media"]["observed"] == {"encrypted": False}


def test_resource_missing_from_successful_unit_is_removed(engine, script):
    script.run({"media": {}, "logs": {}})
    removal = script.run({"media": {}})
    by_id = {row.resource_id: row for row in states(engine)}
    assert by_id["arn:aws:s3:::logs"].end_reason == "removed"
    assert by_id["arn:aws:s3:::logs"].ended_run_id == removal
    assert by_id["arn:aws:s3:::media"].ended_run_id is None
    assert set(current(engine)) == {"arn:aws:s3:::media"}


def test_failed_unit_keeps_intervals_open_and_records_gap(engine, script):
    first = script.run({"media": {}})
    failed = script.run(None)
    (row,) = states(engine)
    assert row.ended_run_id is None, "a failed unit must not end what it could not see"
    seen = current(engine)["arn:aws:s3:::media"]
    assert seen["last_seen"]["run"] == first, "a gap must not count as a sighting"
    with Session(engine) as s:
        gaps = s.execute(sa.select(Gap)).scalars().all()
        statuses = dict(s.execute(sa.select(Run.id, Run.status)).all())
    assert [(g.run_id, g.kind, g.scope, g.reason) for g in gaps] == [(failed, UNIT.kind, "global", "denied")]
    assert statuses == {first: "complete", failed: "failed"}


def test_evidence_at_returns_what_was_true_then(engine, script):
    script.run({"media": {}, "logs": {}})  # at(1)
    script.run({"media": {"encrypted": False}, "logs": {}})  # at(2): media changed
    script.run({"media": {"encrypted": False}})  # at(3): logs removed
    assert current(engine, at=at(0.5)) == {}
    then = current(engine, at=at(1.5))
    assert {k: v["observed"] for k, v in then.items()} == {
        "arn:aws:s3:::media": {"encrypted": True},
        "arn:aws:s3:::logs": {"encrypted": True},
    }
    assert then["arn:aws:s3:::media"]["last_seen"]["run"] == 1
    later = current(engine, at=at(2.5))
    assert later["arn:aws:s3:::media"]["observed"] == {"encrypted": False}
    assert later["arn:aws:s3:::logs"]["last_seen"]["run"] == 2
    assert set(current(engine, at=at(3.5))) == {"arn:aws:s3:::media"}


def test_timestamps_come_back_timezone_aware_utc(engine, script):
    script.run({"media": {}})
    (row,) = states(engine)
    assert row.first_seen_at == at(1)
    assert row.first_seen_at.tzinfo is not None and row.first_seen_at.utcoffset() == dt.timedelta(0)


def test_conflicting_duplicate_observation_is_refused_whole(engine, script):
    from collector.store.writer import open_run
    from connectors.base import CollectionError

    run_id = open_run(engine, ["prod"], "cfg", at(1))
    items = [bucket_evidence("media", at(1)), bucket_evidence("media", at(1), encrypted=False)]
    with pytest.raises(CollectionError, match="observed twice"):
        write_unit(engine, run_id, UNIT, items, at(1), at(1))
    assert states(engine) == []


def test_identical_duplicate_observation_is_stored_once(engine, script):
    from collector.store.writer import open_run

    run_id = open_run(engine, ["prod"], "cfg", at(1))
    items = [bucket_evidence("media", at(1)), bucket_evidence("media", at(1))]
    unit = write_unit(engine, run_id, UNIT, items, at(1), at(1))
    assert unit.observed == 1 and len(states(engine)) == 1
