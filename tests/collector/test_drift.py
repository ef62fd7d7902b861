"""Drift events and alert delivery, against moto's server and real HTTP receivers on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from structlog.testing import capture_logs
from typer.testing import CliRunner

from collector.alerts import SIGNATURE_HEADER
from collector.cli import app, main
from collector.config import AlertsConfig, Config
from collector.diff import diff_runs
from collector.run import collect
from collector.store.models import DriftDelivery, DriftEvent
from ea_testkit.aws import aws_config, faulty_session, opener
from ea_testkit.receiver import Receiver

SECRET = "hmac-s3cret-value-42"
KIND = "aws.s3.bucket.versioning"
CHECK = "aws.s3.bucket.versioning_enabled"


@pytest.fixture
def s3(moto_endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


def bucket(s3: Any, name: str, versioning: str | None) -> str:
    s3.create_bucket(Bucket=name)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": versioning})
    return f"arn:aws:s3:::{name}"


def config(endpoint: str, db_url: str, **alerts: Any) -> Config:
    cfg = aws_config(endpoint, db_url, kinds=[KIND], regions=["us-east-1"])
    return cfg.model_copy(update={"alerts": AlertsConfig.model_validate(alerts)})


class Runs:
    """Collects with a recorded sleep (no test waits on time) and returns each run's events by type."""

    def __init__(self, cfg: Config, engine: sa.Engine):
        self.cfg, self.engine, self.sleeps = cfg, engine, []

    def __call__(self, session: Any = None) -> dict[str, list[dict[str, Any]]]:
        kwargs = {"open_target": opener(session)} if session else {}
        result = collect(self.cfg, self.engine, sleep=self.sleeps.append, **kwargs)
        assert result.drift is not None, "drift detection failed"
        by_type: dict[str, list[dict[str, Any]]] = {}
        for event in result.drift:
            by_type.setdefault(event["type"], []).append(event)
        return by_type


def resources(events: dict[str, list[dict[str, Any]]]) -> dict[str, list[str | None]]:
    return {t: sorted(e["resource_id"] or e["scope"] for e in es) for t, es in events.items()}


def test_each_event_type_from_a_scripted_sequence_of_runs(engine, db_url, moto_endpoint, s3):
    runs = Runs(config(moto_endpoint, db_url), engine)
    a, b = bucket(s3, "drift-a", "Enabled"), bucket(s3, "drift-b", None)

    first = runs()
    assert resources(first) == {"new_failure": [b]}
    (event,) = first["new_failure"]
    assert event["check_id"] == CHECK and event["target"] == "prod" and event["region"] == "us-east-1"
    assert event["reason"] == "versioning never enabled" and event["previous"] is None
    assert "8.13" in event["controls"]["iso27001-2022"] and event["controls"]["soc2-2017"]
    assert event["evidence"]["after"]["id"] and event["evidence"]["before"] is None, "a new resource"

    s3.put_bucket_versioning(Bucket="drift-a", VersioningConfiguration={"Status": "Suspended"})
    s3.put_bucket_versioning(Bucket="drift-b", VersioningConfiguration={"Status": "Enabled"})
    second = runs()
    assert resources(second) == {"regressed": [a], "remediated": [b]}
    (regressed,) = second["regressed"]
    assert regressed["previous"] == {"verdict": "pass", "reason": "versioning Enabled"}
    assert regressed["reason"].startswith("versioning Suspended") and regressed["severity"] in ("high", "medium")
    before, after = regressed["evidence"]["before"], regressed["evidence"]["after"]
    assert before["id"] != after["id"] and before["state_sha"] != after["state_sha"]

    s3.delete_bucket(Bucket="drift-b")
    c = bucket(s3, "drift-c", None)
    third = runs()
    assert resources(third) == {"new_failure": [c], "removed": [b]}
    assert third["removed"][0]["previous"]["verdict"] == "pass"

    denied = faulty_session({"s3.GetBucketVersioning": ("AccessDenied", 403)})
    fourth = runs(denied)
    assert resources(fourth) == {"collection_gap": ["global"]}
    gap = fourth["collection_gap"][0]
    assert gap["kind"] == KIND and gap["reason"].startswith("denied") and gap["controls"]
    assert runs(denied) == {}, "a gap that goes on is raised once, when it begins"
    assert resources(runs()) == {"gap_resolved": ["global"]}
    assert runs() == {}, "a run that changes nothing raises nothing"


