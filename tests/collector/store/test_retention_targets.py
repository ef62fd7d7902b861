"""Per-target retention (a target's own `retention:`), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.cli import main
from collector.holds import add_hold, release_hold
from collector.retention import Keep, prune
from collector.store.chain import verify
from collector.store.models import EvidenceState, Gap, Run, RunStatus, RunUnit, VerdictState
from collector.store.query import EvidenceFilter, evidence
from collector.store.writer import Judgement, UnitKey, open_run, seal_run, write_gap, write_unit
from connectors.base import CollectionError, GapReason
from ea_testkit.store import bucket_evidence

D0 = dt.datetime(2026, 1, 1, 6, tzinfo=dt.UTC)
KIND = "aws.s3.bucket.encryption"
CHECK = "aws.s3.bucket.encryption_enabled"
PROD_CUT, DEV_CUT = "2026-01-06T06:00:00Z", "2026-01-09T06:00:00Z"  # keep 5 days (global) and 2 days (dev)


def day(n: float) -> dt.datetime:
    return D0 + dt.timedelta(days=n)


def collect_day(engine: sa.Engine, n: int, targets: tuple[str, ...] = ("dev", "prod"), hours: float = 0,
                gaps: tuple[str, ...] = (), dated: bool = False) -> int:  # fmt: skip
    """One run of the targets on day n: bucket a flips every run, b never changes, c is gone after day 2.
    `dated`: bucket a also observes the day, so none of its states comes back."""
    when = day(n) + dt.timedelta(hours=hours)
    run_id = open_run(engine, list(targets), "cfg", when)
    for target in targets:
        unit = UnitKey(target, KIND, "global")
        if target in gaps:
            write_gap(engine, run_id, unit, CollectionError(GapReason.DENIED, "AccessDenied"), when, when)
            continue
        buckets = {"a": n % 2 == 0, "b": True} | ({"c": False} if n <= 2 else {})
        items = [bucket_evidence(name, when, encrypted=enc, **({"day": n} if dated and name == "a" else {}))
                 for name, enc in buckets.items()]  # fmt: skip
        judgements = [Judgement(CHECK, e.resource_id, e.region, "pass" if e.observed["encrypted"] else "fail",
                                "on" if e.observed["encrypted"] else "off") for e in items]  # fmt: skip
        write_unit(engine, run_id, unit, items, when, when, judgements)
    seal_run(engine, run_id, RunStatus.COMPLETE, when + dt.timedelta(minutes=1))
    return run_id


def ten_days(engine: sa.Engine, **kwargs: Any) -> list[int]:
    return [collect_day(engine, n, **kwargs) for n in range(10)]


def intervals(engine: sa.Engine) -> list[tuple[Any, ...]]:
    """Every evidence and verdict interval: (table, target, resource, first seen, ended)."""
    with Session(engine) as s:
        return sorted((m.__tablename__, r.target, r.resource_id, r.first_seen_at, r.ended_at)
                      for m in (EvidenceState, VerdictState) for r in s.execute(sa.select(m)).scalars())  # fmt: skip


def snapshot(engine: sa.Engine, at: dt.datetime | None, target: str) -> list[tuple[Any, ...]]:
    return [(r["resource_id"], r["state_sha256"], r["first_seen"]["run"], r["last_seen"]["run"])
            for r in evidence(engine, EvidenceFilter(target=target, at=at))]  # fmt: skip


def table_dump(engine: sa.Engine) -> dict[str, list[str]]:
    with engine.connect() as conn:
        return {t: sorted(repr(tuple(r)) for r in conn.execute(sa.text(f'SELECT * FROM "{t}"')))
                for t in sa.inspect(engine).get_table_names() if t != "alembic_version"}  # fmt: skip


def run_main(*args: str) -> int:
    sys.argv = ["evidence-agent", *args]
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def test_each_target_is_pruned_to_its_own_cutoff_and_the_chain_still_verifies(engine):
    ten_days(engine)
    before = intervals(engine)
    kept_views = {(t, n): snapshot(engine, day(n + 0.5), t) for t, n in [("prod", 5), ("prod", 7), ("dev", 8)]}
    summary = prune(engine, 5, 2, day(10), targets={"dev": Keep(2, 2)})
    assert (summary["targets"]["prod"]["cutoff"], summary["targets"]["dev"]["cutoff"]) == (PROD_CUT, DEV_CUT)
    cut = {"prod": day(5), "dev": day(8)}
    assert intervals(engine) == [r for r in before if r[4] is None or r[4] >= cut[r[1]]]
    assert any(r[1] == "prod" and day(5) <= r[4] < day(8) for r in before if r[4]), "prod keeps what dev loses"
    assert summary["removed"]["runs_tombstoned"] == 5, "days 0-4 are older than both cutoffs"
    assert summary["removed"]["runs_partly_pruned"] == 3, "days 5-7 lose dev's rows and keep prod's"
    result = verify(engine)
    assert result.ok, result.problems
    assert (result.pruned_runs, result.partly_pruned_runs, result.pruned_before) == (5, 3, DEV_CUT)
    assert {key: snapshot(engine, day(key[1] + 0.5), key[0]) for key in kept_views} == kept_views
    # A later prune removes more of runs already pruned in part; the newest listing of each is what counts.
    collect_day(engine, 10)
    again = prune(engine, 5, 2, day(11), targets={"dev": Keep(1, 2)})
    assert again["removed"]["runs_tombstoned"] == 1 and again["removed"]["runs_partly_pruned"] == 2
    result = verify(engine)
    assert result.ok, result.problems
    assert (result.pruned_runs, result.partly_pruned_runs) == (6, 3)


def test_dry_run_reports_exactly_what_a_per_target_prune_removes(engine):
    for n in range(10):
        collect_day(engine, n, gaps=("dev",) if n in (3, 6) else ())
    before = table_dump(engine)
    dry = prune(engine, 5, 2, day(10), targets={"dev": Keep(2, 2)}, dry_run=True)
    assert table_dump(engine) == before, "a dry run must not change a row"
    real = prune(engine, 5, 2, day(10), targets={"dev": Keep(2, 2)})
    assert dry["removed"] == real["removed"] and dry["targets"] == real["targets"] and dry["skipped"] == real["skipped"]
    after = table_dump(engine)
    for table, key in [("evidence_state", "evidence_states"), ("verdict_state", "verdict_states"), ("gap", "gaps"),
                       ("run_unit", "run_units"), ("blob", "blobs")]:  # fmt: skip
        assert len(before[table]) - len(after[table]) == real["removed"][key], table
    assert real["removed"]["gaps"] == 2, "dev's gaps of day 3 (a tombstone) and day 6 (pruned in part)"
    with Session(engine) as s:
        assert s.execute(sa.select(sa.func.count()).where(Run.pruned_at.is_not(None))).scalar() == 5
        details = s.execute(sa.select(Run.details).where(Run.record == "prune")).scalar_one()
        assert not s.execute(sa.select(Gap).where(Gap.target == "dev")).first()
    # Day 7's run keeps dev's last collection before its cutoff and ended none of dev's states (they did not
    # change since day 5): nothing of it went, so it keeps its digest and is not listed.
    assert [(seq, targets) for _run, seq, _residual, targets in details["partial"]] == [(6, ["dev"]), (7, ["dev"])]
    assert verify(engine).ok


def test_a_hold_wins_over_a_targets_own_retention(engine):
    ten_days(engine)
    held = snapshot(engine, day(5.5), "dev")  # bucket a's state of day 5 ended on day 6: dev would lose it
    hold = add_hold(engine, "iso27001-2022", day(5.5), day(5.6), "audit", "auditor@test", day(10))
    summary = prune(engine, 5, 2, day(10), targets={"dev": Keep(2, 2)})
    assert summary["skipped"]["runs kept by a legal hold"] == 1, "day 5 last observed the states held"
    assert summary["removed"]["runs_partly_pruned"] == 2, "days 6 and 7; day 5 is held"
    assert snapshot(engine, day(5.5), "dev") == held
    assert verify(engine).ok
    release_hold(engine, hold["id"], "auditor@test", day(10))
    again = prune(engine, 5, 2, day(10), targets={"dev": Keep(2, 2)})
    # bucket a's states of days 4 and 5 go: day 5's run loses dev's collection, day 6's run the end of one
    assert again["removed"]["runs_partly_pruned"] == 2 and again["removed"]["evidence_states"] == 2
    assert snapshot(engine, day(5.5), "dev") != held
    assert verify(engine).ok


def test_keep_runs_min_counts_the_runs_of_each_target(engine):
    for n in range(10):  # prod daily at 06:00, dev only every third day at 12:00
        collect_day(engine, n, ("prod",))
        if n % 3 == 0:
            collect_day(engine, n, ("dev",), hours=6)
    dev_views = {n: snapshot(engine, day(n + 0.3), "dev") for n in (3, 6)}
    summary = prune(engine, 1, 3, day(10))
    # The 3 newest runs of prod start on day 7, those of dev on day 3 (counting the runs of both targets,
    # the cutoff would be day 8 and take what dev's runs of days 3 and 6 observed).
    assert summary["targets"]["prod"]["cutoff"] == "2026-01-08T06:00:00Z"
    assert summary["targets"]["dev"]["cutoff"] == "2026-01-04T12:00:00Z"
    assert {n: snapshot(engine, day(n + 0.3), "dev") for n in dev_views} == dev_views
    with Session(engine) as s:
        pruned = s.execute(sa.select(Run.targets, Run.started_at).where(Run.pruned_at.is_not(None))).all()
    assert sorted((t[0], at.day - 1) for t, at in pruned) == [("dev", 0)] + [("prod", n) for n in range(7)]
    assert verify(engine).ok


def test_a_target_whose_own_keep_days_is_unset_is_never_pruned(engine):
    ten_days(engine)
    dev_before = [r for r in intervals(engine) if r[1] == "dev"]
    summary = prune(engine, 5, 2, day(10), targets={"dev": Keep(None, 10)})
    assert summary["targets"]["dev"]["cutoff"] is None
    assert [r for r in intervals(engine) if r[1] == "dev"] == dev_before
    assert summary["removed"]["runs_tombstoned"] == 0 and summary["removed"]["runs_partly_pruned"] == 5
    assert summary["removed"]["evidence_states"] > 0, "prod's old rows went"
    assert verify(engine).ok


@pytest.mark.parametrize("edit", ["remaining unit", "residual"])
def test_editing_a_run_pruned_in_part_fails_verify(engine, edit):
    runs = ten_days(engine)
    assert prune(engine, 5, 2, day(10), targets={"dev": Keep(2, 2)})["removed"]["runs_partly_pruned"] == 3
    with Session(engine) as s, s.begin():
        if edit == "remaining unit":  # prod's outcome in day 6's run, which lost dev's rows
            unit = s.execute(sa.select(RunUnit).where(RunUnit.run_id == runs[6], RunUnit.target == "prod")).scalar_one()
            unit.observed += 1
            victim = runs[6]
        else:  # a residual digest rewritten in the prune record
            record = s.execute(sa.select(Run).where(Run.record == "prune")).scalar_one()
            partial = [list(p) for p in record.details["partial"]]
            partial[0][2] = "0" * 64
            record.details = {**record.details, "partial": partial}
            victim = record.id
    result = verify(engine)
    assert not result.ok
    assert victim in [p.run_id for p in result.problems], result.problems
    if edit == "remaining unit":
        assert "residual" in result.problems[0].message, "checked against what its prune record says is left"


def test_evidence_at_a_time_before_a_targets_horizon(engine, db_url, monkeypatch, capsys):
    ten_days(engine)
    prod_at_6 = [r for r in evidence(engine, EvidenceFilter(target="prod", at=day(6.5)))]
    both_at_9 = [r for r in evidence(engine, EvidenceFilter(at=day(9.5)))]
    prune(engine, 5, 2, day(10), targets={"dev": Keep(2, 2)})
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)

    def answer(*args: str) -> dict[str, Any]:
        capsys.readouterr()
        assert run_main("evidence", *args, "--format", "json") == 0
        return json.loads(capsys.readouterr().out)

    at6 = rfc(day(6.5))
    assert answer("--at", at6) == {"at": at6, "pruned_before": DEV_CUT, "targets": ["dev"], "evidence": None}
    assert answer("--at", at6, "--target", "dev")["evidence"] is None
    assert answer("--at", at6, "--target", "prod")["evidence"] == prod_at_6
    assert answer("--at", rfc(day(2)))["targets"] == ["dev", "prod"]
    assert answer("--at", rfc(day(9.5)))["evidence"] == both_at_9
    capsys.readouterr()
    assert run_main("evidence", "--at", at6) == 0
    assert "evidence of dev from then was pruned" in capsys.readouterr().out


def rfc(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_a_bundle_of_a_period_pruned_for_one_target_verifies(engine, db_url, monkeypatch, tmp_path):
    import zipfile

    from ea_testkit.bundle import cli, read_lines

    ten_days(engine, dated=True)
    prune(engine, 5, 2, day(10), targets={"dev": Keep(2, 2)})
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    out = tmp_path / "bundle.zip"
    code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", "--from", "2026-01-07", "--to",
                       "2026-01-08", "--out", str(out))  # fmt: skip
    assert code == 0, err
    with zipfile.ZipFile(out) as zf:
        runs = read_lines(zf, "runs.jsonl")
    partly = [r for r in runs if r.get("pruned") and "lines" in r]
    assert [r["pruned"]["targets"] for r in partly if r["role"] == "period"] == [["dev"], ["dev"]]
    code, stdout, err = cli("bundle", "verify", str(out))
    assert code == 0, stdout + err
    assert f"{len(partly)} runs pruned in part recomputed to their residual digests" in stdout


def test_prune_command_with_a_targets_own_retention(engine, db_url, tmp_path, capsys):
    ten_days(engine)  # pruned "now": every run is older than 5 days, so keep_runs_min decides each cutoff
    cfg = tmp_path / "evidence-agent.yaml"
    aws = {"provider": "aws", "regions": ["eu-west-1"]}
    targets = [{"name": "prod", **aws}, {"name": "dev", **aws, "retention": {"keep_runs_min": 2}}]
    cfg.write_text(json.dumps({"database_url": db_url, "targets": targets,
                               "retention": {"keep_days": 5, "keep_runs_min": 5}}))  # fmt: skip
    capsys.readouterr()
    assert run_main("prune", "-c", str(cfg), "--dry-run", "--format", "json") == 0
    dry = json.loads(capsys.readouterr().out)
    assert {name: t["cutoff"] for name, t in dry["targets"].items()} == {"prod": PROD_CUT, "dev": DEV_CUT}
    assert dry["targets"]["dev"]["keep_days"] == 5, "unset in the target's block: the global value"
    assert run_main("prune", "-c", str(cfg)) == 0
    text = capsys.readouterr().out
    assert "target dev: before 2026-01-09T06:00:00Z (keep 5 days, newest 2 runs)" in text
    assert run_main("verify", "-c", str(cfg)) == 0
    assert "3 runs pruned in part checked by their residual digests" in capsys.readouterr().out


def test_automatic_prune_after_a_collect_applies_each_targets_retention(engine, db_url, moto_endpoint):
    from collector.config import Config
    from collector.run import collect

    ten_days(engine)
    aws = {"provider": "aws", "regions": ["us-east-1"], "endpoint_url": moto_endpoint,
           "kinds": ["aws.s3.bucket.versioning"]}  # fmt: skip
    cfg = Config.model_validate({"database_url": db_url, "targets": [
        {"name": "prod", **aws}, {"name": "dev", **aws, "retention": {"keep_days": 2}}],
        "retention": {"keep_days": 5, "keep_runs_min": 2, "auto": True}})  # fmt: skip
    collect(cfg, engine, targets=["prod"], clock=lambda: day(10))
    with Session(engine) as s:
        details = s.execute(sa.select(Run.details).where(Run.record == "prune")).scalar_one()
    assert {name: t["cutoff"] for name, t in details["targets"].items()} == {"prod": PROD_CUT, "dev": DEV_CUT}
    assert len(details["tombstones"]) == 5 and len(details["partial"]) == 3
    assert verify(engine).ok


def test_a_prune_record_of_one_horizon_for_the_store_covers_every_target(engine):
    from collector.retention import append_record
    from collector.store.pruned import target_horizons

    ten_days(engine)
    with Session(engine) as s, s.begin():  # as prunes wrote them before per-target retention
        append_record(s, "prune", {"horizon": PROD_CUT, "held": [], "tombstones": []}, day(10))
    with Session(engine) as s:
        horizons = target_horizons(s)
    assert {name: h.before for name, h in horizons.items()} == {"dev": day(5), "prod": day(5)}
    assert horizons["dev"].covers(day(4)) and not horizons["dev"].covers(day(6))
