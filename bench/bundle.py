"""Bundle benchmark: a 90-day bundle of 10,000 resources collected hourly (2,160 runs), 0.1% changing per run.

Goals (issue 7): `bundle create` for the 90 days has peak RSS < 300 MB and takes < 60 s; the zip grows with
state changes, not with runs: the same window with twice the runs and no extra changes is < 5% larger.

    .venv/bin/python bench/bundle.py                        # SQLite
    .venv/bin/python bench/bundle.py --backend postgresql   # or all
    .venv/bin/python bench/bundle.py --resources 500 --days 3 --check-chain   # small, and cross-checked

The store is seeded directly (bulk inserts of the rows `collect` would write, with run digests computed by
the bundle's own chain code) because writing 2,160 runs through the collector takes far longer than the
bundle does. `--check-chain` runs the store's `verify` on the seeded database to show the seeding is
faithful (slow at full scale). The bundle is built and verified by the real CLI in a child process, whose
peak RSS is measured on its own (os.wait4).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import controls  # noqa: F401  (registers the checks)
from collector.bundle.chainlines import ObsReplay, collected_units, run_digest
from collector.run import judge_unit
from collector.store.engine import make_engine, upgrade
from collector.store.models import Blob, EvidenceState, Run, RunUnit, VerdictState
from collector.store.writer import UnitKey, blob_bytes
from connectors.base import Evidence, agent_version, sha256_hex
from controls.base import Policy

PG_URL = os.environ.get("EVIDENCE_AGENT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
AGENT = str(Path(sys.executable).with_name("evidence-agent"))
KIND = "aws.s3.bucket.encryption"
TARGET = "bench"
UNITS = 10
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
POLICY = Policy(allowed_regions=("eu-*",))
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1")


def synthetic(index: int, version: int, when: dt.datetime, rng: random.Random) -> Evidence:
    """A bucket-encryption record with a realistic ~1 KB raw answer (as bench/store_growth.py)."""
    name = f"acme-bucket-{index:06d}"
    encrypted = version % 2 == 0
    return Evidence(
        kind=KIND,
        resource_id=f"arn:aws:s3:::{name}",
        resource_type="AWS::S3::Bucket",
        region=REGIONS[index % 3],
        observed={"encrypted": encrypted, "algorithm": "aws:kms" if encrypted else None,
                  "kms_key_id": f"arn:aws:kms:eu-west-1:123456789012:key/{uuid.UUID(int=index)}" if encrypted else None,
                  "bucket_key_enabled": encrypted, "version": version},
        source={"provider": "aws", "service": "s3", "account": "123456789012",
                "identity": "arn:aws:sts::123456789012:assumed-role/EvidenceReader/evidence-agent",
                "operations": [{"operation": op, "params": {"Bucket": name},
                                "request_id": f"{rng.getrandbits(64):016X}"}
                               for op in ("ListBuckets", "GetBucketLocation", "GetBucketEncryption")],
                "agent_version": "bench"},
        raw={"bucket": {"Name": name, "CreationDate": "2024-05-01T10:00:00Z"},
             "encryption": {"ServerSideEncryptionConfiguration": {"Rules": [
                 {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": f"key-{index}"},
                  "BucketKeyEnabled": encrypted}]}},
             "tags": [{"Key": f"team-{t}", "Value": "x" * 40} for t in range(6)]},
        collected_at=when,
    )  # fmt: skip


@dataclass
class State:
    id: int
    unit: int
    index: int
    evidence: Evidence
    state_sha: str
    blob_sha: str
    first_run: int
    first_at: dt.datetime
    ended_run: int | None = None
    ended_at: dt.datetime | None = None
    last_run: int | None = None
    last_at: dt.datetime | None = None


@dataclass
class Verdict:
    id: int
    check: str
    unit: int
    index: int
    verdict: str
    reason: str
    first_run: int
    first_at: dt.datetime
    ended_run: int | None = None
    ended_at: dt.datetime | None = None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def seed(url: str, resources: int, runs: int, changes: int, change_every: int) -> dict[str, Any]:
    """`runs` runs, every `interval`; on every `change_every`-th run, `changes` resources change."""
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    rng, content_rng = random.Random(7), random.Random(11)
    interval = dt.timedelta(hours=1) / change_every
    per_unit = resources // UNITS
    versions = [0] * resources
    states: list[State] = []
    verdicts: list[Verdict] = []
    blobs: dict[str, bytes] = {}
    current: dict[int, State] = {}
    current_verdicts: dict[tuple[str, int], Verdict] = {}
    run_rows: list[dict[str, Any]] = []
    unit_rows: list[dict[str, Any]] = []

    def observe(index: int, run_id: int, at: dt.datetime) -> None:
        unit = index // per_unit
        when = at + dt.timedelta(seconds=unit)  # the unit's collected_at
        evidence = synthetic(index, versions[index], when, content_rng)
        content = blob_bytes(evidence)
        blob_sha = sha256_hex(content)
        blobs[blob_sha] = content
        previous = current.get(index)
        if previous is not None:
            previous.ended_run, previous.ended_at = run_id, when
            previous.last_run, previous.last_at = run_id - 1, when - interval
        state = State(len(states) + 1, unit, index, evidence, evidence.state_sha(), blob_sha, run_id, when)
        states.append(state)
        current[index] = state
        key = UnitKey(TARGET, KIND, f"unit-{unit}")
        for j in judge_unit(key, [evidence], POLICY):
            was = current_verdicts.get((j.check_id, index))
            if was is not None and (was.verdict, was.reason) == (j.verdict, j.reason):
                continue
            if was is not None:
                was.ended_run, was.ended_at = run_id, when
            fresh = Verdict(len(verdicts) + 1, j.check_id, unit, index, str(j.verdict), j.reason, run_id, when)
            verdicts.append(fresh)
            current_verdicts[(j.check_id, index)] = fresh

    for number in range(1, runs + 1):
        at = T0 + interval * (number - 1)
        changed: set[int] = set()
        if number == 1:
            changed = set(range(resources))
        elif (number - 1) % change_every == 0:
            changed = set(rng.sample(range(resources), changes))
            for index in changed:
                versions[index] += 1
        per_unit_changes = [0] * UNITS
        for index in sorted(changed):
            observe(index, number, at)
            per_unit_changes[index // per_unit] += 1
        run_rows.append({"id": number, "seq": number, "status": "complete", "started_at": at,
                         "finished_at": at + dt.timedelta(seconds=60), "agent_version": agent_version(),
                         "config_digest": "bench", "catalog_digest": "bench", "targets": [TARGET], "host": "bench",
                         "pid": 1})  # fmt: skip
        for unit in range(UNITS):
            fresh = per_unit_changes[unit] if number == 1 else 0
            unit_rows.append({"run_id": number, "target": TARGET, "kind": KIND, "scope": f"unit-{unit}",
                              "status": "collected", "collected_at": at + dt.timedelta(seconds=unit),
                              "finished_at": at + dt.timedelta(seconds=unit + 1), "observed": per_unit,
                              "opened": fresh, "changed": 0 if number == 1 else per_unit_changes[unit],
                              "removed": 0})  # fmt: skip
    _digests(run_rows, unit_rows, states, verdicts)
    _insert(engine, run_rows, unit_rows, states, verdicts, blobs)
    engine.dispose()
    return {"states": len(states), "verdicts": len(verdicts), "runs": runs, "seconds": time.perf_counter() - started}


def _digests(run_rows: list[dict], unit_rows: list[dict], states: list[State], verdicts: list[Verdict]) -> None:
    """Each run's digest, as collector/store/chain.py computes it, from the simulated rows."""
    replay = ObsReplay()
    for s in sorted(states, key=lambda s: (s.evidence.resource_id, s.id)):
        replay.add(id=s.id, target=TARGET, kind=KIND, scope=f"unit-{s.unit}", resource_id=s.evidence.resource_id,
                   state=s.state_sha, blob=s.blob_sha, first_run=s.first_run, ended_run=s.ended_run)  # fmt: skip
    by_run: dict[str, dict[int, list]] = {"units": {}, "opens": {}, "ends": {}, "verdicts": {}, "verdict_ends": {}}
    for u in unit_rows:
        by_run["units"].setdefault(u["run_id"], []).append(u)
    for s in states:
        by_run["opens"].setdefault(s.first_run, []).append(s)
        if s.ended_run is not None:
            by_run["ends"].setdefault(s.ended_run, []).append(s)
    for v in verdicts:
        by_run["verdicts"].setdefault(v.first_run, []).append(v)
        if v.ended_run is not None:
            by_run["verdict_ends"].setdefault(v.ended_run, []).append(v)
    prev = "0" * 64

    def rid(index: int) -> str:
        return f"arn:aws:s3:::acme-bucket-{index:06d}"

    for run in run_rows:
        n = run["id"]
        lines: list[Any] = [{"run": n, "prev": prev, "status": run["status"], "started_at": _iso(run["started_at"]),
                             "finished_at": _iso(run["finished_at"]), "targets": run["targets"],
                             "agent_version": run["agent_version"], "config_digest": run["config_digest"],
                             "catalog_digest": run["catalog_digest"]}]  # fmt: skip
        for u in sorted(by_run["units"].get(n, []), key=lambda u: u["scope"]):
            lines.append({"unit": [TARGET, KIND, u["scope"]], "status": u["status"],
                          "collected_at": _iso(u["collected_at"]), "finished_at": _iso(u["finished_at"]),
                          "counts": [u["observed"], u["opened"], u["changed"], u["removed"]],
                          "note": None})  # fmt: skip
        for s in sorted(by_run["opens"].get(n, []), key=lambda s: (s.evidence.resource_id, s.id)):
            lines.append({"open": [TARGET, KIND, s.evidence.resource_id], "scope": f"unit-{s.unit}",
                          "state": s.state_sha, "blob": s.blob_sha, "resource_type": s.evidence.resource_type,
                          "region": s.evidence.region, "at": _iso(s.first_at)})  # fmt: skip
        tail: list[Any] = []
        for v in sorted(by_run["verdicts"].get(n, []), key=lambda v: (v.check, rid(v.index), v.id)):
            tail.append(["verdict", v.check, TARGET, rid(v.index), v.verdict, v.reason, _iso(v.first_at)])
        for v in sorted(by_run["verdict_ends"].get(n, []), key=lambda v: (v.check, rid(v.index), v.id)):
            tail.append(["verdict_end", v.check, TARGET, rid(v.index), "changed", _iso(v.ended_at)])
        for s in sorted(by_run["ends"].get(n, []), key=lambda s: (s.evidence.resource_id, s.id)):
            tail.append({"end": [TARGET, KIND, s.evidence.resource_id], "state": s.state_sha, "reason": "changed",
                         "at": _iso(s.ended_at), "last_seen": [s.last_run, _iso(s.last_at)]})  # fmt: skip
        digest = run_digest(lines + tail, replay.observed(n, collected_units(lines)))
        run["prev_digest"], run["digest"] = prev, digest
        prev = digest