def test_confirm_runs_two_drops_a_blip_and_alerts_a_held_regression_once(engine, db_url, moto_endpoint, s3,
                                                                         receiver):  # fmt: skip
    runs = Runs(config(moto_endpoint, db_url, confirm_runs=2, sinks=[
        {"name": "hook", "type": "webhook", "url_env": "EA_HOOK_URL"}]), engine)  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EA_HOOK_URL", receiver.url)
        bucket(s3, "blip", "Enabled")
        runs()
        s3.put_bucket_versioning(Bucket="blip", VersioningConfiguration={"Status": "Suspended"})
        assert list(runs()) == ["regressed"]
        s3.put_bucket_versioning(Bucket="blip", VersioningConfiguration={"Status": "Enabled"})
        assert list(runs()) == ["remediated"]
        assert receiver.requests == [], "a one-run blip is never alerted, nor its end"

        s3.put_bucket_versioning(Bucket="blip", VersioningConfiguration={"Status": "Suspended"})
        runs()
        assert receiver.requests == [], "not alerted before it held for two runs"
        assert runs() == {}
        runs()
    (digest,) = [r.json() for r in receiver.requests]
    assert digest["counts"] == {"regressed": 1}
    (event,) = digest["events"]
    assert event["resource_id"] == "arn:aws:s3:::blip" and event["count"] == 1
    with Session(engine) as s:
        states = dict(s.execute(sa.select(DriftEvent.id, DriftEvent.alert_state)).all())
        details = s.execute(sa.select(DriftEvent.details).where(DriftEvent.id == event["id"])).scalar_one()
    assert sorted(states.values()) == ["due", "suppressed", "suppressed"]
    assert details["blips_before"] == 1 and details["held_runs"] == 2


def test_webhook_is_signed_retried_within_the_run_and_never_sent_twice(engine, db_url, moto_endpoint, s3,
                                                                       receiver, monkeypatch):  # fmt: skip
    monkeypatch.setenv("EA_HOOK_URL", receiver.url)
    monkeypatch.setenv("EA_HOOK_SECRET", SECRET)
    sink = {"name": "hook", "type": "webhook", "url_env": "EA_HOOK_URL", "secret_env": "EA_HOOK_SECRET"}
    runs = Runs(config(moto_endpoint, db_url, backoff_seconds=1.5, sinks=[sink]), engine)
    bucket(s3, "unversioned", None)
    receiver.statuses = [500, 500]
    runs()
    assert len(receiver.requests) == 3 and len(receiver.accepted()) == 1
    assert runs.sleeps == [1.5, 3.0], "backoff doubles between attempts"
    accepted = receiver.accepted()[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), accepted.body, hashlib.sha256).hexdigest()
    assert accepted.headers[SIGNATURE_HEADER] == expected
    assert accepted.headers[SIGNATURE_HEADER] != "sha256=" + hmac.new(b"wrong", accepted.body, "sha256").hexdigest()
    body = accepted.json()
    assert body["schema"] == "evidence-agent/drift-digest/v1" and body["counts"] == {"new_failure": 1}

    runs()  # nothing new: nothing sent
    assert len(receiver.requests) == 3

    receiver.down = True  # down for a whole run: every attempt fails, the run still succeeds
    s3.put_bucket_versioning(Bucket="unversioned", VersioningConfiguration={"Status": "Enabled"})
    runs()
    with Session(engine) as s:
        failed = s.execute(sa.select(DriftDelivery).where(DriftDelivery.status == "failed")).scalars().all()
    assert [(d.sink, d.attempts) for d in failed] == [("hook", 4)]
    assert failed[0].last_error.startswith("connection failed")

    receiver.down = False
    runs()  # the next run delivers what the last one could not
    late = receiver.accepted()[1].json()
    assert late["counts"] == {"remediated": 1}
    runs()
    assert len(receiver.accepted()) == 2, "a delivered event is never sent again"
    with Session(engine) as s:
        statuses = s.execute(sa.select(DriftDelivery.status, DriftDelivery.attempts).order_by(DriftDelivery.id)).all()
    assert [tuple(r) for r in statuses] == [("delivered", 3), ("delivered", 5)]


