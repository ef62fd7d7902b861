"""What a bundle covers: framework, controls and their checks, targets, the period and its runs.

Usage errors name the option (`--control`, `--from`, ...) and become exit code 2.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from collector.bundle.layout import evidence_path, slug
from collector.config import ConfigError
from collector.store.models import Run, RunUnit
from controls.base import CheckSpec, registered_checks
from controls.catalog import Catalog, Framework, Link


@dataclass(frozen=True)
class Period:
    """[start, end): `--from D --to D` with dates covers both whole UTC days."""

    start: dt.datetime
    end: dt.datetime

    def overlapping(self, first: Any, ended: Any) -> Any:
        """An interval [first, ended) that was valid at some moment of the period."""
        return sa.and_(first < self.end, sa.or_(ended.is_(None), ended > self.start))

    @property
    def last_moment(self) -> dt.datetime:
        return self.end - dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Sample:
    label: str  # as given (a date or a time): the samples/<label>/ folder
    at: dt.datetime


@dataclass
class ScopedControl:
    id: str
    title: str
    group: str
    slug: str
    links: list[Link]
    checks: list[CheckSpec]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({kind for check in self.checks for kind in check.reads}))

    @property
    def evidence_path(self) -> str | None:
        return evidence_path(self.slug) if self.checks else None


@dataclass
class ChainRange:
    """The period's runs: a contiguous stretch of the digest chain (by `seq`)."""

    lo: int | None = None
    hi: int | None = None
    lo_id: int | None = None
    hi_id: int | None = None

    def contains(self, run: Any) -> Any:
        if self.lo is None:
            return sa.false()
        return run.seq.between(self.lo, self.hi)


