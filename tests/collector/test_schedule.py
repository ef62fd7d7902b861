"""`evidence-agent schedule`: cron per target on a fake clock (no test sleeps), coalescing, one run at a time
per target, and SIGTERM sealing the run in progress `aborted`."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml
from structlog.testing import capture_logs

from collector import heartbeat
from collector.cron import cron_trigger, next_fire_after
from collector.run import collect
from collector.schedule import Scheduler, Terminated, seal_interrupted, terminate_on_signals
from collector.store.chain import verify
from collector.store.engine import make_engine
from collector.store.lock import run_lock
from collector.store.query import list_runs
from collector.store.writer import open_run
from ea_testkit.aws import aws_config
from ea_testkit.gate import Gate

UTC = dt.UTC
AGENT = str(Path(sys.executable).with_name("evidence-agent"))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


class FakeClock:
    """Time that passes only when the scheduler waits (or a fake run says it took a while)."""

    def __init__(self, start: dt.datetime, until: dt.datetime | None = None):
        self.now = start
        self.until = until
        self.waits: list[float] = []
        self.scheduler: Scheduler | None = None

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.advance(seconds)
        if self.until is not None and self.now > self.until and self.scheduler is not None:
            self.scheduler.stop()


def scheduler_for(clock: FakeClock, schedules: list[tuple[str, str]], run_target, **kwargs) -> Scheduler:
    scheduler = Scheduler(schedules, run_target, clock=clock, wait=clock.wait, **kwargs)
    clock.scheduler = scheduler
    return scheduler


# --------------------------------------------------------------------------- cron meaning


def fires(expr: str, start: dt.datetime, n: int) -> list[dt.datetime]:
    trigger, out, moment = cron_trigger(expr), [], start
    for _ in range(n):
        moment = next_fire_after(trigger, moment)
        out.append(moment)
    return out


def test_weekdays_count_from_sunday_as_in_crontab():
    monday = at("2026-01-05T00:00:00")  # fires strictly after this moment
    assert [d.strftime("%a") for d in fires("0 0 * * 1-5", monday, 5)] == ["Tue", "Wed", "Thu", "Fri", "Mon"]
    assert {d.strftime("%a") for d in fires("0 0 * * 0", monday, 3)} == {"Sun"}
    assert {d.strftime("%a") for d in fires("0 0 * * */2", monday, 4)} == {"Sun", "Tue", "Thu", "Sat"}
    assert fires("30 6 * * sat,sun", monday, 2) == [at("2026-01-10T06:30:00"), at("2026-01-11T06:30:00")]


def test_day_of_month_or_weekday_as_in_crontab():
    """`0 0 1 * mon` runs on the 1st AND on every Monday (APScheduler alone would require both)."""
    got = fires("0 0 1 * mon", at("2026-01-20T00:00:00"), 4)
    assert got == [at("2026-01-26T00:00:00"), at("2026-02-01T00:00:00"), at("2026-02-02T00:00:00"),
                   at("2026-02-09T00:00:00")]  # fmt: skip


@pytest.mark.parametrize("expr", ["0 0 * * 7", "0 0 * * 5-1", "61 * * * *", "0 0 0 * *", "@hourly", "0 0 ? * *"])
def test_invalid_cron_is_refused(expr):
    with pytest.raises(ValueError):
        cron_trigger(expr)


# --------------------------------------------------------------------------- the loop on a fake clock


def test_two_targets_on_different_crons_run_at_the_right_times(tmp_path):
    clock = FakeClock(at("2026-01-04T23:50:00"), until=at("2026-01-05T01:00:00"))  # a Sunday evening
    ran: list[tuple[str, dt.datetime]] = []
    beat = tmp_path / "alive"
    scheduler = scheduler_for(clock, [("weekdays", "0 0 * * 1-5"), ("quarter", "*/15 * * * *")],
                              lambda name: ran.append((name, clock())), heartbeat=beat)  # fmt: skip
    scheduler.run()
    assert ran == [
        ("quarter", at("2026-01-05T00:00:00")), ("weekdays", at("2026-01-05T00:00:00")),  # Monday midnight
        ("quarter", at("2026-01-05T00:15:00")), ("quarter", at("2026-01-05T00:30:00")),
        ("quarter", at("2026-01-05T00:45:00")), ("quarter", at("2026-01-05T01:00:00")),
    ]  # fmt: skip
    assert max(clock.waits) <= 30  # the heartbeat is touched at least every 30 s while idle
    assert heartbeat.age(beat, now=clock().timestamp()) <= 30
    assert beat.read_text().startswith("2026-01-05T01:")


def test_missed_runs_are_coalesced_into_one(tmp_path):
    """The process was suspended for three hours: each target runs once when it resumes, not once per miss."""
    clock = FakeClock(at("2026-01-05T09:59:40"), until=at("2026-01-05T13:10:00"))
    ran: list[tuple[str, dt.datetime]] = []
    scheduler = scheduler_for(clock, [("quarter", "*/15 * * * *"), ("hourly", "0 * * * *")],
                              lambda name: ran.append((name, clock())))  # fmt: skip
    jumped = False

    def wait(seconds: float) -> None:
        nonlocal jumped
        if not jumped and clock() >= at("2026-01-05T10:00:00"):
            jumped = True
            return clock.wait(3 * 3600 + 7 * 60)  # suspended until 13:07
        clock.wait(seconds)

    scheduler.wait = wait
    with capture_logs() as logs:
        scheduler.run()
    assert ran == [
        ("hourly", at("2026-01-05T10:00:00")), ("quarter", at("2026-01-05T10:00:00")),
        ("quarter", at("2026-01-05T13:07:00")), ("hourly", at("2026-01-05T13:07:00")),  # earliest due first
    ]  # fmt: skip
    coalesced = {e["target"]: e["missed"] for e in logs if e["event"] == "missed runs coalesced into one"}
    assert coalesced == {"hourly": 2, "quarter": 11}  # 11:00-13:00 and 10:15-13:00 folded into the 13:07 run
    assert next(j for j in scheduler.jobs if j.name == "quarter").next_fire == at("2026-01-05T13:15:00")


def test_a_targets_own_triggers_never_overlap_its_run():
    """`slow` takes 25 minutes on a 10-minute cron: triggers during its run are skipped, never queued or
    run beside it; `fast`, due meanwhile, runs right after it, once."""
    clock = FakeClock(at("2026-01-05T09:59:30"), until=at("2026-01-05T10:50:00"))
    intervals: list[tuple[str, dt.datetime, dt.datetime]] = []
    active: set[str] = set()

    def run_target(name: str) -> None:
        assert name not in active, f"{name} started while its previous run was going"
        active.add(name)
        start = clock()
        if name == "slow":
            clock.advance(25 * 60)
        intervals.append((name, start, clock()))
        active.discard(name)

    scheduler = scheduler_for(clock, [("slow", "*/10 * * * *"), ("fast", "*/5 * * * *")], run_target)
    with capture_logs() as logs:
        scheduler.run()
    t = at
    assert intervals == [
        ("fast", t("2026-01-05T10:00:00"), t("2026-01-05T10:00:00")),
        ("slow", t("2026-01-05T10:00:00"), t("2026-01-05T10:25:00")),
        ("fast", t("2026-01-05T10:25:00"), t("2026-01-05T10:25:00")),  # 10:05-10:25 coalesced
        ("fast", t("2026-01-05T10:30:00"), t("2026-01-05T10:30:00")),
        ("slow", t("2026-01-05T10:30:00"), t("2026-01-05T10:55:00")),  # not 10:10 or 10:20
    ]
    for name in ("slow", "fast"):
        mine = [(a, b) for n, a, b in intervals if n == name]
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(mine))
    skipped = [(e["target"], e["skipped"], e["first"]) for e in logs if e["event"].startswith("triggers skipped")]
    assert skipped == [("slow", 2, "2026-01-05T10:10:00Z"), ("slow", 2, "2026-01-05T10:40:00Z")]


def test_run_now_collects_everything_at_start():
    clock = FakeClock(at("2026-01-05T10:07:00"), until=at("2026-01-05T10:20:00"))
    ran: list[tuple[str, dt.datetime]] = []
    scheduler = scheduler_for(clock, [("a", "0 3 * * *"), ("b", "*/15 * * * *")],
                              lambda name: ran.append((name, clock())), run_now=True)  # fmt: skip
    scheduler.run()
    assert ran == [("a", at("2026-01-05T10:07:00")), ("b", at("2026-01-05T10:07:00")),
                   ("b", at("2026-01-05T10:15:00"))]  # fmt: skip


def test_a_failing_run_does_not_stop_the_scheduler():
    clock = FakeClock(at("2026-01-05T09:59:59"), until=at("2026-01-05T10:20:00"))
    calls: list[dt.datetime] = []

    def run_target(name: str) -> None:
        calls.append(clock())
        raise OSError("database unavailable")

    scheduler = scheduler_for(clock, [("prod", "*/10 * * * *")], run_target)
    with capture_logs() as logs:
        scheduler.run()
    assert calls == [at("2026-01-05T10:00:00"), at("2026-01-05T10:10:00"), at("2026-01-05T10:20:00")]
    assert [e["event"] for e in logs].count("scheduled run failed") == 3


# --------------------------------------------------------------------------- against the real store


def tiny_config(endpoint: str, db_url: str):
    return aws_config(endpoint, db_url, regions=["eu-west-1"], kinds=["aws.iam.account.password_policy"])


def test_a_trigger_that_finds_the_target_locked_is_skipped(engine, db_url, sandbox_endpoint):
    """Another process (a second replica, a CronJob) is collecting `prod`: the trigger is skipped, not
    run beside it; the next trigger, after it finished, runs."""
    config = tiny_config(sandbox_endpoint, db_url)
    clock = FakeClock(at("2026-01-05T09:59:59"), until=at("2026-01-05T10:10:00"))
    other_run = contextlib.ExitStack()
    other_run.enter_context(run_lock(engine, ["prod"]))

    def wait(seconds: float) -> None:
        if clock() >= at("2026-01-05T10:00:00"):
            other_run.close()  # the other process finished
        clock.wait(seconds)

    scheduler = scheduler_for(clock, [("prod", "*/10 * * * *")], lambda name: collect(config, engine, targets=[name]))
    scheduler.wait = wait
    with other_run, capture_logs() as logs:
        scheduler.run()
    skips = [e for e in logs if e["event"] == "scheduled run skipped: another run holds the lock"]
    assert len(skips) == 1 and skips[0]["target"] == "prod"
    runs = list_runs(engine)
    assert [(r["status"], r["targets"]) for r in runs] == [("complete", ["prod"])]  # only the 10:10 one


def test_sigterm_inside_a_run_seals_it_aborted(engine, db_url, sandbox_endpoint):
    """Terminated (what the SIGTERM handler raises) arriving after the first unit was stored: the run
    is sealed `aborted`, what it stored stays, the chain verifies, and the scheduler stops."""
    config = aws_config(sandbox_endpoint, db_url, regions=["eu-west-1"],
                        kinds=["aws.iam.account.password_policy", "aws.s3.bucket.encryption"])  # fmt: skip
    clock = FakeClock(at("2026-01-05T09:59:59"))

    def on_unit(_unit) -> None:
        raise Terminated()

    def run_target(name: str) -> None:
        collect(config, engine, targets=[name], on_unit=on_unit)

    sealed: list[list[int]] = []
    scheduler = scheduler_for(clock, [("prod", "0 * * * *")], run_target,
                              on_interrupted=lambda name: sealed.append(seal_interrupted(engine, name)))  # fmt: skip
    with capture_logs() as logs:
        scheduler.run()
    assert scheduler.stopped
    (run,) = list_runs(engine)
    assert run["status"] == "aborted" and run["counts"]["units"] >= 1
    assert sealed == [[]]  # collect() had sealed it already: nothing was left running
    assert any(e["event"] == "scheduler stopping on a signal" and e["interrupted"] == "prod" for e in logs)
    assert verify(engine).ok


def test_a_run_left_running_by_an_interrupt_is_sealed(engine):
    """The signal came between opening the run and guarding it: the scheduler's clean-up seals it."""
    run_id = open_run(engine, ["prod"], "digest", at("2026-01-05T10:00:00"))
    assert seal_interrupted(engine, "prod") == [run_id]
    (run,) = list_runs(engine)
    assert run["status"] == "aborted" and verify(engine).ok