def test_undelivered_events_expire_after_max_age(engine, db_url, moto_endpoint, s3, receiver, monkeypatch):
    import datetime as dt

    monkeypatch.setenv("EA_HOOK_URL", receiver.url)
    cfg = config(moto_endpoint, db_url, retries=0, max_age="1h",
                 sinks=[{"name": "hook", "type": "webhook", "url_env": "EA_HOOK_URL"}])  # fmt: skip
    bucket(s3, "late", None)
    receiver.down = True
    t0 = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    collect(cfg, engine, clock=lambda: t0, sleep=lambda _: None)
    receiver.down = False
    with capture_logs() as logs:
        collect(cfg, engine, clock=lambda: t0 + dt.timedelta(hours=2), sleep=lambda _: None)
    assert receiver.accepted() == []
    with Session(engine) as s:
        assert s.execute(sa.select(DriftDelivery.status)).scalars().all() == ["expired"]
    assert any(e["event"] == "alert deliveries expired undelivered" for e in logs)


def test_slack_and_pagerduty_payloads_follow_their_formats(engine, db_url, moto_endpoint, s3, receiver, monkeypatch,
                                                           tmp_path):  # fmt: skip
    pd = Receiver(statuses=[202, 202, 202]).start()
    try:
        monkeypatch.setenv("EA_SLACK", receiver.url)
        (tmp_path / "pd.key").write_text("R0UTINGKEY0000000000000000000000\n")
        monkeypatch.setenv("EA_PD_URL", pd.url)
        runs = Runs(config(moto_endpoint, db_url, sinks=[
            {"name": "slack", "type": "slack", "url_env": "EA_SLACK"},
            {"name": "pd", "type": "pagerduty", "routing_key_file": str(tmp_path / "pd.key"), "url_env": "EA_PD_URL"},
        ]), engine)  # fmt: skip
        bucket(s3, "pd-a", "Enabled")
        bucket(s3, "pd-b", None)
        runs()
        s3.put_bucket_versioning(Bucket="pd-a", VersioningConfiguration={"Status": "Suspended"})
        s3.put_bucket_versioning(Bucket="pd-b", VersioningConfiguration={"Status": "Enabled"})
        runs()
        pd_bodies = [r.json() for r in pd.requests]
    finally:
        pd.stop()
    slack = [r.json() for r in receiver.requests]
    assert len(slack) == 2, "one Slack message per run"
    msg = slack[1]
    assert isinstance(msg["text"], str) and "1 regressed" in msg["text"] and "1 remediated" in msg["text"]
    assert msg["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": "Compliance drift",
                                                           "emoji": False}}  # fmt: skip
    for block in msg["blocks"]:
        assert block["type"] in ("header", "section", "context")
        texts = [block["text"]] if "text" in block else block["elements"]
        assert all(t["type"] in ("plain_text", "mrkdwn") and isinstance(t["text"], str) for t in texts)
    regress_lines = msg["blocks"][2]["text"]["text"]
    assert "arn:aws:s3:::pd-a" in regress_lines and CHECK in regress_lines and "iso27001-2022" in regress_lines

    trigger_b, trigger_a, resolve_b = pd_bodies
    for body in (trigger_a, trigger_b):
        assert body["event_action"] == "trigger" and body["routing_key"] == "R0UTINGKEY0000000000000000000000"
        assert set(body["payload"]) >= {"summary", "source", "severity", "timestamp"}
        assert body["payload"]["severity"] in ("critical", "error", "warning", "info")
        assert 0 < len(body["payload"]["summary"]) <= 1024 and len(body["dedup_key"]) <= 255
    assert trigger_a["payload"]["source"] == "arn:aws:s3:::pd-a"
    assert resolve_b == {"routing_key": "R0UTINGKEY0000000000000000000000", "event_action": "resolve",
                         "dedup_key": trigger_b["dedup_key"]}, "resolve closes the incident its trigger opened"
    assert trigger_a["dedup_key"] != trigger_b["dedup_key"]


