"""Kubernetes collection at cluster scale: memory stays flat because lists are chunked and streamed.

Builds a synthetic cluster (default: 2,000 namespaces, 4,000 Deployments, 20,000 pods owned by
their ReplicaSets) on top of the sandbox cluster's data, serves it from the recorded fake apiserver
in a child process (so the agent's memory is measured alone), and runs one full collection into a
fresh SQLite store with the configured chunk size.

    .venv/bin/python bench/k8s_collect.py
    .venv/bin/python bench/k8s_collect.py --namespaces 500 --pods 5000 --controllers 1000

Prints: wall time, resources observed, list requests, the largest page any list request returned,
and peak RSS. Goals (issue 5): peak RSS < 300 MB; no list request answers more than one chunk.
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from collector.config import Config
from collector.run import collect
from collector.sandbox.k8s import DATA_DIR
from collector.store.engine import make_engine, upgrade

SERVE = """
import json, sys
from collector.sandbox.k8s import fake_apiserver
with fake_apiserver(sys.argv[1]) as server:
    server.write_kubeconfig(sys.argv[2])
    print(json.dumps({"url": server.url}), flush=True)
    sys.stdin.read()  # until the bench closes our stdin
    lists = [r for r in server.requests if r["items"] is not None]
    print(json.dumps({"lists": len(lists), "max_items": max((r["items"] for r in lists), default=0),
                      "secrets": sum("secrets" in r["path"] for r in server.requests)}), flush=True)
"""


def synthesize(out: Path, namespaces: int, controllers: int, pods: int) -> None:
    shutil.copytree(DATA_DIR, out, dirs_exist_ok=True)

    def rewrite(name: str, items: list[dict]) -> None:
        doc = json.loads((out / name).read_text())
        doc["items"] = items
        (out / name).write_text(json.dumps(doc))

    ns_doc = json.loads((out / "namespaces.json").read_text())
    ns_template = next(i for i in ns_doc["items"] if i["metadata"]["name"] not in ("default", "kube-system"))
    names = [f"team-{i:04d}" for i in range(namespaces)]
    ns_items = [
        i for i in ns_doc["items"] if i["metadata"]["name"].startswith("kube-") or i["metadata"]["name"] == "default"
    ]
    for i, name in enumerate(names):
        item = copy.deepcopy(ns_template)
        item["metadata"].update(name=name, uid=f"ns-{i}")
        ns_items.append(item)
    rewrite("namespaces.json", ns_items)

    dep_template = json.loads((out / "deployments.json").read_text())["items"][0]
    deployments = []
    for i in range(controllers):
        item = copy.deepcopy(dep_template)
        item["metadata"].update(name=f"svc-{i:05d}", namespace=names[i % namespaces], uid=f"dep-{i}")
        deployments.append(item)
    rewrite("deployments.json", deployments)

    pod_doc = json.loads((out / "pods.json").read_text())
    pod_template = next(p for p in pod_doc["items"] if p["metadata"].get("ownerReferences"))
    pod_items = []
    for i in range(pods):
        owner = i % controllers
        item = copy.deepcopy(pod_template)
        item["metadata"].update(
            name=f"svc-{owner:05d}-{i:06d}",
            namespace=names[owner % namespaces],
            uid=f"pod-{i}",
            ownerReferences=[
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "controller": True,
                    "name": f"svc-{owner:05d}-7d9f",
                    "uid": f"rs-{owner}",
                }
            ],
        )
        pod_items.append(item)
    rewrite("pods.json", pod_items)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--namespaces", type=int, default=2000)
    parser.add_argument("--controllers", type=int, default=4000)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--synthesize-only", metavar="DIR", help=argparse.SUPPRESS)  # the generating child process
    args = parser.parse_args()
    if args.synthesize_only:
        synthesize(Path(args.synthesize_only), args.namespaces, args.controllers, args.pods)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "cluster"
        # Generated in a child process: the synthetic objects must not count in the agent's peak RSS.
        sizes = ["--namespaces", str(args.namespaces), "--controllers", str(args.controllers), "--pods", str(args.pods)]
        subprocess.run([sys.executable, __file__, *sizes, "--synthesize-only", str(data)], check=True)
        kubeconfig = Path(tmp) / "kubeconfig"
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(data), str(kubeconfig)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None and server.stdin is not None
        json.loads(server.stdout.readline())
        cfg = Config.model_validate(
            {
                "database_url": f"sqlite:///{tmp}/bench.db",
                "targets": [
                    {
                        "name": "bench",
                        "provider": "kubernetes",
                        "kubeconfig": str(kubeconfig),
                        "context": "sandbox",
                        "chunk_size": args.chunk_size,
                    }
                ],
            }
        )
        engine = make_engine(cfg.database_url)
        upgrade(engine)
        started = time.perf_counter()
        result = collect(cfg, engine)
        wall = time.perf_counter() - started
        server.stdin.close()
        log = json.loads(server.stdout.readline())
        server.wait(timeout=60)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    observed = sum(u.observed for u in result.units)
    print(
        f"cluster: {args.namespaces} namespaces, {args.controllers} Deployments, {args.pods} pods; "
        f"chunk size {args.chunk_size}"
    )
    print(f"run {result.status}: {len(result.units)} units, {len(result.gaps)} gaps")
    print(f"  resources observed   {observed}")
    print(f"  wall time            {wall:.1f} s")
    print(
        f"  list requests        {log['lists']}, largest page {log['max_items']} items   goal <= {args.chunk_size}   "
        f"{'PASS' if log['max_items'] <= args.chunk_size else 'FAIL'}"
    )
    print(f"  secret requests      {log['secrets']}")
    print(f"  peak RSS             {rss_mb:.1f} MB   goal < 300 MB   {'PASS' if rss_mb < 300 else 'FAIL'}")
    ok = log["max_items"] <= args.chunk_size and rss_mb < 300 and log["secrets"] == 0 and not result.gaps
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