def test_the_sigterm_handler_raises_once_and_is_removed_afterwards():
    if threading.current_thread() is not threading.main_thread():
        pytest.fail("signal handlers can only be tested from the main thread")
    before = signal.getsignal(signal.SIGTERM)
    with terminate_on_signals(), pytest.raises(Terminated) as stopped:
        signal.raise_signal(signal.SIGTERM)
    assert stopped.value.code == 128 + signal.SIGTERM
    with terminate_on_signals(), capture_logs() as logs:
        with pytest.raises(Terminated):
            signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)  # while unwinding: ignored, so the sealing is not cut short
    assert [e["event"] for e in logs] == ["signal ignored: already stopping"]
    assert signal.getsignal(signal.SIGTERM) == before


# --------------------------------------------------------------------------- the real process


GATED_KINDS = ["aws.iam.account.password_policy", "aws.s3.bucket.versioning", "aws.s3.bucket.encryption"]


def holds_encryption_read(method: str, path: str) -> bool:
    return method == "GET" and path.endswith("?encryption")


def test_sigterm_stops_the_scheduler_process_and_leaves_no_run_running(db_url, sandbox_endpoint, tmp_path):
    with Gate(sandbox_endpoint, holds_encryption_read) as gate:
        config = tmp_path / "evidence-agent.yaml"
        config.write_text(yaml.safe_dump({"database_url": db_url, "targets": [
            {"name": "prod", "provider": "aws", "regions": ["eu-west-1"], "endpoint_url": gate.url,
             "kinds": GATED_KINDS, "schedule": "0 3 * * *"}]}))  # fmt: skip
        beat = tmp_path / "heartbeat"
        command = [AGENT, "schedule", "--config", str(config), "--run-now", "--heartbeat-file", str(beat)]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "EVIDENCE_AGENT_LOG_FORMAT": "json"})  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
        if not gate.entered.wait(timeout=60):
            proc.kill()
            pytest.fail("the scheduler never started a run")
        assert heartbeat.main([str(beat), "60"]) == 0  # alive while the run is in progress
        proc.send_signal(signal.SIGTERM)
        events = []
        while not events or events[-1].get("event") != "scheduler stopped":
            line = lines.get(timeout=60)  # a bounded wait for the process's own report, not a sleep
            events.append(json.loads(line) if line.startswith("{") else {"line": line})
        gate.release.set()  # the abandoned unit's request may now finish; nothing more is written
        assert proc.wait(timeout=60) == 0
    names = [e.get("event") for e in events]
    assert "run did not finish" in names and "scheduler stopping on a signal" in names
    assert stored_runs(db_url) == ["aborted"]