@dataclass
class Scope:
    framework: Framework
    catalog: Catalog
    period: Period
    controls: list[ScopedControl]
    targets: tuple[str, ...]
    samples: tuple[Sample, ...]
    chain: ChainRange = field(default_factory=ChainRange)

    @property
    def checks(self) -> dict[str, CheckSpec]:
        return {c.id: c for control in self.controls for c in control.checks}

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({kind for control in self.controls for kind in control.kinds}))

    def controls_of_check(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for control in self.controls:
            for check in control.checks:
                out[check.id].append(control.id)
        return out

    def controls_of_kind(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for control in self.controls:
            for kind in control.kinds:
                out[kind].append(control.id)
        return out

    def target_filter(self, column: Any) -> Any:
        return column.in_(self.targets) if self.targets else sa.true()


def parse_moment(value: str, option: str, *, end_of_day: bool = False) -> dt.datetime:
    """A date (a whole UTC day: its start, or with `end_of_day` the next day's start) or an RFC 3339 time."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            return start + dt.timedelta(days=1) if end_of_day else start
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, OverflowError):  # OverflowError: the day after 9999-12-31
        raise ConfigError(f"{option}: {value!r} is not a date (2026-03-31) or an RFC 3339 time") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def parse_period(start: str, end: str) -> Period:
    period = Period(parse_moment(start, "--from"), parse_moment(end, "--to", end_of_day=True))
    if period.start >= period.end:
        raise ConfigError(f"--from: {start} is not before --to {end}")
    return period


def parse_samples(values: list[str], period: Period) -> tuple[Sample, ...]:
    samples: dict[dt.datetime, Sample] = {}
    for value in values:
        moment = parse_moment(value, "--sample-date")
        if not period.start <= moment < period.end:
            raise ConfigError(f"--sample-date: {value} is outside the period")
        samples.setdefault(moment, Sample(value.strip(), moment))
    return tuple(sorted(samples.values(), key=lambda s: s.at))


def providers_in_use(conn: sa.Connection) -> set[str]:
    kinds = conn.execute(sa.select(RunUnit.kind).distinct()).scalars()
    return {kind.split(".", 1)[0] for kind in kinds}


def build_scope(
    conn: sa.Connection,
    catalog: Catalog,
    framework_id: str,
    period: Period,
    controls: list[str],
    targets: list[str],
    samples: tuple[Sample, ...] = (),
) -> Scope:
    if framework_id not in catalog.frameworks:
        known = ", ".join(catalog.frameworks)
        raise ConfigError(f"--framework: unknown framework {framework_id!r} (known: {known})")
    framework = catalog.framework(framework_id)
    for control_id in controls:
        try:
            framework.control(control_id)
        except KeyError as exc:
            raise ConfigError(f"--control: {exc.args[0]}") from None
    known_targets = set(conn.execute(sa.select(RunUnit.target).distinct()).scalars())
    for target in targets:
        if target not in known_targets:
            listed = ", ".join(sorted(known_targets)) or "none yet"
            raise ConfigError(f"--target: no evidence for target {target!r} in the store (known: {listed})")
    # As in control status (collector.compliance): checks of a provider never collected do not count.
    providers = providers_in_use(conn)
    checks = {c.id: c for c in registered_checks() if c.provider in providers or not providers}
    by_control = framework.links_by_control()
    wanted = set(controls)
    scoped: list[ScopedControl] = []
    slugs: set[str] = set()
    for control in framework.controls:
        if wanted and control.id not in wanted:
            continue
        links = [link for link in by_control.get(control.id, []) if link.check_id in checks]
        name = slug(control.id)
        while name in slugs:  # two ids that differ only in punctuation
            name += "_"
        slugs.add(name)
        specs = sorted({checks[link.check_id] for link in links}, key=lambda c: c.id)
        scoped.append(ScopedControl(control.id, control.title, control.group, name, links, specs))
    period = _settled(conn, period, samples)
    scope = Scope(framework, catalog, period, scoped, tuple(sorted(set(targets))), samples)
    scope.chain = chain_range(conn, period)
    return scope


def _settled(conn: sa.Connection, period: Period, samples: tuple[Sample, ...]) -> Period:
    """End the period before the first run still in progress: what it wrote is not sealed into the chain yet."""
    running = conn.execute(
        sa.select(Run.id, Run.started_at)
        .where(Run.seq.is_(None), Run.started_at < period.end)
        .order_by(Run.started_at)
        .limit(1)
    ).first()
    if running is None:
        return period
    if running.started_at <= period.start:
        raise ConfigError(
            f"--from: run {running.id} (started {running.started_at.isoformat()}) is still running or was killed: "
            "let it finish (the next collect marks a killed run aborted), or bundle a period that ends before it"
        )
    for sample in samples:
        if sample.at >= running.started_at:
            raise ConfigError(f"--sample-date: {sample.label} is after run {running.id} started, and it is still "
                              "running: its evidence is not sealed yet")  # fmt: skip
    return Period(period.start, running.started_at)


def chain_range(conn: sa.Connection, period: Period) -> ChainRange:
    row = conn.execute(
        sa.select(sa.func.min(Run.seq), sa.func.max(Run.seq)).where(
            Run.seq.is_not(None), Run.started_at >= period.start, Run.started_at < period.end
        )
    ).one()
    if row[0] is None:
        return ChainRange()
    ids = conn.execute(sa.select(sa.func.min(Run.id), sa.func.max(Run.id)).where(Run.seq.between(row[0], row[1]))).one()
    return ChainRange(row[0], row[1], ids[0], ids[1])


def history_buckets(period: Period, most: int = 90) -> tuple[dt.timedelta, int]:
    """Width and number of the verdict-history buckets: at most `most`, whole hours, at least one hour."""
    hours = max(1, math.ceil((period.end - period.start).total_seconds() / 3600 / most))
    width = dt.timedelta(hours=hours)
    return width, max(1, math.ceil((period.end - period.start) / width))


@contextlib.contextmanager
def snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One connection reading one consistent state of the store, while collections may go on writing."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.execute(sa.text("SET TRANSACTION READ ONLY"))
                yield conn
        else:
            conn.exec_driver_sql("BEGIN")  # a read transaction: SQLite (WAL) keeps its snapshot until it ends
            try:
                yield conn
            finally:
                conn.rollback()
