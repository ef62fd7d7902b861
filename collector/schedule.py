"""`evidence-agent schedule`: a long-running process that collects each target on its own cron.

Every target's `schedule:` (crontab syntax, UTC, default hourly) becomes an APScheduler 3.x cron
trigger (collector.cron). The loop that fires them is this module's own, so that its clock and its
waiting are injected: tests drive it with a fake clock and never sleep. (APScheduler's schedulers
read the wall clock inside their loop and executors, which no test can move.) The loop keeps
APScheduler's `coalesce=True, max_instances=1` semantics:

- **coalescing**: fire times missed while the process was busy or suspended collapse into one run;
- **one run at a time**: runs go one after another in the main thread; a target's triggers that
  fall during its own run are skipped (logged), never queued behind it. Across processes (a second
  replica, a CronJob on the same database) the store's per-target lock decides: a trigger that
  finds the lock held is skipped with a warning;
- **SIGTERM**: the handler raises `Terminated` (a SystemExit) in the main thread. Inside a run,
  collect() unwinds: queued units are cancelled, what was written stays, the run is sealed
  `aborted`; the loop then makes sure nothing of that target is left `running` and exits 0. While
  idle it just exits 0. A second signal during that unwinding is ignored so the sealing completes.
- **liveness**: with a heartbeat file, every tick (at least every 30 s) and every finished unit
  touches it (collector.heartbeat), so a probe can tell a live loop from a stuck one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from apscheduler.triggers.base import BaseTrigger

from collector.cron import cron_trigger, next_fire_after
from collector.heartbeat import touch
from collector.store.lock import LockHeld
from connectors.base import rfc3339, utcnow

log = structlog.get_logger("evidence_agent.schedule")

HEARTBEAT_SECONDS = 30.0  # the longest the loop sleeps without touching the heartbeat file
MAX_COUNTED_FIRES = 10_000  # counting missed fire times (for the log) stops here

Clock = Callable[[], dt.datetime]


class Terminated(SystemExit):
    """SIGTERM arrived. A SystemExit, so a run in progress is sealed `aborted` by collect()."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__(128 + signum)
        self.signum = signum


