"""Retention, legal holds and freshness, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.cli import main
from collector.compliance import check_states, control_statuses
from collector.holds import add_hold, release_hold
from collector.retention import prune
from collector.run import collect
from collector.store.chain import verify
from collector.store.models import DriftEvent, EvidenceState, Run, RunStatus, VerdictState
from collector.store.query import EvidenceFilter, evidence
from collector.store.writer import Judgement, UnitKey, open_run, seal_run, write_unit
from controls.catalog import Catalog, Control, Framework, Link, Strength
from ea_testkit.aws import aws_config
from ea_testkit.store import bucket_evidence

D0 = dt.datetime(2026, 1, 1, 6, tzinfo=dt.UTC)
UNIT = UnitKey("prod", "aws.s3.bucket.encryption", "global")
CHECK = "aws.s3.bucket.encryption_enabled"


def day(n: float) -> dt.datetime:
    return D0 + dt.timedelta(days=n)


def daily_run(engine: sa.Engine, n: int, buckets: dict[str, bool]) -> int:
    when = day(n)
    run_id = open_run(engine, [UNIT.target], "cfg", when)
    items = [bucket_evidence(name, when, encrypted=enc) for name, enc in buckets.items()]
    judgements = [Judgement(CHECK, e.resource_id, e.region, "pass" if e.observed["encrypted"] else "fail",
                            "on" if e.observed["encrypted"] else "off") for e in items]  # fmt: skip
    write_unit(engine, run_id, UNIT, items, when, when, judgements, fresh_until=when + dt.timedelta(days=2))
    seal_run(engine, run_id, RunStatus.COMPLETE, when + dt.timedelta(minutes=1))
    return run_id


def ten_days(engine: sa.Engine) -> None:
    """Bucket a flips every other day, b never changes, c is gone after day 2."""
    for n in range(10):
        buckets = {"a": n // 2 % 2 == 0, "b": True}
        if n <= 2:
            buckets["c"] = False
        daily_run(engine, n, buckets)


def snapshot(engine: sa.Engine, at: dt.datetime | None) -> list[tuple[Any, ...]]:
    return [(r["kind"], r["resource_id"], r["state_sha256"], r["first_seen"]["run"], r["last_seen"]["run"])
            for r in evidence(engine, EvidenceFilter(at=at))]  # fmt: skip


def table_dump(engine: sa.Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {t: sorted(repr(tuple(r)) for r in conn.execute(sa.text(f'SELECT * FROM "{t}"')))
                for t in sa.inspect(engine).get_table_names() if t != "alembic_version"}  # fmt: skip


def test_prune_keeps_the_chain_verifiable_and_answers_after_the_cutoff_unchanged(engine):
    ten_days(engine)
    after_cutoff = [snapshot(engine, day(n + 0.5)) for n in (5, 7, 9)] + [snapshot(engine, None)]
    summary = prune(engine, keep_days=5, keep_runs_min=2, now=day(10))
    assert summary["cutoff"] == "2026-01-06T06:00:00Z" and summary["removed"]["runs_tombstoned"] == 5
    assert summary["removed"]["evidence_states"] > 0 and summary["removed"]["verdict_states"] > 0
    assert summary["removed"]["blobs"] > 0
    result = verify(engine)
    assert result.ok, result.problems
    assert result.pruned_runs == 5 and result.pruned_before == "2026-01-06T06:00:00Z"
    assert [snapshot(engine, day(n + 0.5)) for n in (5, 7, 9)] + [snapshot(engine, None)] == after_cutoff
    with Session(engine) as s:
        # open intervals are never pruned, however old their start: b was first seen on day 0
        b = s.execute(sa.select(EvidenceState).where(EvidenceState.resource_id == "arn:aws:s3:::b")).scalar_one()
        assert b.first_seen_at == day(0) and b.ended_at is None
        assert not s.execute(sa.select(EvidenceState).where(EvidenceState.resource_id == "arn:aws:s3:::c")).first()
        assert s.execute(sa.select(sa.func.min(VerdictState.ended_at))).scalar() >= day(5)


@pytest.mark.parametrize("edit", ["status", "counts", "digest", "unlisted"])
def test_an_edited_tombstone_fails_verify(engine, edit):
    ten_days(engine)
    prune(engine, keep_days=5, keep_runs_min=2, now=day(10))
    with Session(engine) as s, s.begin():
        run = s.execute(sa.select(Run).where(Run.pruned_at.is_not(None)).order_by(Run.seq).limit(1)).scalar_one()
        victim = run.id
        if edit == "status":
            run.status = "complete" if run.status != "complete" else "partial"
        elif edit == "counts":
            run.tombstone = {**run.tombstone, "observed": run.tombstone["observed"] + 1}
        elif edit == "digest":
            run.digest = "f" * 64
        else:  # a run pruned outside `prune`, with no chain record vouching for it
            other = s.execute(sa.select(Run).where(Run.pruned_at.is_(None), Run.record == "collection")
                              .order_by(Run.seq).limit(1)).scalar_one()  # fmt: skip
            other.pruned_at, victim = day(10), other.id
    result = verify(engine)
    assert not result.ok
    assert any(p.run_id == victim or (edit == "digest" and p.run_id == victim + 1) for p in result.problems), (
        result.problems
    )


def test_evidence_at_a_pruned_time_says_it_was_pruned(engine, db_url, monkeypatch, capsys):
    ten_days(engine)
    prune(engine, keep_days=5, keep_runs_min=2, now=day(10))
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    capsys.readouterr()
    assert run_main("evidence", "--at", "2026-01-02T00:00:00Z", "--format", "json") == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer == {"at": "2026-01-02T00:00:00Z", "pruned_before": "2026-01-06T06:00:00Z", "targets": ["prod"],
                      "evidence": None}  # fmt: skip
    assert run_main("evidence", "--at", "2026-01-08T00:00:00Z", "--format", "json") == 0
    assert len(json.loads(capsys.readouterr().out)["evidence"]) == 2
    assert run_main("verify") == 0
    assert "5 runs pruned before 2026-01-06T06:00:00Z kept as tombstones" in capsys.readouterr().out


def test_dry_run_changes_nothing_and_reports_exactly_what_prune_removes(engine):
    ten_days(engine)
    before = table_dump(engine)
    dry = prune(engine, keep_days=5, keep_runs_min=2, now=day(10), dry_run=True)
    assert table_dump(engine) == before, "a dry run must not change a row"
    real = prune(engine, keep_days=5, keep_runs_min=2, now=day(10))
    assert dry["removed"] == real["removed"] and dry["cutoff"] == real["cutoff"] and dry["skipped"] == real["skipped"]
    after = table_dump(engine)
    assert len(before["evidence_state"]) - len(after["evidence_state"]) == real["removed"]["evidence_states"]
    assert len(before["blob"]) - len(after["blob"]) == real["removed"]["blobs"]
    assert len(before["run_unit"]) - len(after["run_unit"]) == real["removed"]["run_units"]


def test_keep_runs_min_and_nothing_old_enough(engine):
    ten_days(engine)
    assert prune(engine, keep_days=1, keep_runs_min=8, now=day(10))["removed"]["runs_tombstoned"] == 2
    assert prune(engine, keep_days=30, keep_runs_min=2, now=day(10))["record"] is None
    assert verify(engine).ok


def test_a_hold_keeps_every_state_of_its_period(engine):
    ten_days(engine)
    held_times = [day(n + 0.5) for n in (1, 2, 3)]
    held = [snapshot(engine, t) for t in held_times]
    hold = add_hold(engine, "iso27001-2022", day(1), day(3.5), "ISO surveillance audit 2026", "auditor@test", day(10))
    summary = prune(engine, keep_days=5, keep_runs_min=2, now=day(10))
    assert summary["held"] == [{"hold": hold["id"], "from": "2026-01-02T06:00:00Z", "to": "2026-01-04T18:00:00Z"}]
    assert summary["removed"]["runs_tombstoned"] == 2, "days 0 and 4 are pruned; 1-3 are held"
    assert any("legal hold" in why for why in summary["skipped"])
    assert [snapshot(engine, t) for t in held_times] == held
    assert verify(engine).ok
    release_hold(engine, hold["id"], "auditor@test", day(11))
    again = prune(engine, keep_days=5, keep_runs_min=2, now=day(11))
    assert again["removed"]["runs_tombstoned"] == 4 and again["held"] == []
    result = verify(engine)
    assert result.ok and result.pruned_runs == 6
    with Session(engine) as s:
        records = s.execute(sa.select(Run.record, Run.details).where(Run.record != "collection")
                            .order_by(Run.seq)).all()  # fmt: skip
    assert [r.record for r in records] == ["hold", "prune", "release", "prune"]
    assert records[0].details["by"] == "auditor@test" and records[2].details["by"] == "auditor@test"


def one_check_catalog() -> Catalog:
    control = Control("X.1", "versioned data", "technological")
    link = Link("aws.s3.bucket.versioning_enabled", "X.1", Strength.PRIMARY, "test")
    return Catalog({"fw": Framework("fw", "test", "1", [control], [link])}, {}, "digest")


def test_a_stale_unit_turns_its_controls_not_collected_and_raises_one_event(engine, db_url, moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="fresh")
    s3.put_bucket_versioning(Bucket="fresh", VersioningConfiguration={"Status": "Enabled"})
    t0 = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    base = aws_config(moto_endpoint, db_url, regions=["us-east-1"], kinds=["aws.s3.bucket.versioning"])
    cfg = base.model_copy(update={"freshness": {"aws.s3.bucket.versioning": "1h"}})
    collect(cfg, engine, clock=lambda: t0)
    catalog = one_check_catalog()

    def status(at: dt.datetime) -> str:
        (control,) = control_statuses(engine, catalog, "fw", at=at)
        return control.status

    assert status(t0 + dt.timedelta(minutes=30)) == "compliant"
    assert status(t0 + dt.timedelta(hours=2)) == "not_collected", "stale evidence never passes for current"
    with Session(engine) as s:
        gaps = check_states(s, t0 + dt.timedelta(hours=2))["aws.s3.bucket.versioning_enabled"].gaps
    assert [(g["reason"], g["fresh_until"]) for g in gaps] == [("stale", "2026-11-27T11:00:00Z")]

    other = aws_config(moto_endpoint, db_url, regions=["us-east-1"], kinds=["aws.s3.bucket.encryption"])
    collect(other, engine, clock=lambda: t0 + dt.timedelta(hours=2))
    collect(other, engine, clock=lambda: t0 + dt.timedelta(hours=3))
    with Session(engine) as s:
        events = s.execute(sa.select(DriftEvent).where(DriftEvent.kind == "aws.s3.bucket.versioning")).scalars().all()
    assert [(e.type, e.details["gap_reason"], e.run_id) for e in events] == [("collection_gap", "stale", 2)]
    result = collect(cfg, engine, clock=lambda: t0 + dt.timedelta(hours=4))
    assert [(e["type"], e["kind"]) for e in result.drift] == [("gap_resolved", "aws.s3.bucket.versioning")]
    assert status(t0 + dt.timedelta(hours=4, minutes=10)) == "compliant"


def run_main(*args: str) -> int:
    sys.argv = ["evidence-agent", *args]
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def test_prune_and_hold_commands(engine, db_url, tmp_path, capsys):
    ten_days(engine)
    cfg = tmp_path / "evidence-agent.yaml"
    target = {"name": "prod", "provider": "aws", "regions": ["eu-west-1"]}
    cfg.write_text(json.dumps({"database_url": db_url, "targets": [target]}))
    assert run_main("prune", "-c", str(cfg)) == 2
    assert "error: retention.keep_days: not set in the config" in capsys.readouterr().err
    assert run_main("hold", "add", "--framework", "soc2-2017", "--from", "2026-01-02", "--to", "2026-01-03",
                    "--reason", "SOC 2 Type II window", "-c", str(cfg), "--format", "json") == 0  # fmt: skip
    hold = json.loads(capsys.readouterr().out)
    assert (hold["from"], hold["to"]) == ("2026-01-02T00:00:00Z", "2026-01-03T23:59:59.999999Z")
    assert run_main("hold", "add", "--framework", "nope", "--from", "2026-01-02", "--to", "2026-01-03",
                    "--reason", "x", "-c", str(cfg)) == 2  # fmt: skip
    assert run_main("hold", "add", "--framework", "gdpr", "--from", "2026-01-05", "--to", "2026-01-03",
                    "--reason", "x", "-c", str(cfg)) == 2  # fmt: skip
    assert "--to: the end of the held period is before its start" in capsys.readouterr().err
    cfg.write_text(json.dumps({"database_url": db_url, "targets": [target],
                               "retention": {"keep_days": 5, "keep_runs_min": 2}}))  # fmt: skip
    assert run_main("prune", "-c", str(cfg), "--dry-run", "--format", "json") == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True and dry["removed"]["runs_tombstoned"] > 0 and dry["record"] is None
    assert run_main("hold", "list", "-c", str(cfg), "--format", "json") == 0
    assert [h["reason"] for h in json.loads(capsys.readouterr().out)["holds"]] == ["SOC 2 Type II window"]
    assert run_main("hold", "release", "99", "-c", str(cfg)) == 2
    assert "HOLD_ID: no hold 99" in capsys.readouterr().err


def test_a_bundle_of_a_held_period_is_the_same_after_prune(engine, db_url, monkeypatch, tmp_path):
    import zipfile

    from ea_testkit.bundle import cli

    ten_days(engine)
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    jan4 = dt.datetime(2026, 1, 4, tzinfo=dt.UTC)
    add_hold(engine, "iso27001-2022", jan4, jan4 + dt.timedelta(days=1), "certification audit", "auditor@test", day(10))
    period = ["--framework", "iso27001-2022", "--from", "2026-01-04", "--to", "2026-01-04"]

    def evidence_files(path) -> dict[str, bytes]:
        with zipfile.ZipFile(path) as zf:
            return {n: zf.read(n) for n in zf.namelist() if n.startswith("controls/") and n.endswith(".jsonl")}

    code, _, err = cli("bundle", "create", *period, "--out", str(tmp_path / "before.zip"))
    assert code == 0, err
    summary = prune(engine, keep_days=5, keep_runs_min=2, now=day(10))
    assert summary["removed"]["runs_tombstoned"] == 3, "days 0, 1 and 4 go; day 2 last saw states of the period"
    code, _, err = cli("bundle", "create", *period, "--out", str(tmp_path / "after.zip"))
    assert code == 0, err
    before, after = evidence_files(tmp_path / "before.zip"), evidence_files(tmp_path / "after.zip")
    assert before and any(before.values()), "the held period has evidence"
    assert after == before, "prune changed evidence a held bundle includes"
    code, out, err = cli("bundle", "verify", str(tmp_path / "after.zip"))
    assert code == 0, out + err
