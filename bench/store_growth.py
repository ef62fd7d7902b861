"""Store growth benchmark: N resources, R runs, C resources changing per run.

Goals (issue 2): database size after all runs <= 1.25x its size after the first run; the store
work of a run with no changes < 25% of the first run's; peak RSS < 300 MB.

    .venv/bin/python bench/store_growth.py                      # SQLite, and PostgreSQL when reachable
    .venv/bin/python bench/store_growth.py --backend sqlite --resources 2000 --runs 20

Runs 2-4 observe no change (their median is the no-change figure); every later run changes C resources. Store work
is the time spent in the store (write every unit, seal the run into the digest chain), not in
generating the synthetic evidence.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

import sqlalchemy as sa

from collector.store.engine import make_engine, upgrade
from collector.store.models import RunStatus
from collector.store.writer import UnitKey, open_run, seal_run, write_unit
from connectors.base import Evidence

PG_URL = os.environ.get("EVIDENCE_AGENT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
UNITS = 10
NO_CHANGE_RUNS = 3  # runs 2-4 observe no change; the median of the three is reported
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def synthetic(index: int, version: int, when: dt.datetime) -> Evidence:
    """A bucket-encryption-like record with a realistic ~1 KB raw answer."""
    name = f"acme-bucket-{index:06d}"
    encrypted = version % 2 == 0
    return Evidence(
        kind="aws.s3.bucket.encryption",
        resource_id=f"arn:aws:s3:::{name}",
        resource_type="AWS::S3::Bucket",
        region=("eu-west-1", "eu-central-1", "us-east-1")[index % 3],
        observed={
            "encrypted": encrypted,
            "algorithm": "aws:kms" if encrypted else None,
            "kms_key_id": f"arn:aws:kms:eu-west-1:123456789012:key/{uuid.UUID(int=index)}" if encrypted else None,
            "bucket_key_enabled": encrypted,
            "version": version,
        },
        source={
            "provider": "aws",
            "service": "s3",
            "account": "123456789012",
            "identity": "arn:aws:sts::123456789012:assumed-role/EvidenceReader/evidence-agent",
            "operations": [
                {"operation": op, "params": {"Bucket": name}, "request_id": uuid.uuid4().hex.upper()}
                for op in ("ListBuckets", "GetBucketLocation", "GetBucketEncryption")
            ],
            "agent_version": "bench",
        },
        raw={
            "bucket": {"Name": name, "CreationDate": "2024-05-01T10:00:00Z"},
            "encryption": {
                "ServerSideEncryptionConfiguration": {
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": f"key-{index}",
                            },
                            "BucketKeyEnabled": encrypted,
                        }
                    ]
                }
            },
            "tags": [{"Key": f"team-{t}", "Value": "x" * 40} for t in range(6)],
        },
        collected_at=when,
    )


def db_size(engine: sa.Engine) -> int:
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
            pages = conn.execute(sa.text("PRAGMA page_count")).scalar()
            size = conn.execute(sa.text("PRAGMA page_size")).scalar()
            return int(pages) * int(size)
        return int(
            conn.execute(
                sa.text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
                )
            ).scalar()
        )


def run_once(engine: sa.Engine, number: int, versions: list[int], per_unit: int) -> float:
    when = T0 + dt.timedelta(hours=number)
    batches = [[synthetic(i, versions[i], when) for i in range(u * per_unit, (u + 1) * per_unit)] for u in range(UNITS)]
    started = time.perf_counter()
    run_id = open_run(engine, ["bench"], "bench", when)
    for u, items in enumerate(batches):
        write_unit(engine, run_id, UnitKey("bench", "aws.s3.bucket.encryption", f"unit-{u}"), items, when, when)
    seal_run(engine, run_id, RunStatus.COMPLETE, when)
    return time.perf_counter() - started


def bench(url: str, label: str, resources: int, runs: int, changes: int) -> bool:
    engine = make_engine(url)
    upgrade(engine)
    rng = random.Random(7)
    versions = [0] * resources
    per_unit = resources // UNITS
    times = [run_once(engine, 1, versions, per_unit)]
    size_first = db_size(engine)
    for number in range(2, 2 + NO_CHANGE_RUNS):  # nothing changed
        times.append(run_once(engine, number, versions, per_unit))
    for number in range(2 + NO_CHANGE_RUNS, runs + 1):
        for i in rng.sample(range(resources), changes):
            versions[i] += 1
        times.append(run_once(engine, number, versions, per_unit))
    size_last = db_size(engine)
    engine.dispose()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size_ratio = size_last / size_first
    no_change = statistics.median(times[1 : 1 + NO_CHANGE_RUNS])
    work_ratio = no_change / times[0]
    changing = statistics.median(times[1 + NO_CHANGE_RUNS :]) if runs > 1 + NO_CHANGE_RUNS else float("nan")
    print(f"[{label}] {resources} resources, {runs} runs, {changes} changes per run")
    print(
        f"  size after run {runs} / after run 1   {size_ratio:6.3f}x   ({size_last / 1e6:.2f} MB / "
        f"{size_first / 1e6:.2f} MB)   goal <= 1.25x   {'PASS' if size_ratio <= 1.25 else 'FAIL'}"
    )
    print(
        f"  no-change run / first run store work {work_ratio:6.3f}    ({no_change:.3f} s / {times[0]:.3f} s)"
        f"   goal < 0.25   {'PASS' if work_ratio < 0.25 else 'FAIL'}"
    )
    print(f"  median changing run store work       {changing:.3f} s")
    print(
        f"  peak RSS                             {rss_mb:6.1f} MB   goal < 300 MB   "
        f"{'PASS' if rss_mb < 300 else 'FAIL'}"
    )
    return size_ratio <= 1.25 and work_ratio < 0.25 and rss_mb < 300


def on_backends(backend: str, bench_one: Callable[[str, str], bool]) -> int:
    """Run `bench_one(url, label)` on a fresh SQLite file and/or a fresh PostgreSQL database; exit code."""
    ok = True
    if backend in ("sqlite", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            ok &= bench_one(f"sqlite:///{tmp}/bench.db", "sqlite")
    if backend in ("postgresql", "all"):
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        try:
            admin.connect().close()
        except sa.exc.OperationalError:
            print(f"[postgresql] skipped: {PG_URL} not reachable")
            return 0 if ok else 1
        name = f"ea_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
            ok &= bench_one(url, "postgresql")
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    args = parser.parse_args()
    return on_backends(args.backend, lambda url, label: bench(url, label, args.resources, args.runs, args.changes))


if __name__ == "__main__":
    sys.exit(main())
