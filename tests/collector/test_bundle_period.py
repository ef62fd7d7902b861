"""Bundles from scripted runs on SQLite and PostgreSQL: which evidence a period holds, samples equal to
`evidence --at`, context runs binding states no period run observed, usage errors, keys, offline verify."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from collector.bundle.verify import verify_bundle
from collector.run import judge_unit
from collector.store.models import RunStatus
from collector.store.writer import UnitKey, open_run, seal_run, write_gap, write_unit
from connectors.base import CollectionError, GapReason
from controls.base import Policy
from ea_testkit.bundle import cli, read_lines, rewrite
from ea_testkit.store import UNIT, at, bucket_evidence

ON = {"encrypted": True, "algorithm": "AES256", "kms_key_id": None, "bucket_key_enabled": False}
OFF = {"encrypted": False, "algorithm": None, "kms_key_id": None, "bucket_key_enabled": False}
# Run n happens at T0 + n hours (2026-03-01 12:00 UTC + n h). The period holds runs 3, 4 and 5.
PERIOD = ("2026-03-01T14:30:00Z", "2026-03-01T17:30:00Z")
SAMPLE = "2026-03-01T16:30:00Z"
PG_PASSWORD = "PLANTED-pg-password-5150"
REPO = Path(__file__).resolve().parents[2]


def scripted_run(engine: sa.Engine, number: int, buckets: dict[str, dict] | None, unit: UnitKey = UNIT) -> int:
    """One run of one unit at T0 + `number` hours, judged by the real checks; None makes the unit a gap."""
    when = at(number)
    run_id = open_run(engine, [unit.target], "cfg", when)
    if buckets is None:
        write_gap(engine, run_id, unit, CollectionError(GapReason.DENIED, "AccessDenied"), when, when)
        status = RunStatus.FAILED
    else:
        items = [bucket_evidence(name, when, **observed) for name, observed in buckets.items()]
        write_unit(engine, run_id, unit, items, when, when, judge_unit(unit, items, Policy()))
        status = RunStatus.COMPLETE
    seal_run(engine, run_id, status, when + dt.timedelta(minutes=1))
    return run_id


@pytest.fixture
def timeline(engine, db_url, monkeypatch):
    runs = [
        {"a": ON, "b": ON, "d": ON},  # 1
        {"a": ON, "b": OFF, "d": ON},  # 2: b's first state ends before the period
        {"a": ON, "b": OFF, "d": OFF},  # 3, in the period: d's first state ends inside it
        {"a": ON, "b": OFF, "d": OFF},  # 4
        None,  # 5: a gap
        {"a": ON, "b": ON, "d": OFF, "e": ON},  # 6, after the period: b changes again, e is new
    ]
    for number, buckets in enumerate(runs, 1):
        scripted_run(engine, number, buckets)
    # The PostgreSQL test database trusts local connections: a password in the URL is ignored by the server,
    # which lets the test plant one and look for it in the bundle.
    url = db_url.replace("postgres@", f"postgres:{PG_PASSWORD}@", 1) if "postgresql" in db_url else db_url
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", url)
    return engine


@pytest.fixture
def period_bundle(timeline, tmp_path, monkeypatch) -> Path:
    # Batches of one: every run and every evidence row in a batch of its own, as a large store reads them.
    monkeypatch.setattr("collector.bundle.runs.CHUNK", 1)
    monkeypatch.setattr("collector.bundle.evidence.BATCH", 1)
    out = tmp_path / "period.zip"
    code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", "--control", "8.24", "--from", PERIOD[0],
                       "--to", PERIOD[1], "--sample-date", SAMPLE, "--out", str(out))  # fmt: skip
    assert code == 0, err
    return out


def test_period_holds_the_states_valid_during_it(period_bundle):
    with zipfile.ZipFile(period_bundle) as zf:
        lines = read_lines(zf, "controls/8.24/evidence.jsonl")
        manifest = json.loads(zf.read("manifest.json"))
        gaps = read_lines(zf, "gaps.jsonl")
        names = zf.namelist()
        text = b"".join(zf.read(n) for n in names)
    held = {(line["resource_id"].rsplit(":", 1)[1], line["observed"]["encrypted"], line["first_seen"]["run"])
            for line in lines}  # fmt: skip
    assert held == {
        ("a", True, 1),  # started before the period and lasted into it: included
        ("b", False, 2),  # started before, ended after it (run 6)
        ("d", True, 1),  # ended by run 3, inside the period
        ("d", False, 3),  # started inside it
    }, "b's first state ended before the period; b's last state and e started after it"
    by_key = {(line["resource_id"][-1], line["observed"]["encrypted"]): line for line in lines}
    assert by_key[("d", True)]["ended"] == {"run": 3, "at": "2026-03-01T15:00:00Z", "reason": "changed"}
    assert by_key[("b", False)]["ended"] is None, "ended after the period: still valid at its end"
    assert by_key[("a", True)]["last_seen"] == {"run": 4, "at": "2026-03-01T16:00:00Z"}, "run 5 was a gap"
    verdicts = by_key[("d", False)]["verdicts"]
    assert [(v["check"], v["verdict"], v["reason"]) for v in verdicts] == [
        ("aws.s3.bucket.encryption_enabled", "fail", "no default encryption configured")
    ]
    assert manifest["chain"]["runs"] == 3
    assert (manifest["chain"]["first"]["id"], manifest["chain"]["last"]["id"]) == (3, 5)
    # No run of the period observed d's first state (run 3 ended it): run 2, its last observation, binds it.
    assert manifest["chain"]["context_runs"] == [2]
    assert [(g["run"]["id"], g["reason"]) for g in gaps] == [(5, "denied")]
    assert "samples/2026-03-01T16_30_00Z/evidence.jsonl" in names
    report = verify_bundle(period_bundle)
    assert report.ok, [c.problems for c in report.checks]
    assert PG_PASSWORD.encode() not in text
    reworded = json.dumps({**gaps[0], "message": "throttled, retried later"}, sort_keys=True) + "\n"
    rewrite(period_bundle, period_bundle.with_name("reworded.zip"), {"gaps.jsonl": reworded.encode()}, reseal=True)
    report = verify_bundle(period_bundle.with_name("reworded.zip"))
    failed = {c.name: c.problems for c in report.checks if not c.ok}
    assert failed["gaps"] == ["gaps.jsonl line 1: not the gap run 5 recorded"]
    assert failed["oscal"] == ["oscal/assessment-results.json: back-matter hash of gaps.jsonl differs from the file"]
    assert set(failed) == {"gaps", "oscal"}


def test_sample_snapshot_equals_evidence_and_controls_at_that_time(period_bundle, capsys):
    with zipfile.ZipFile(period_bundle) as zf:
        sampled = read_lines(zf, "samples/2026-03-01T16_30_00Z/evidence.jsonl")
        status = json.loads(zf.read("samples/2026-03-01T16_30_00Z/controls.json"))
    code, out, err = cli("evidence", "--at", SAMPLE, "--format", "json")
    assert code == 0, err
    expected = [row for row in json.loads(out)["evidence"] if row["kind"] == "aws.s3.bucket.encryption"]
    assert sampled == expected and len(sampled) == 3  # a, b and d's second state
    code, out, err = cli("controls", "--framework", "iso27001-2022", "--at", SAMPLE, "--format", "json")
    assert code == 0, err
    control = next(c for c in json.loads(out)["controls"] if c["id"] == "8.24")
    assert status["controls"] == [control] and control["status"] == "non_compliant"


def test_interleaved_units_and_no_run_in_the_period(engine, db_url, tmp_path, monkeypatch):
    """Two units of one kind whose resources interleave in digest order; and a period after the last run,
    where every state is bound by a context run."""
    west, east = UnitKey("prod", UNIT.kind, "eu-west-1"), UnitKey("prod", UNIT.kind, "us-east-1")
    for number in (1, 2):
        when = at(number)
        run_id = open_run(engine, ["prod"], "cfg", when)
        for unit, names in ((west, ["a", "c"]), (east, ["b", "d"])):
            items = [bucket_evidence(name, when, **(OFF if number == 2 and name == "c" else ON)) for name in names]
            write_unit(engine, run_id, unit, items, when, when, judge_unit(unit, items, Policy()))
        seal_run(engine, run_id, RunStatus.COMPLETE, when)
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    for name, (start, end) in {"both": ("2026-03-01", "2026-03-01"), "after": ("2026-03-02", "2026-03-03")}.items():
        out = tmp_path / f"{name}.zip"
        code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", "--control", "8.24", "--from", start,
                           "--to", end, "--out", str(out))  # fmt: skip
        assert code == 0, err
        report = verify_bundle(out)
        assert report.ok, [c.problems for c in report.checks]
        with zipfile.ZipFile(out) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            states = len(read_lines(zf, "controls/8.24/evidence.jsonl"))
        assert states == (5 if name == "both" else 4)
        assert manifest["chain"]["runs"] == (2 if name == "both" else 0)
        assert manifest["chain"]["context_runs"] == ([] if name == "both" else [2])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_run_still_in_progress_ends_the_period_before_it(engine, db_url, tmp_path, monkeypatch):
    scripted_run(engine, 1, {"a": ON})
    scripted_run(engine, 2, {"a": OFF})
    running = open_run(engine, ["prod"], "cfg", at(3))  # never sealed: not in the chain yet
    items = [bucket_evidence("a", at(3), **ON)]
    write_unit(engine, running, UNIT, items, at(3), at(3), judge_unit(UNIT, items, Policy()))
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    out = tmp_path / "cut.zip"
    code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", "--control", "8.24", "--from", "2026-03-01",
                       "--to", "2026-03-01", "--out", str(out))  # fmt: skip
    assert code == 0, err
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        held = [(line["first_seen"]["run"], line["ended"]) for line in read_lines(zf, "controls/8.24/evidence.jsonl")]
    assert manifest["period"]["to"] == "2026-03-01T15:00:00Z" == at(3).isoformat().replace("+00:00", "Z")
    assert manifest["period"]["requested_to"] == "2026-03-02T00:00:00Z" and manifest["chain"]["runs"] == 2
    assert held == [(1, {"run": 2, "at": "2026-03-01T14:00:00Z", "reason": "changed"}), (2, None)]
    assert verify_bundle(out).ok
    code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", "--from", "2026-03-01", "--to",
                       "2026-03-01", "--sample-date", "2026-03-01T16:00:00Z", "--out", str(out))  # fmt: skip
    assert code == 2 and "--sample-date: 2026-03-01T16:00:00Z is after run 3 started" in err


USAGE = {
    "framework": (["--framework", "nist"], "--framework: unknown framework 'nist'"),
    "control": (["--control", "99.9"], "--control: iso27001-2022 has no control '99.9'"),
    "period": (["--from", "2026-03-05", "--to", "2026-03-01"], "--from: 2026-03-05 is not before --to 2026-03-01"),
    "date": (["--from", "March"], "--from: 'March' is not a date"),
    "target": (["--target", "nope"], "--target: no evidence for target 'nope'"),
    "sample": (["--sample-date", "2027-01-01"], "--sample-date: 2027-01-01 is outside the period"),
    "key": (["--sign-key", "missing.key"], "--sign-key: missing.key: cannot read"),
}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("case", sorted(USAGE))
def test_bad_input_is_one_line_naming_the_option_with_exit_2(case, engine, db_url, tmp_path, monkeypatch):
    scripted_run(engine, 1, {"a": ON})
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    args = {"--framework": "iso27001-2022", "--from": "2026-03-01", "--to": "2026-03-02", "--out": "b.zip"}
    extra, message = USAGE[case]
    for option, value in zip(extra[::2], extra[1::2], strict=True):
        args[option] = value
    code, out, err = cli("bundle", "create", *[x for pair in args.items() for x in pair])
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "b.zip").exists() and "Traceback" not in out + err


def test_keys_generate_and_verify_usage_errors(tmp_path):
    code, out, _ = cli("keys", "generate", "--out", str(tmp_path / "keys" / "auditor"))
    assert code == 0 and "fingerprint sha256:" in out
    private, public = tmp_path / "keys" / "auditor.key", tmp_path / "keys" / "auditor.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    code, _, err = cli("keys", "generate", "--out", str(tmp_path / "keys" / "auditor"))
    assert code == 2 and "exists; pass --force" in err
    (tmp_path / "notes.txt").write_text("not a zip")
    code, _, err = cli("bundle", "verify", str(tmp_path / "notes.txt"))
    assert code == 2 and err.startswith("error: FILE: ") and "not a zip file" in err and err.count("\n") == 1
    code, _, err = cli("bundle", "verify", str(tmp_path / "notes.txt"), "--public-key", str(private))
    assert code == 2 and err.startswith("error: --public-key: ")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_verify_needs_neither_the_store_nor_a_database(period_bundle, tmp_path):
    script = (
        "import sys; from pathlib import Path; from collector.bundle.verify import verify_bundle\n"
        f"report = verify_bundle(Path({str(period_bundle)!r}))\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('collector.store', 'sqlalchemy', 'sqlmodel')))\n"
        "print(report.ok, loaded)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENCE_AGENT_")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "True []", proc.stdout + proc.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_bench_seeding_reproduces_the_store_chain(db_url, tmp_path, monkeypatch):
    """bench/bundle.py writes rows and digests directly; the store's own verify must accept them."""
    from collector.store.chain import verify
    from collector.store.engine import make_engine

    spec = importlib.util.spec_from_file_location("bench_bundle", REPO / "bench" / "bundle.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_bundle", bench)  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    seeded = bench.seed(db_url, 60, 12, 3, 1)
    assert seeded["runs"] == 12 and seeded["states"] == 60 + 11 * 3
    engine = make_engine(db_url)
    assert verify(engine).ok
    engine.dispose()
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    out = tmp_path / "bench.zip"
    code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", "--from", "2026-01-01", "--to",
                       "2026-01-01", "--out", str(out))  # fmt: skip
    assert code == 0, err
    assert verify_bundle(out).ok