def _insert(engine: sa.Engine, run_rows: list, unit_rows: list, states: list, verdicts: list, blobs: dict) -> None:
    def rid(index: int) -> str:
        return f"arn:aws:s3:::acme-bucket-{index:06d}"

    def chunks(rows: list, size: int = 5000) -> Any:
        for start in range(0, len(rows), size):
            yield rows[start : start + size]

    with engine.begin() as conn:
        for part in chunks(run_rows):
            conn.execute(sa.insert(Run), part)
        for part in chunks([{"sha256": k, "content": v, "size": len(v)} for k, v in blobs.items()], 1000):
            conn.execute(sa.insert(Blob), part)
        for part in chunks(unit_rows):
            conn.execute(sa.insert(RunUnit), part)
        rows = [{"id": s.id, "target": TARGET, "kind": KIND, "scope": f"unit-{s.unit}",
                 "resource_id": s.evidence.resource_id, "resource_type": s.evidence.resource_type,
                 "region": s.evidence.region, "state_sha": s.state_sha, "blob_sha": s.blob_sha,
                 "first_seen_run_id": s.first_run, "first_seen_at": s.first_at, "last_seen_run_id": s.last_run,
                 "last_seen_at": s.last_at, "ended_run_id": s.ended_run, "ended_at": s.ended_at,
                 "end_reason": "changed" if s.ended_run else None} for s in states]  # fmt: skip
        for part in chunks(rows):
            conn.execute(sa.insert(EvidenceState), part)
        rows = [{"id": v.id, "check_id": v.check, "target": TARGET, "kind": KIND,
                 "scope": f"unit-{v.unit}", "resource_id": rid(v.index),
                 "region": REGIONS[v.index % 3], "verdict": v.verdict, "reason": v.reason,
                 "first_seen_run_id": v.first_run, "first_seen_at": v.first_at, "ended_run_id": v.ended_run,
                 "ended_at": v.ended_at, "end_reason": "changed" if v.ended_run else None}
                for v in verdicts]  # fmt: skip
        for part in chunks(rows):
            conn.execute(sa.insert(VerdictState), part)
        if engine.dialect.name == "postgresql":
            for table in ("run", "evidence_state", "verdict_state", "run_unit"):
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT max(id) FROM {table}))"))  # fmt: skip


