"""Retention benchmark: N resources, D days of daily runs, C resources changing per run, keep K days.

Goals (issue 10): prune finishes with peak RSS < 300 MB; the database shrinks by at least the share of
evidence intervals pruned; a run right after prune is no slower than right before it.

    .venv/bin/python bench/prune.py                                   # SQLite, and PostgreSQL when reachable
    .venv/bin/python bench/prune.py --backend sqlite --resources 2000 --days 60 --keep-days 30

Sizes are of live data: SQLite after VACUUM, PostgreSQL after VACUUM FULL (deleting rows alone leaves the
files as large, for reuse). "Run work" is the store work of a run with no changes (write every unit and
seal it). Before the prune the store is copied (a twin: SQLite `VACUUM INTO`, PostgreSQL `CREATE DATABASE
... TEMPLATE`); after it, no-change runs alternate between the unpruned twin ("before") and the pruned store
("after"), in ABBA order, the same runs at the same moments on both. Pairing them this way cancels the load
of the machine, which moved one-off timings by 10-40% here; the goal compares the medians.

On PostgreSQL the indexes shrink less than the rows they index (the split is printed): B-tree
deduplication (PostgreSQL 13+) stores one entry per distinct key with a list of row pointers, so an
interval pruned from a resource that is still collected frees only its 6-byte pointer in the index of
(target, kind, resource_id), not an entry. The blobs shrink exactly by the share (one per interval), and
the tombstones and the prune's chain record are rows added, so the whole can end just under the share.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_growth import PG_URL, db_size, on_backends, synthetic

from collector.retention import prune
from collector.store.engine import make_engine, upgrade
from collector.store.models import EvidenceState, RunStatus
from collector.store.writer import UnitKey, open_run, seal_run, write_unit

UNITS = 10
PAIRS = 12  # no-change runs timed on each store (--pairs), alternating ABBA: the unpruned twin, the pruned store
T0 = dt.datetime(2025, 1, 1, 2, tzinfo=dt.UTC)


class Account:
    """The synthetic account; unchanged resources reuse their Evidence (only changes cost generation)."""

    def __init__(self, resources: int):
        self.versions = [0] * resources
        self.items = [synthetic(i, 0, T0) for i in range(resources)]

    def change(self, index: int, when: dt.datetime) -> None:
        self.versions[index] += 1
        self.items[index] = synthetic(index, self.versions[index], when)

    def run(self, engine: sa.Engine, when: dt.datetime) -> float:
        per_unit = len(self.items) // UNITS
        started = time.perf_counter()
        run_id = open_run(engine, ["bench"], "bench", when)
        for u in range(UNITS):
            batch = self.items[u * per_unit : (u + 1) * per_unit]
            write_unit(engine, run_id, UnitKey("bench", "aws.s3.bucket.encryption", f"unit-{u}"), batch, when, when)
        seal_run(engine, run_id, RunStatus.COMPLETE, when + dt.timedelta(minutes=5))
        return time.perf_counter() - started


def live_size(engine: sa.Engine) -> int:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM" if engine.dialect.name == "sqlite" else "VACUUM FULL"))
    return db_size(engine)


def index_size(engine: sa.Engine) -> int | None:
    """PostgreSQL: the part of `db_size` that is indexes (not their tables' TOAST indexes); None on SQLite."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            "SELECT sum(pg_indexes_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'")).scalar())  # fmt: skip


@contextmanager
def twin(engine: sa.Engine) -> Iterator[sa.Engine]:
    """A copy of the store as it is now, dropped afterwards."""
    url = engine.url
    if engine.dialect.name == "sqlite":
        path = Path(str(url.database)).with_name("twin.db")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM INTO :path"), {"path": str(path)})
        copy = make_engine(url.set(database=str(path)).render_as_string(hide_password=False))
        try:
            yield copy
        finally:
            copy.dispose()
            path.unlink()
        return
    engine.dispose()  # a template database must have no other connections
    name = f"{url.database}_twin"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
    copy = make_engine(url.set(database=name).render_as_string(hide_password=False))
    try:
        yield copy
    finally:
        copy.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def paired_runs(
    account: Account, unpruned: sa.Engine, pruned: sa.Engine, start: dt.datetime, pairs: int
) -> tuple[float, float]:
    """Median run work on each store: the same no-change runs, alternating ABBA so drift in load cancels."""
    times: dict[str, list[float]] = {"before": [], "after": []}
    for n in range(pairs):
        when = start + dt.timedelta(hours=n)
        order = [("before", unpruned), ("after", pruned)]
        for label, engine in order if n % 2 == 0 else reversed(order):
            times[label].append(account.run(engine, when))
    return statistics.median(times["before"]), statistics.median(times["after"])


def bench(url: str, label: str, resources: int, days: int, changes: int, keep_days: int, pairs: int) -> bool:
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(5)
    account = Account(resources)
    seeding = time.perf_counter()
    for n in range(days):
        when = T0 + dt.timedelta(days=n)
        if n:
            for i in rng.sample(range(resources), changes):
                account.change(i, when)
        account.run(engine, when)
    seeding = time.perf_counter() - seeding
    end = T0 + dt.timedelta(days=days)
    with engine.connect() as conn:
        intervals = conn.execute(sa.select(sa.func.count()).select_from(EvidenceState)).scalar_one()
    size_before = live_size(engine)
    indexes_before = index_size(engine)
    with twin(engine) as unpruned:
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        summary = prune(engine, keep_days=keep_days, keep_runs_min=10, now=end)
        took = time.perf_counter() - started
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        size_after = live_size(engine)
        indexes_after = index_size(engine)
        before, after = paired_runs(account, unpruned, engine, end + dt.timedelta(hours=1), pairs)
    engine.dispose()
    pruned = summary["removed"]["evidence_states"]
    share = pruned / intervals
    shrink = 1 - size_after / size_before
    print(f"[{label}] {resources} resources, {days} daily runs, {changes} changes per run, keep {keep_days} days "
          f"(seeded in {seeding:.0f} s)")  # fmt: skip
    print(f"  prune: {took:.2f} s, {summary['removed']['runs_tombstoned']} runs tombstoned, {pruned} of {intervals} "
          f"intervals ({share:.1%}), {summary['removed']['blobs']} blobs")  # fmt: skip
    verdict = "PASS" if rss < 300 else "FAIL"
    print(f"  peak RSS {rss:.0f} MB (before prune {rss_before:.0f} MB)   goal < 300 MB   {verdict}")
    print(f"  live size {size_before / 1e6:.2f} MB -> {size_after / 1e6:.2f} MB: shrank {shrink:.1%}, pruned share "
          f"{share:.1%}   goal shrink >= share   {'PASS' if shrink >= share else 'FAIL'}")  # fmt: skip
    if indexes_before and indexes_after:
        tables_before, tables_after = size_before - indexes_before, size_after - indexes_after
        print(f"    of which tables (rows, blobs, TOAST) {tables_before / 1e6:.2f} MB -> {tables_after / 1e6:.2f} MB: "
              f"shrank {1 - tables_after / tables_before:.2%}; indexes {indexes_before / 1e6:.2f} MB -> "
              f"{indexes_after / 1e6:.2f} MB: shrank {1 - indexes_after / indexes_before:.2%}")  # fmt: skip
    faster = after <= before * 1.05
    print(f"  no-change run work, median of {pairs} paired runs: unpruned twin {before:.3f} s, pruned {after:.3f} s   "
          f"goal pruned <= unpruned (5% noise)   "
          f"{'PASS' if faster else 'FAIL'}")  # fmt: skip
    return rss < 300 and shrink >= share and faster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--changes", type=int, default=50, help="resources changing per run (0.5%% of 10,000)")
    parser.add_argument("--keep-days", type=int, default=365)
    parser.add_argument("--pairs", type=int, default=PAIRS, help="no-change runs timed on each store")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    args = parser.parse_args()
    run = (args.resources, args.days, args.changes, args.keep_days, args.pairs)
    return on_backends(args.backend, lambda url, label: bench(url, label, *run))


if __name__ == "__main__":
    sys.exit(main())
