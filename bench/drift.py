"""Drift benchmark: N resources, R runs, a fraction of them changing per run.

Goal (issue 6): drift computation per run stays O(changes), not O(resources or history): the per-run
drift time at run R is within 1.5x of run 2.

    .venv/bin/python bench/drift.py                                  # SQLite, and PostgreSQL when reachable
    .venv/bin/python bench/drift.py --backend sqlite --resources 2000 --runs 50

Every run after the first flips the encryption of `changes` resources, so each run has that many verdict
transitions (regressions and remediations, with confirm_runs 2 so the confirmation pass works too). The
time measured is `collector.drift.compute_run` alone; each figure is the median of a 5-run window
(runs 2-6 and the last 5) so one slow fsync does not decide it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_growth import on_backends, synthetic

from collector.drift import compute_run
from collector.store.engine import make_engine, upgrade
from collector.store.models import DriftEvent, RunStatus
from collector.store.writer import Judgement, UnitKey, open_run, seal_run, write_unit
from controls.catalog import load_catalog

UNITS = 10
WINDOW = 5
CHECK = "aws.s3.bucket.encryption_enabled"
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def run_once(engine: sa.Engine, catalog, number: int, versions: list[int], per_unit: int) -> float:
    when = T0 + dt.timedelta(hours=number)
    run_id = open_run(engine, ["bench"], "bench", when)
    for u in range(UNITS):
        items = [synthetic(i, versions[i], when) for i in range(u * per_unit, (u + 1) * per_unit)]
        judgements = [
            Judgement(CHECK, e.resource_id, e.region, "pass" if e.observed["encrypted"] else "fail",
                      "encrypted" if e.observed["encrypted"] else "not encrypted")
            for e in items
        ]  # fmt: skip
        write_unit(engine, run_id, UnitKey("bench", "aws.s3.bucket.encryption", f"unit-{u}"), items, when, when,
                   judgements)  # fmt: skip
    seal_run(engine, run_id, RunStatus.COMPLETE, when)
    started = time.perf_counter()
    compute_run(engine, run_id, catalog, 2, when)
    return time.perf_counter() - started


def bench(url: str, label: str, resources: int, runs: int, changes: int) -> bool:
    engine = make_engine(url)
    upgrade(engine)
    catalog = load_catalog()
    rng = random.Random(11)
    versions = [0] * resources
    per_unit = resources // UNITS
    times = [run_once(engine, catalog, 1, versions, per_unit)]
    for number in range(2, runs + 1):
        for i in rng.sample(range(resources), changes):
            versions[i] += 1
        times.append(run_once(engine, catalog, number, versions, per_unit))
    with engine.connect() as conn:
        events = conn.execute(sa.select(sa.func.count()).select_from(DriftEvent)).scalar()
    engine.dispose()
    early = statistics.median(times[1 : 1 + WINDOW])
    late = statistics.median(times[-WINDOW:])
    ratio = late / early
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"[{label}] {resources} resources, {runs} runs, {changes} changes per run, {events} drift events")
    print(f"  drift time run 2: {times[1] * 1000:.1f} ms   run {runs}: {times[-1] * 1000:.1f} ms")
    print(
        f"  median runs 2-{1 + WINDOW}: {early * 1000:.1f} ms   median runs {runs - WINDOW + 1}-{runs}: "
        f"{late * 1000:.1f} ms   ratio {ratio:.2f}x   goal <= 1.5x   {'PASS' if ratio <= 1.5 else 'FAIL'}"
    )
    print(f"  first run (every failure is new): {times[0] * 1000:.1f} ms   peak RSS {rss_mb:.0f} MB")
    return ratio <= 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--changes", type=int, default=50, help="resources changing per run (0.5%% of 10,000)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    args = parser.parse_args()
    return on_backends(args.backend, lambda url, label: bench(url, label, args.resources, args.runs, args.changes))


if __name__ == "__main__":
    sys.exit(main())
