"""One collection run: units (target, kind, scope) run concurrently, results written as they finish.

Connectors run in a bounded thread pool; the calling thread writes each finished unit in its
own transaction, so memory holds at most the units in flight. A unit's failure becomes a gap,
never an empty result; the run is `complete` (no gaps), `partial` (some) or `failed` (nothing
collected, or the store failed).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog

from collector.alerts import after_run
from collector.config import Config, TargetConfig
from collector.store.lock import run_lock
from collector.store.models import RunStatus, RunUnit
from collector.store.query import last_unit_durations
from collector.store.writer import (
    Judgement,
    UnitKey,
    abort_stale,
    open_run,
    seal_run,
    write_gap,
    write_skip,
    write_unit,
)
from connectors import PROVIDERS, collect_unit
from connectors.base import CollectionError, Evidence, GapReason, KindSpec, UnitPlan, registered_kinds, utcnow
from controls.base import Policy, Subject, Verdict, checks_reading, judge

log = structlog.get_logger("evidence_agent.run")

OpenTarget = Callable[[TargetConfig], Any]  # a target's connector context for one run
Clock = Callable[[], dt.datetime]


@dataclass(frozen=True)
class Unit:
    key: UnitKey
    spec: KindSpec
    plan: UnitPlan


@dataclass
class UnitOutcome:
    key: UnitKey
    started_at: dt.datetime
    finished_at: dt.datetime
    evidence: list[Evidence] | None = None
    error: CollectionError | None = None
    skip: str | None = None


@dataclass
class RunResult:
    run_id: int
    status: RunStatus
    aborted_runs: list[int]
    units: list[RunUnit] = field(default_factory=list)
    gaps: list[tuple[UnitKey, CollectionError]] = field(default_factory=list)
    # this run's drift events (docs/alerts.md); None when computing them failed (the next run retries)
    drift: list[dict[str, Any]] | None = None


def default_open_target(target: TargetConfig) -> Any:
    return target.open()


def plan_units(targets: list[TargetConfig], open_target: OpenTarget, contexts: list[Any]) -> list[Unit]:
    """Every unit of every selected kind of every target; opened contexts are appended to `contexts`."""
    units = []
    for target in targets:
        provider = PROVIDERS[target.kind_provider]
        context = open_target(target)
        contexts.append(context)
        for spec in registered_kinds(target.kind_provider):
            if not target.wants(spec):
                continue
            for plan in provider.units(context, spec):
                units.append(Unit(UnitKey(target.name, spec.name, plan.scope), spec, plan))
    return units


def schedule(units: list[Unit], durations: dict[tuple[str, str, str], float]) -> list[Unit]:
    """Longest first, so the run does not end waiting on one big unit started late: by each unit's
    duration in its last collection; without history, account-wide (global) units first, as they
    cover every region."""

    def weight(unit: Unit) -> tuple[float, int]:
        key = (unit.key.target, unit.key.kind, unit.key.scope)
        return (-durations.get(key, 0.0), 1 if unit.spec.regional else 0)

    return sorted(units, key=weight)


def run_one_unit(unit: Unit, clock: Clock) -> UnitOutcome:
    """The unit boundary: the only place that catches every exception, so one unit never sinks a run."""
    started = clock()
    if unit.plan.error is not None:
        return UnitOutcome(unit.key, started, started, error=unit.plan.error)
    if unit.plan.skip is not None:
        return UnitOutcome(unit.key, started, started, skip=unit.plan.skip)
    try:
        evidence = collect_unit(unit.spec, unit.plan.context, unit.plan.argument)
        return UnitOutcome(unit.key, started, clock(), evidence=evidence)
    except CollectionError as exc:
        return UnitOutcome(unit.key, started, clock(), error=exc)
    except Exception as exc:
        log.exception("unit crashed", target=unit.key.target, kind=unit.key.kind, scope=unit.key.scope)
        error = CollectionError(GapReason.ERROR, f"{type(exc).__name__}: {exc}")
        return UnitOutcome(unit.key, started, clock(), error=error)


def judge_unit(key: UnitKey, evidence: list[Evidence], policy: Policy) -> list[Judgement]:
    """Every check reading this kind, on every resource of the unit. A check that breaks on the
    evidence fails the resource with the error as reason: it never turns into a silent pass."""
    judgements = []
    for spec in checks_reading(key.kind):
        for item in evidence:
            subject = Subject(item.kind, item.resource_id, item.region, item.observed, at=item.collected_at)
            try:
                verdict = judge(spec, subject, policy)
            except (TypeError, ValueError) as exc:
                log.error("check error", check=spec.id, resource=item.resource_id, error=str(exc))
                verdict = Verdict.failed(f"could not judge: {exc}")
            judgements.append(Judgement(spec.id, item.resource_id, item.region, verdict.status, verdict.reason))
    return judgements


def _store(
    engine: sa.Engine,
    run_id: int,
    outcome: UnitOutcome,
    result: RunResult,
    policies: dict[str, Policy],
    freshness: Callable[[str, str], dt.timedelta],
) -> RunUnit:
    key = outcome.key
    if outcome.skip is not None:
        log.info("unit skipped", target=key.target, kind=key.kind, scope=key.scope, reason=outcome.skip)
        return write_skip(engine, run_id, key, outcome.skip, outcome.started_at)
    if outcome.evidence is not None:
        try:
            judgements = judge_unit(key, outcome.evidence, policies[key.target])
            fresh_until = outcome.started_at + freshness(key.target, key.kind)
            return write_unit(
                engine, run_id, key, outcome.evidence, outcome.started_at, outcome.finished_at, judgements, fresh_until
            )
        except CollectionError as exc:  # the connector's output was inconsistent: keep nothing of it
            outcome.error = exc
    assert outcome.error is not None
    result.gaps.append((key, outcome.error))
    log.warning(
        "collection gap",
        target=key.target,
        kind=key.kind,
        scope=key.scope,
        reason=outcome.error.reason.value,
        operation=outcome.error.operation,
        error=outcome.error.message,
    )
    return write_gap(engine, run_id, key, outcome.error, outcome.started_at, outcome.finished_at)


def collect(
    config: Config,
    engine: sa.Engine,
    *,
    targets: list[str] | None = None,
    open_target: OpenTarget = default_open_target,
    on_planned: Callable[[int], None] | None = None,
    on_unit: Callable[[RunUnit], None] | None = None,
    clock: Clock = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> RunResult:
    """Run one collection for the selected targets (all by default) and seal it into the chain."""
    selected = [config.target(name) for name in targets] if targets else list(config.targets)
    names = [t.name for t in selected]
    with run_lock(engine, names):
        aborted = abort_stale(engine, names, clock())
        for run_id in aborted:
            log.warning("marked an interrupted run aborted", run_id=run_id)
        catalog = config.catalog()
        policies = {t.name: config.policy_for(t) for t in selected}
        by_name = {t.name: t for t in selected}

        def freshness(target: str, kind: str) -> dt.timedelta:
            return config.freshness_for(by_name[target], kind)

        run_id = open_run(engine, names, config.digest(), clock(), catalog.digest)
        result = RunResult(run_id=run_id, status=RunStatus.RUNNING, aborted_runs=aborted)
        bound = log.bind(run_id=run_id)
        bound.info("run started", targets=names)
        contexts: list[Any] = []
        try:
            units = schedule(plan_units(selected, open_target, contexts), last_unit_durations(engine, names))
            if on_planned:
                on_planned(len(units))
            pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="unit")
            try:
                pending: set[Future[UnitOutcome]] = {pool.submit(run_one_unit, u, clock) for u in units}
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        stored = _store(engine, run_id, future.result(), result, policies, freshness)
                        result.units.append(stored)
                        if on_unit:
                            on_unit(stored)
            except BaseException:
                # SIGTERM, say: seal the run now; queued units never start, running ones end unobserved.
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
            collected = sum(1 for u in result.units if u.status == "collected")
            if not result.gaps:
                result.status = RunStatus.COMPLETE
            elif collected:
                result.status = RunStatus.PARTIAL
            else:
                result.status = RunStatus.FAILED
        except BaseException as exc:
            # Store failure, interrupt or SIGTERM: what was written stays, and the run says it did not finish.
            interrupted = isinstance(exc, KeyboardInterrupt | SystemExit)
            if interrupted:  # asked to stop (SIGTERM, Ctrl-C): expected, no traceback
                bound.warning("run did not finish", interrupted=True, signal=type(exc).__name__)
            else:
                bound.exception("run did not finish")
            seal_run(engine, run_id, RunStatus.ABORTED if interrupted else RunStatus.FAILED, clock())
            if interrupted:
                contexts.clear()  # the process is stopping: closing would wait for the units still in flight
            raise
        finally:
            for context in contexts:
                close = getattr(context, "close", None)
                if close:
                    close()
        sealed = seal_run(engine, run_id, result.status, clock())
        bound.info("run finished", status=result.status.value, digest=sealed.digest, gaps=len(result.gaps))
        try:
            result.drift = after_run(engine, run_id, names, catalog, config.alerts, clock(), sleep)
        except Exception:  # alerting never fails a collection; the next run computes what is missing
            bound.exception("drift detection or alerting failed")
        if config.retention.auto:
            from collector.retention import prune_configured

            try:  # under this run's lock, after it: never concurrently with a collection of these targets
                prune_configured(engine, config, clock())
            except Exception:
                bound.exception("automatic prune failed; nothing was removed")
        return result
