"""AWS collection at account scale, with a simulated round trip on every API call.

Seeds a moto server (a separate process, so the agent's memory is measured alone) at scale S:
per unit of S, 20 buckets, 10 IAM users, 5 KMS keys, 10 EBS volumes, 4 security groups and 2 RDS
instances, spread over 3 regions (S=10: 200 buckets, 100 users, 50 keys, 100 volumes, 40 groups,
20 instances). Every API call then waits `--latency-ms` before moto answers (a botocore hook,
inside the agent's per-target call limit, as a real round trip would be), and one full collection
runs into a fresh SQLite store.

    .venv/bin/python bench/aws_collect.py --scale 10
    .venv/bin/python bench/aws_collect.py --scale 50

Prints: API calls, resources, calls per resource, calls per service, wall time, efficiency =
(calls x latency / concurrency) / wall time (1.0 = the collection kept `concurrency` calls in
flight the whole time, each lasting just the simulated latency), slots in use (the measured mean
number of calls in flight / concurrency: moto's own service time, which grows under load since
the fake server is one Python process, lengthens each call but not the agent's use of its
slots), and peak RSS. Goals (issue 3): efficiency >= 0.6 at concurrency 16;
peak RSS < 300 MB at S=50.
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import boto3

from collector.config import Config
from collector.run import collect
from collector.store.engine import make_engine, upgrade
from connectors.aws import AwsClients

REGIONS = ("eu-west-1", "eu-central-1", "us-east-1")
CREDS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).read()
            return proc, endpoint
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("moto_server did not start")


def client(service: str, endpoint: str, region: str):  # type: ignore[no-untyped-def]
    return boto3.client(service, region_name=region, endpoint_url=endpoint, **CREDS)


def seed(endpoint: str, scale: int) -> dict[str, int]:
    counts: collections.Counter[str] = collections.Counter()
    for i in range(20 * scale):
        region = REGIONS[i % 3]
        s3 = client("s3", endpoint, region)
        name = f"bench-bucket-{i:05d}"
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        if i % 2:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        counts["buckets"] += 1
    iam = client("iam", endpoint, "us-east-1")
    for i in range(10 * scale):
        iam.create_user(UserName=f"bench-user-{i:05d}")
        counts["users"] += 1
    for i in range(5 * scale):
        kms = client("kms", endpoint, REGIONS[i % 3])
        key = kms.create_key(Description=f"bench key {i}")["KeyMetadata"]
        if i % 2:
            kms.enable_key_rotation(KeyId=key["KeyId"])
        counts["kms keys"] += 1
    for i in range(10 * scale):
        region = REGIONS[i % 3]
        client("ec2", endpoint, region).create_volume(AvailabilityZone=f"{region}a", Size=8, Encrypted=bool(i % 2))
        counts["volumes"] += 1
    for i in range(4 * scale):
        ec2 = client("ec2", endpoint, REGIONS[i % 3])
        group = ec2.create_security_group(GroupName=f"bench-sg-{i}", Description="bench")["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        )
        counts["security groups"] += 1
    for i in range(2 * scale):
        client("rds", endpoint, REGIONS[i % 3]).create_db_instance(
            DBInstanceIdentifier=f"bench-db-{i}",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="bench",
            MasterUserPassword="bench-password-1",
            AllocatedStorage=20,
            StorageEncrypted=bool(i % 2),
        )
        counts["db instances"] += 1
    return dict(counts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--verbose", action="store_true", help="show the slowest units")
    parser.add_argument("--seed-only", metavar="ENDPOINT", help=argparse.SUPPRESS)  # the seeding child process
    args = parser.parse_args()
    if args.seed_only:
        print(seed(args.seed_only, args.scale))
        return 0
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    os.environ.pop("AWS_PROFILE", None)
    moto, endpoint = start_moto()
    try:
        started = time.perf_counter()
        # Seed from a child process: its clients and buffers must not count in the agent's peak RSS.
        seeded = subprocess.run(
            [sys.executable, __file__, "--scale", str(args.scale), "--seed-only", endpoint],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        print(f"seeded scale {args.scale} in {time.perf_counter() - started:.1f} s: {seeded}")
        return run(endpoint, args)
    finally:
        moto.kill()
        moto.wait()


def run(endpoint: str, args: argparse.Namespace) -> int:
    latency = args.latency_ms / 1000
    calls: collections.Counter[str] = collections.Counter()
    lock = threading.Lock()
    session = boto3.Session(region_name="us-east-1", **CREDS)

    times: list[float] = []
    timeline: list[tuple[float, str]] = []

    def count(model, **_):  # type: ignore[no-untyped-def]
        with lock:
            calls[model.service_model.service_id.hyphenize()] += 1
            times.append(time.perf_counter())
            timeline.append((time.perf_counter(), f"{model.service_model.service_id.hyphenize()}.{model.name}"))

    session.events.register("before-call", count)
    # Calls in flight over time (the limiter's own events): how full the `concurrency` slots were kept.
    flight = {"n": 0, "area": 0.0, "last": None, "first": None}

    def in_flight(delta: int) -> None:
        with lock:
            now = time.perf_counter()
            if flight["last"] is not None:
                flight["area"] += flight["n"] * (now - flight["last"])
            flight["first"] = flight["first"] or now
            flight["last"], flight["n"] = now, flight["n"] + delta

    session.events.register("before-call", lambda **_: in_flight(+1))
    session.events.register("after-call", lambda **_: in_flight(-1))
    session.events.register("after-call-error", lambda **_: in_flight(-1))
    session.events.register("before-send", lambda **_: time.sleep(latency))
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config.model_validate(
            {
                "database_url": f"sqlite:///{tmp}/bench.db",
                "concurrency": args.concurrency,
                "targets": [
                    {
                        "name": "bench",
                        "provider": "aws",
                        "regions": list(REGIONS),
                        "endpoint_url": endpoint,
                        "concurrency": args.concurrency,
                    }
                ],
            }
        )
        engine = make_engine(cfg.database_url)
        upgrade(engine)
        started, cpu_started = time.perf_counter(), time.process_time()
        result = collect(cfg, engine, open_target=lambda t: AwsClients(t.connector_target(), session=session))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        observed = sum(u.observed for u in result.units)
    total = sum(calls.values())
    if args.verbose:
        per_half_second = collections.Counter(int((t - started) * 2) for t in times)
        print("  calls started per 0.5 s: " + " ".join(str(per_half_second[i]) for i in range(int(wall * 2) + 1)))
        for half in range(8):
            window = collections.Counter(op for t, op in timeline if int((t - started) * 2) == half)
            print(f"    {half / 2:.1f}s: {dict(window.most_common(4))}")
        run_start = min(u.collected_at for u in result.units)
        for u in sorted(result.units, key=lambda u: u.finished_at - u.collected_at, reverse=True)[:10]:
            begin = (u.collected_at - run_start).total_seconds()
            end = (u.finished_at - run_start).total_seconds()
            print(f"  unit {u.kind} {u.scope}: {begin:.2f} s -> {end:.2f} s ({u.observed} resources)")
    efficiency = (total * latency / args.concurrency) / wall
    utilization = flight["area"] / ((flight["last"] - flight["first"]) * args.concurrency) if flight["last"] else 0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"run {result.status}: {len(result.units)} units, {len(result.gaps)} gaps "
        f"({sorted({g.kind for g, _ in result.gaps})})"
    )
    print(f"  API calls            {total}   ({', '.join(f'{s} {n}' for s, n in calls.most_common())})")
    print(f"  resources observed   {observed}   (evidence records, one per resource and setting family)")
    print(f"  calls per resource   {total / max(observed, 1):.2f}")
    print(f"  agent CPU time       {cpu:.1f} s ({1000 * cpu / max(total, 1):.1f} ms per call)")
    print(f"  wall time            {wall:.1f} s at concurrency {args.concurrency}, {args.latency_ms:.0f} ms per call")
    print(f"  efficiency           {efficiency:.2f}   goal >= 0.6   {'PASS' if efficiency >= 0.6 else 'FAIL'}")
    print(
        f"  slots in use         {utilization:.2f}   (mean calls in flight / concurrency, while calls were made;"
        " the moto server's own time per call is inside each slot)"
    )
    print(f"  peak RSS             {rss_mb:.1f} MB   goal < 300 MB   {'PASS' if rss_mb < 300 else 'FAIL'}")
    return 0 if efficiency >= 0.6 and rss_mb < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