def stored_runs(db_url: str) -> list[str]:
    """Statuses of the runs in the database, after checking the chain still verifies."""
    engine = make_engine(db_url)
    try:
        assert verify(engine).ok
        return [r["status"] for r in list_runs(engine)]
    finally:
        engine.dispose()


def test_sigterm_to_a_cronjob_collect_seals_its_run_aborted(db_url, sandbox_endpoint, tmp_path):
    """A CronJob pod deleted or past activeDeadlineSeconds gets SIGTERM: the run is `aborted` at once, not
    left `running` for the next run to find."""
    with Gate(sandbox_endpoint, holds_encryption_read) as gate:
        config = tmp_path / "evidence-agent.yaml"
        config.write_text(yaml.safe_dump({"database_url": db_url, "targets": [
            {"name": "prod", "provider": "aws", "regions": ["eu-west-1"], "endpoint_url": gate.url,
             "kinds": GATED_KINDS}]}))  # fmt: skip
        proc = subprocess.Popen([AGENT, "collect", "--config", str(config)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "EVIDENCE_AGENT_LOG_FORMAT": "json"})  # fmt: skip
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stderr], daemon=True).start()
        if not gate.entered.wait(timeout=60):
            proc.kill()
            pytest.fail("collect never reached the gate")
        proc.send_signal(signal.SIGTERM)
        event: dict = {}
        while event.get("event") != "run did not finish":
            line = lines.get(timeout=60)
            event = json.loads(line) if line.startswith("{") else {}
        assert event["interrupted"] is True
        gate.release.set()
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert stored_runs(db_url) == ["aborted"]