def test_diff_shows_exactly_the_changed_settings(engine, db_url, moto_endpoint, s3):
    runs = Runs(config(moto_endpoint, db_url), engine)
    a = bucket(s3, "diff-a", "Enabled")
    bucket(s3, "diff-same", "Enabled")
    runs()
    s3.put_bucket_versioning(Bucket="diff-a", VersioningConfiguration={"Status": "Suspended"})
    n = bucket(s3, "diff-new", None)
    runs()
    result = diff_runs(engine, 1, 2)
    changed = {e["resource_id"]: e for e in result["evidence"]}
    assert set(changed) == {a, n}
    assert changed[a]["change"] == "changed"
    assert changed[a]["settings"] == [
        {"path": "enabled", "before": True, "after": False},
        {"path": "status", "before": "Enabled", "after": "Suspended"},
    ]
    assert changed[n]["change"] == "added"
    assert {"path": "enabled", "before": None, "after": False} in changed[n]["settings"]
    assert [(v["resource_id"], v["before"]["verdict"], v["after"]["verdict"]) for v in result["verdicts"]
            if v["before"]] == [(a, "pass", "fail")]  # fmt: skip
    assert diff_runs(engine, 2, 2) == {"run_a": 2, "run_b": 2, "evidence": [], "verdicts": []}


def run_main(*args: str) -> int:
    sys.argv = ["evidence-agent", *args]
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code


def test_cli_drift_diff_and_fail_on(engine, db_url, moto_endpoint, s3, tmp_path, capsys):
    cfg_file = tmp_path / "evidence-agent.yaml"
    target = {"name": "prod", "provider": "aws", "regions": ["us-east-1"], "endpoint_url": moto_endpoint,
              "kinds": [KIND]}  # fmt: skip
    cfg_file.write_text(json.dumps({"database_url": db_url, "targets": [target]}))
    runner = CliRunner()
    bucket(s3, "cli-a", "Enabled")
    assert run_main("collect", "-c", str(cfg_file), "--fail-on", "regressed,new_failure") == 0
    s3.put_bucket_versioning(Bucket="cli-a", VersioningConfiguration={"Status": "Suspended"})
    capsys.readouterr()
    assert run_main("collect", "-c", str(cfg_file), "--fail-on", "regressed", "-f", "json") == 5
    captured = capsys.readouterr()
    assert [e["type"] for e in json.loads(captured.out)["drift"]] == ["regressed"]
    assert "failing on drift: 1 regressed" in captured.err

    listed = runner.invoke(app, ["drift", "-c", str(cfg_file), "--type", "regressed", "-f", "json"])
    assert listed.exit_code == 0
    (event,) = json.loads(listed.stdout)["events"]
    assert event["resource_id"] == "arn:aws:s3:::cli-a" and event["run_id"] == 2
    assert json.loads(runner.invoke(app, ["drift", "-c", str(cfg_file), "--since", "2999-01-01", "-f", "json"])
                      .stdout) == {"events": []}  # fmt: skip
    diff = runner.invoke(app, ["diff", "1", "2", "-c", str(cfg_file)])
    assert diff.exit_code == 0 and "Suspended" in diff.stdout and "1 resources with changed evidence" in diff.stdout

    assert run_main("collect", "-c", str(cfg_file), "--fail-on", "regresed") == 2
    assert "error: --fail-on: unknown event type 'regresed'" in capsys.readouterr().err
    assert run_main("diff", "1", "99", "-c", str(cfg_file)) == 2
    assert "error: RUN: no run 99" in capsys.readouterr().err