def test_secret_guard_knows_config_and_environment_secrets_but_not_paths(tmp_path, monkeypatch):
    from collector.bundle.secrets import secret_guard
    from collector.bundle.zipout import BundleError

    hmac = tmp_path / "hmac.key"
    hmac.write_text("PLANTED-hmac-key-0b1d\n")
    monkeypatch.setenv("EA_SLACK_URL", "https://hooks.slack.test/services/PLANTED-slack-9e8d")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/secrets/eks.amazonaws.com/serviceaccount/token")
    config = {"database_url": "postgresql+psycopg://agent:PLANTED-db-pw-1234@db.internal/evidence",
              "alerts": {"sinks": [{"name": "slack", "url_env": "EA_SLACK_URL"},
                                   {"name": "hook", "secret_file": str(hmac)}]}}  # fmt: skip
    guard = secret_guard(None, config)
    labels = {label: value.decode() for label, value in guard.values}
    assert set(labels.values()) >= {"PLANTED-db-pw-1234", "https://hooks.slack.test/services/PLANTED-slack-9e8d",
                                    "PLANTED-hmac-key-0b1d"}  # fmt: skip
    assert "/var/run/secrets/eks.amazonaws.com/serviceaccount/token" not in labels.values()
    guard.check("ok.jsonl", b'{"path": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"}')
    with pytest.raises(BundleError, match=r"runs.jsonl: contains the value of \$EA_SLACK_URL"):
        guard.check("runs.jsonl", b"... https://hooks.slack.test/services/PLANTED-slack-9e8d ...")


def test_a_state_that_comes_back_is_bound_to_each_run_that_opened_it(engine, db_url, tmp_path, monkeypatch):
    """`a` is encrypted, then not, then encrypted again with the very same settings: two intervals of one
    state, opened by two runs. Each evidence line must bind to its own run's open line."""
    for number, buckets in enumerate([{"a": ON}, {"a": OFF}, {"a": ON}, {"a": ON}], 1):
        scripted_run(engine, number, buckets)
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    out = tmp_path / "flip.zip"
    code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", "--control", "8.24", "--from",
                       "2026-03-01T12:30:00Z", "--to", "2026-03-01T16:30:00Z", "--out", str(out))  # fmt: skip
    assert code == 0, err
    with zipfile.ZipFile(out) as zf:
        lines = read_lines(zf, "controls/8.24/evidence.jsonl")
    on = [line for line in lines if line["observed"]["encrypted"]]
    assert len(on) == 2 and on[0]["state_sha256"] == on[1]["state_sha256"], "the same state, twice"
    assert {line["first_seen"]["run"] for line in on} == {1, 3}
    report = verify_bundle(out)
    assert report.ok, [c.problems for c in report.checks if c.problems]