def _high_water_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Child:
    seconds: float  # wall clock
    cpu: float  # user + system seconds of the child itself
    peak_mb: float
    code: int
    stderr: str


def child(args: list[str], env: dict[str, str]) -> Child:
    """Run the CLI in a child process and measure it on its own.

    The peak is the child's VmHWM (its address space's high-water mark), read until it exits: ru_maxrss
    would also count this process's memory, which a forked child inherits. CPU time comes from wait4.
    """
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([AGENT, *args], env=env, stdout=subprocess.DEVNULL, stderr=err)
        peak = 0.0
        while True:
            peak = max(peak, _high_water_mb(proc.pid) or 0.0)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return Child(time.perf_counter() - started, usage.ru_utime + usage.ru_stime, peak, proc.returncode,
                     err.read().decode())  # fmt: skip


def bench(label: str, urls: tuple[str, str], args: argparse.Namespace, workdir: Path) -> bool:
    runs = args.days * 24
    to_day = (T0 + dt.timedelta(days=args.days - 1)).date().isoformat()
    period = ["--from", T0.date().isoformat(), "--to", to_day]
    sizes = []
    ok = True
    for index, (url, factor) in enumerate(zip(urls, (1, 2), strict=True)):
        seeded = seed(url, args.resources, runs * factor, args.changes, factor)
        print(f"[{label}] seeded {seeded['runs']} runs, {seeded['states']} evidence states, {seeded['verdicts']} "
              f"verdict intervals in {seeded['seconds']:.1f} s")  # fmt: skip
        if args.check_chain:
            from collector.store.chain import verify

            engine = make_engine(url)
            result = verify(engine)
            engine.dispose()
            print(f"[{label}] store verify of the seeded chain: {'ok' if result.ok else result.problems[:2]}")
            ok &= result.ok
        out = workdir / f"bundle-{label}-{factor}x.zip"
        env = {**os.environ, "EVIDENCE_AGENT_DATABASE_URL": url, "EVIDENCE_AGENT_LOG_FORMAT": "json"}
        made = child(["bundle", "create", "--framework", args.framework, *period, "--out", str(out),
                      "--format", "json"], env)  # fmt: skip
        if made.code != 0:
            print(f"[{label}] bundle create failed ({made.code}): {made.stderr.strip()}")
            return False
        size = out.stat().st_size
        sizes.append(size)
        with zipfile.ZipFile(out) as zf:
            members = len(zf.infolist())
        if index == 0:
            time_ok, rss_ok = made.seconds < 60, made.peak_mb < 300
            ok &= time_ok and rss_ok
            print(f"[{label}] {args.resources} resources, {runs} runs over {args.days} days, {args.changes} changes "
                  f"per run; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
            print(f"  bundle create      {made.seconds:7.1f} s     goal < 60 s     {'PASS' if time_ok else 'FAIL'}"
                  f"   ({made.cpu:.1f} s CPU)")  # fmt: skip
            print(f"  peak RSS           {made.peak_mb:7.1f} MB    goal < 300 MB   {'PASS' if rss_ok else 'FAIL'}")
            print(f"  zip                {size / 1e6:7.2f} MB    {members} files")
            checked = child(["bundle", "verify", str(out), "--format", "json"], env)
            outcome = "ok" if checked.code == 0 else "FAILED: " + checked.stderr
            print(f"  bundle verify      {checked.seconds:7.1f} s     ({checked.cpu:.1f} s CPU), peak RSS "
                  f"{checked.peak_mb:.1f} MB   {outcome}")  # fmt: skip
            ok &= checked.code == 0
    growth = sizes[1] / sizes[0] - 1
    print(f"  twice the runs ({runs * 2}), same changes: zip {sizes[1] / 1e6:.2f} MB, {growth * 100:+.2f}%   "
          f"goal < +5%   {'PASS' if growth < 0.05 else 'FAIL'}")  # fmt: skip
    return ok and growth < 0.05


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--changes", type=int, default=10, help="resources changing per hourly run")
    parser.add_argument("--framework", default="iso27001-2022")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="sqlite")
    parser.add_argument("--check-chain", action="store_true", help="also run the store's verify on the seeded chain")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.backend in ("sqlite", "all"):
            urls = (f"sqlite:///{workdir}/runs-1x.db", f"sqlite:///{workdir}/runs-2x.db")
            ok &= bench("sqlite", urls, args, workdir)
        if args.backend in ("postgresql", "all"):
            admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
            try:
                admin.connect().close()
            except sa.exc.OperationalError:
                print(f"[postgresql] skipped: {PG_URL} not reachable")
                return 0 if ok else 1
            names = [f"ea_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
            with admin.connect() as conn:
                for name in names:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            try:
                base = sa.engine.make_url(PG_URL)
                urls = tuple(base.set(database=n).render_as_string(hide_password=False) for n in names)
                ok &= bench("postgresql", urls, args, workdir)  # type: ignore[arg-type]
            finally:
                with admin.connect() as conn:
                    for name in names:
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