def test_secrets_never_reach_logs_or_the_store(engine, db_url, moto_endpoint, s3, receiver, monkeypatch):
    monkeypatch.setenv("EA_HOOK_URL", receiver.url)
    monkeypatch.setenv("EA_HOOK_SECRET", SECRET)
    runs = Runs(config(moto_endpoint, db_url, retries=1, sinks=[
        {"name": "hook", "type": "webhook", "url_env": "EA_HOOK_URL", "secret_env": "EA_HOOK_SECRET"},
        {"name": "slack", "type": "slack", "url_env": "EA_SLACK_MISSING"}]), engine)  # fmt: skip
    bucket(s3, "secretive", None)
    receiver.down = True
    with capture_logs() as logs:
        runs()
        receiver.down = False
        s3.put_bucket_versioning(Bucket="secretive", VersioningConfiguration={"Status": "Enabled"})
        runs()
    assert receiver.accepted(), "the webhook got its digests"
    logged = json.dumps(logs, default=str)
    assert "alert delivery failed" in logged and "environment variable EA_SLACK_MISSING is not set" in logged
    dumped = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            dumped += [repr(tuple(row)) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"'))]
    stored = "\n".join(dumped)
    assert "environment variable EA_SLACK_MISSING is not set" in stored, "the store says why a sink failed"
    for secret in (SECRET, "T0KEN-in-the-path", receiver.url, str(receiver.server.server_address[1])):
        assert secret not in logged, f"{secret!r} leaked into the logs"
        assert secret not in stored, f"{secret!r} leaked into the store"


@pytest.mark.parametrize(
    ("sink", "message"),
    [
        ({"name": "h", "type": "webhook", "url": "https://hooks.example/x"}, "alerts.sinks[0].url: never inline"),
        ({"name": "h", "type": "webhook", "url_env": "A", "secret": "x"}, "alerts.sinks[0].secret: never inline"),
        ({"name": "h", "type": "slack"}, "alerts.sinks[0]: a slack sink needs url_env or url_file"),
        ({"name": "h", "type": "pagerduty", "url_env": "A"}, "pagerduty sink needs routing_key_env"),
        ({"name": "H!", "type": "file", "path": "x"}, "alerts.sinks[0].name: use lower-case letters"),
        ({"name": "h", "type": "teams", "url_env": "A"}, "alerts.sinks[0].type: Input should be"),
    ],
)
def test_bad_alert_config_is_a_one_line_error_with_exit_2(tmp_path, capsys, sink, message):
    cfg_file = tmp_path / "evidence-agent.yaml"
    cfg_file.write_text(json.dumps({"alerts": {"sinks": [sink]}, "targets": [{"name": "p", "provider": "aws"}]}))
    assert run_main("collect", "-c", str(cfg_file)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_a_flapping_resource_is_reported_once_with_a_count_and_a_dead_sink_never_fails_the_run(
    engine, db_url, moto_endpoint, s3, receiver, monkeypatch
):
    monkeypatch.setenv("EA_HOOK_URL", receiver.url)
    cfg = config(moto_endpoint, db_url, retries=0,
                 sinks=[{"name": "hook", "type": "webhook", "url_env": "EA_HOOK_URL"}])  # fmt: skip
    bucket(s3, "flappy", "Enabled")
    collect(cfg, engine, sleep=lambda _: None)
    receiver.down = True
    with capture_logs() as logs:
        for status in ("Suspended", "Enabled", "Suspended"):
            s3.put_bucket_versioning(Bucket="flappy", VersioningConfiguration={"Status": status})
            result = collect(cfg, engine, sleep=lambda _: None)
            assert result.status == "complete", "a sink that is down never fails the collection"
    digests = [e for e in logs if e["event"] == "drift digest"]
    assert [d["counts"] for d in digests] == [{"regressed": 1}, {"remediated": 1}, {"regressed": 1}]
    receiver.down = False
    collect(cfg, engine, sleep=lambda _: None)
    (body,) = [r.json() for r in receiver.accepted()]
    assert body["counts"] == {"regressed": 2, "remediated": 1}
    grouped = {e["type"]: e for e in body["events"]}
    assert len(body["events"]) == 2 and grouped["regressed"]["count"] == 2
    assert len(grouped["regressed"]["event_ids"]) == 2 and grouped["regressed"]["run_id"] == 4