@contextlib.contextmanager
def terminate_on_signals(signals: tuple[int, ...] = (signal.SIGTERM,)) -> Iterator[None]:
    """While inside, the first of `signals` raises Terminated in the main thread; later ones are
    ignored (logged), so the unwinding it started is not itself interrupted. Outside the main thread
    (tests invoking the CLI from a worker thread) nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = False

    def handler(signum: int, _frame: Any) -> None:
        nonlocal raised
        if raised:
            log.warning("signal ignored: already stopping", signal=signal.Signals(signum).name)
            return
        raised = True
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def count_fires(trigger: BaseTrigger, after: dt.datetime, until: dt.datetime) -> int:
    """How many fire times fall in (after, until]."""
    count, moment = 0, after
    while count < MAX_COUNTED_FIRES:
        moment = next_fire_after(trigger, moment)
        if moment > until:
            break
        count += 1
    return count


@dataclass
class TargetJob:
    name: str
    schedule: str
    trigger: BaseTrigger
    next_fire: dt.datetime


class Scheduler:
    """Runs `run_target(name)` for each target when its cron fires. Everything time-related is injected:
    `clock` says what time it is, `wait(seconds)` passes time (time.sleep in production)."""

    def __init__(
        self,
        schedules: list[tuple[str, str]],
        run_target: Callable[[str], None],
        *,
        clock: Clock = utcnow,
        wait: Callable[[float], None] = time.sleep,
        heartbeat: Path | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        run_now: bool = False,
        on_interrupted: Callable[[str], None] | None = None,
    ):
        self.run_target = run_target
        self.clock = clock
        self.wait = wait
        self.heartbeat = heartbeat
        self.heartbeat_seconds = heartbeat_seconds
        self.on_interrupted = on_interrupted
        self.stopped = False
        self.current: str | None = None  # the target whose run is in progress
        now = clock()
        self.jobs = []
        for name, expr in schedules:
            trigger = cron_trigger(expr)
            self.jobs.append(TargetJob(name, expr, trigger, now if run_now else next_fire_after(trigger, now)))

    def beat(self) -> None:
        if self.heartbeat is not None:
            touch(self.heartbeat, self.clock())

    def stop(self) -> None:
        self.stopped = True

    def next_wakeup(self) -> dt.datetime:
        return min(job.next_fire for job in self.jobs)

    def run_pending(self) -> list[str]:
        """Run every target that is due, earliest first (then by name), one at a time."""
        ran = []
        now = self.clock()
        for job in sorted((j for j in self.jobs if j.next_fire <= now), key=lambda j: (j.next_fire, j.name)):
            if self.stopped:
                break
            started = self.clock()
            due = job.next_fire
            missed = count_fires(job.trigger, due, started)
            job.next_fire = next_fire_after(job.trigger, started)
            if missed:
                log.info("missed runs coalesced into one", target=job.name, due=rfc3339(due), missed=missed)
            self._run(job, due)
            ran.append(job.name)
            finished = self.clock()
            if job.next_fire <= finished:  # its own triggers fired while it ran: skip them, as max_instances=1
                skipped = 1 + count_fires(job.trigger, job.next_fire, finished)
                log.warning("triggers skipped: they fell during the target's own run", target=job.name,
                            skipped=skipped, first=rfc3339(job.next_fire))  # fmt: skip
                job.next_fire = next_fire_after(job.trigger, finished)
        return ran

    def _run(self, job: TargetJob, due: dt.datetime) -> None:
        self.current = job.name
        self.beat()
        log.info("scheduled run starting", target=job.name, due=rfc3339(due), schedule=job.schedule)
        try:
            self.run_target(job.name)
        except LockHeld as exc:
            log.warning("scheduled run skipped: another run holds the lock", target=job.name, error=str(exc))
        except Exception:  # the database is down, say: the next trigger tries again
            log.exception("scheduled run failed", target=job.name)
        self.current = None
        self.beat()

    def run(self) -> None:
        """Until stop() or SIGTERM: touch the heartbeat, run what is due, wait for the next fire time."""
        try:
            while not self.stopped:
                self.beat()
                self.run_pending()
                if self.stopped:
                    break
                delay = (self.next_wakeup() - self.clock()).total_seconds()
                self.wait(max(0.0, min(delay, self.heartbeat_seconds)))
        except (Terminated, KeyboardInterrupt):
            self.stopped = True
            interrupted, self.current = self.current, None
            log.info("scheduler stopping on a signal", interrupted=interrupted)
            if interrupted is not None and self.on_interrupted is not None:
                try:
                    self.on_interrupted(interrupted)
                except Exception:  # the next run marks it aborted instead
                    log.exception("could not mark the interrupted run aborted", target=interrupted)


def seal_interrupted(engine: Any, target: str) -> list[int]:
    """After a signal interrupted a run of `target`: mark whatever of it is still `running` aborted.

    collect() seals the run it was in; this also covers a signal that came between opening the run
    and guarding it. Under the target's lock nothing else of it can be running; if another live
    process holds the lock, its run is not ours to seal."""
    from collector.store.lock import run_lock
    from collector.store.writer import abort_stale

    try:
        with run_lock(engine, [target]):
            aborted = abort_stale(engine, [target], utcnow())
    except LockHeld:
        return []
    if aborted:
        log.warning("marked an interrupted run aborted", target=target, run_ids=aborted)
    return aborted


def serve(config: Any, *, heartbeat: Path | None = None, run_now: bool = False) -> int:
    """`evidence-agent schedule`: migrate, then run the scheduler until SIGTERM. Returns the exit code."""
    from collector.run import collect
    from collector.store.engine import make_engine, upgrade

    with terminate_on_signals():
        try:
            if heartbeat is not None:
                touch(heartbeat, utcnow())  # alive while migrating, before the first tick
            engine = make_engine(config.database_url)
            upgrade(engine)
            config.catalog()  # a broken mapping file is a config error now, not at the first trigger
            scheduler: Scheduler

            def run_target(name: str) -> None:
                result = collect(config, engine, targets=[name], on_unit=lambda _unit: scheduler.beat())
                log.info("scheduled run finished", target=name, run_id=result.run_id, status=result.status.value)

            scheduler = Scheduler(
                [(t.name, t.schedule) for t in config.targets], run_target, heartbeat=heartbeat, run_now=run_now,
                on_interrupted=lambda name: seal_interrupted(engine, name),
            )
            log.info("scheduler started", targets={j.name: j.schedule for j in scheduler.jobs},
                     next_runs={j.name: rfc3339(j.next_fire) for j in scheduler.jobs})  # fmt: skip
            scheduler.run()
        except Terminated:
            log.info("scheduler stopping on a signal", interrupted=None)
        log.info("scheduler stopped")
    return 0
