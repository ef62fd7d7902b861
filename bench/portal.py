"""Portal benchmark: the control page and the evidence page over N resources and D days of daily runs.

Goal (the portal): with 10,000 resources and 90 days of runs, the control page and the evidence page each
answer 200 requests with p95 < 200 ms (httpx against a local server, sequential), measured on this machine.

    .venv/bin/python bench/portal.py                                  # SQLite, and PostgreSQL when reachable
    .venv/bin/python bench/portal.py --backend sqlite --resources 2000 --days 30 --requests 50

The store is written by the collector's own path, one daily run after another, ending yesterday (so the
default view, now and the last 30 days, covers them): `write_unit` with the verdicts of the registered checks
(`judge_unit`; residency allows eu-* only, so the us-east-1 third of the buckets fails it), `seal_run`, and the
run's drift (`compute_run`). 1% of the buckets start unencrypted; every later run flips the encryption of
`changes` buckets (`hot` of them the same buckets every day, for long histories), so the encryption check's
verdicts change every day: failing resources, a moving timeline and drift events.

The portal is the real app (`create_app`, engineer token) served by uvicorn on 127.0.0.1 in a thread of this
process (the build's objects collected first); one httpx client sends the requests one after another, after a
warm-up. Control page: ISO 27001 8.24 (where `aws.s3.bucket.encryption_enabled` is primary), every other
request at the default moment (now), the rest `?at=` days spread over the runs. Evidence page: ids spread
evenly over the evidence_state table (first states, changed ones and the hot buckets' histories). Times are
the client's (request sent to body received); the CPU time per request is this process's (server, client and,
on SQLite, the database), a figure a loaded machine does not inflate. On PostgreSQL the store is ANALYZEd
after the build, as autovacuum would have done on a live server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import math
import os
import random
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_growth import db_size, on_backends, synthetic

import controls  # noqa: F401  (registers the checks)
from collector.config import PortalToken
from collector.drift import compute_run
from collector.portal.app import create_app
from collector.portal.auth import TokenBook, hash_token, new_token
from collector.run import judge_unit
from collector.store.engine import make_engine, upgrade
from collector.store.models import DriftEvent, EvidenceState, RunStatus, VerdictState
from collector.store.writer import Judgement, UnitKey, open_run, seal_run, write_unit
from connectors.base import Evidence
from controls.base import Policy
from controls.catalog import Catalog, load_catalog

KIND = "aws.s3.bucket.encryption"
TARGET = "bench"
UNITS = 10
POLICY = Policy(allowed_regions=("eu-*",))
FRAMEWORK, CONTROL = "iso27001-2022", "8.24"
GOAL_MS = 200.0
WARMUP = 5


class Account:
    """The synthetic account (as bench/prune.py): unchanged buckets reuse their Evidence and verdicts."""

    def __init__(self, resources: int, when: dt.datetime):
        self.versions = [1 if i % 100 == 0 else 0 for i in range(resources)]  # 1% unencrypted from the start
        self.items: list[Evidence] = []
        self.judged: list[list[Judgement]] = []
        for i in range(resources):
            self.items.append(synthetic(i, self.versions[i], when))
            self.judged.append(self._judge(i))

    def _judge(self, index: int) -> list[Judgement]:
        return judge_unit(UnitKey(TARGET, KIND, self._scope(index)), [self.items[index]], POLICY)

    def _scope(self, index: int) -> str:
        return f"unit-{index * UNITS // len(self.items)}"

    def change(self, index: int, when: dt.datetime) -> None:
        self.versions[index] += 1
        self.items[index] = synthetic(index, self.versions[index], when)
        self.judged[index] = self._judge(index)

    def run(self, engine: sa.Engine, catalog: Catalog, when: dt.datetime) -> None:
        per_unit = len(self.items) // UNITS
        run_id = open_run(engine, [TARGET], "bench", when)
        for u in range(UNITS):
            part = slice(u * per_unit, (u + 1) * per_unit)
            judgements = [j for judged in self.judged[part] for j in judged]
            write_unit(engine, run_id, UnitKey(TARGET, KIND, f"unit-{u}"), self.items[part], when,
                       when + dt.timedelta(seconds=1), judgements)  # fmt: skip
        sealed = when + dt.timedelta(minutes=5)
        seal_run(engine, run_id, RunStatus.COMPLETE, sealed)
        compute_run(engine, run_id, catalog, 2, sealed)


def build(engine: sa.Engine, catalog: Catalog, resources: int, days: int, changes: int, hot: int) -> dt.datetime:
    """`days` daily runs at 02:00 UTC, the last one yesterday; the first run's time."""
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first = today - dt.timedelta(days=days) + dt.timedelta(hours=2)
    rng = random.Random(3)
    account = Account(resources, first)
    hot_ones = list(range(1, resources, max(1, resources // max(hot, 1))))[:hot]
    hot_set = set(hot_ones)
    others = [i for i in range(resources) if i not in hot_set]
    for n in range(days):
        when = first + dt.timedelta(days=n)
        if n:
            for i in hot_ones + rng.sample(others, max(0, changes - len(hot_ones))):
                account.change(i, when)
        account.run(engine, catalog, when)
    return first


class Server:
    """The real app, served by uvicorn on a socket of 127.0.0.1 bound here (port 0), in a thread."""

    def __init__(self, engine: sa.Engine, catalog: Catalog, token: str):
        tokens = TokenBook([PortalToken(name="bench", sha256=hash_token(token), role="engineer")])
        app = create_app(engine, catalog, tokens)
        # IPPROTO_TCP named, as getaddrinfo does for `uvicorn.run(host=, port=)`: asyncio sets TCP_NODELAY on the
        # connections only when the socket says so, and without it every answer waits ~40 ms for a delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


def timed(client: httpx.Client, paths: list[str]) -> list[float]:
    """Milliseconds per request, in order; every answer must be a 200."""
    out = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        out.append(elapsed)
    return out


def p95(times: list[float]) -> float:
    """Nearest rank: the value 95% of the requests did not exceed."""
    ordered = sorted(times)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def bench(url: str, label: str, args: argparse.Namespace) -> bool:
    engine = make_engine(url)
    upgrade(engine)
    catalog = load_catalog()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    first = build(engine, catalog, args.resources, args.days, args.changes, args.hot)
    built = time.perf_counter() - started
    if engine.dialect.name == "postgresql":  # what autovacuum does on a live server (this one may run without it)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))
    gc.collect()  # the build's objects are garbage now: collected here, not during a request
    size = db_size(engine)
    with engine.connect() as conn:
        states, max_id = conn.execute(sa.select(sa.func.count(), sa.func.max(EvidenceState.id))).one()
        verdicts = conn.execute(sa.select(sa.func.count()).select_from(VerdictState)).scalar_one()
        events = conn.execute(sa.select(sa.func.count()).select_from(DriftEvent)).scalar_one()
    print(f"[{label}] {args.resources} resources, {args.days} daily runs, {args.changes} changes per run "
          f"({args.hot} hot): built in {built:.0f} s, load average {load_before:.1f} before the build")  # fmt: skip
    print(f"  store {size / 1e6:.1f} MB: {states} evidence states, {verdicts} verdict intervals, {events} drift events")

    n = args.requests
    days = [(first + dt.timedelta(days=d)).date().isoformat() for d in range(args.days)]
    control = f"/frameworks/{FRAMEWORK}/controls/{CONTROL}"
    control_paths = [control if k % 2 == 0 else f"{control}?at={days[(k * 37) % len(days)]}" for k in range(n)]
    ids = [1 + round(k * (max_id - 1) / max(n - 1, 1)) for k in range(n)]
    evidence_paths = [f"/evidence/{i}" for i in ids]
    ok = True
    token = new_token()
    with (
        Server(engine, catalog, token) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client,
    ):
        shown = client.get(f"/api{control}").json()
        print(f"  {FRAMEWORK} {CONTROL} now: {shown['control']['status']}, {shown['failing_total']} failing "
              f"({len(shown['failing'])} shown), {shown['drift_total']} drift events in the window, "
              f"{shown['control']['resources']} verdicts")  # fmt: skip
        timed(client, control_paths[:WARMUP] + evidence_paths[:WARMUP])
        load = os.getloadavg()[0]
        for name, paths in (("control page", control_paths), ("evidence page", evidence_paths)):
            cpu = time.process_time()
            times = timed(client, paths)
            cpu = (time.process_time() - cpu) * 1000 / len(paths)
            worst = p95(times)
            ok &= worst < GOAL_MS
            print(f"  {name:14} {len(times)} requests   p50 {statistics.median(times):6.1f} ms   p95 {worst:6.1f} ms"
                  f"   max {max(times):6.1f} ms   goal p95 < {GOAL_MS:.0f} ms   {'PASS' if worst < GOAL_MS else 'FAIL'}"
                  f"   ({cpu:.1f} ms CPU per request in this process)")  # fmt: skip
    after = os.getloadavg()[0]
    print(f"  load average {load:.1f} when the requests started, {after:.1f} after ({os.cpu_count()} cores)")
    engine.dispose()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90, help="daily runs, the last one yesterday")
    parser.add_argument("--changes", type=int, default=50, help="resources changing per run (0.5%% of 10,000)")
    parser.add_argument("--hot", type=int, default=5, help="of those, buckets that change in every run")
    parser.add_argument("--requests", type=int, default=200, help="per page")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    args = parser.parse_args()
    return on_backends(args.backend, lambda url, label: bench(url, label, args))


if __name__ == "__main__":
    sys.exit(main())
