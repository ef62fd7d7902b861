"""The embedded sandbox: a fake AWS account served by moto on 127.0.0.1, collected through the real code path.

`evidence-agent demo` seeds a small realistic account (compliant and non-compliant resources in
several regions), collects it, remediates one setting and lets two others slip, collects again
(drift: regressions and a remediation, their webhook payloads written to WORKDIR/alerts.jsonl),
verifies the chain, writes an ISO 27001 evidence bundle (WORKDIR/bundle.zip, verified offline) and
prints a summary. Nothing leaves the machine: every client points at the loopback endpoint.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

from collector.sandbox.aws import remediate, seed_aws
from collector.sandbox.base import SANDBOX_CREDENTIALS

__all__ = ["remediate", "run_demo", "seed_aws"]

REGIONS = ("eu-west-1", "us-east-1")
TARGET = "sandbox-aws"


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port; yields its endpoint URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:  # pragma: no cover - depends on the install
        from collector.config import ConfigError

        raise ConfigError("the demo needs the sandbox extra: pip install 'evidence-agent[sandbox]'") from None
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per fake API call is noise here
    # moto tries to run the sandbox's rotation Lambda in Docker, which is not there: harmless, and noise.
    logging.getLogger("moto.awslambda").setLevel(logging.CRITICAL)
    logging.getLogger("moto.awslambda_simple").setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def sandbox_credentials() -> Iterator[None]:
    """Point the default credential chain at throwaway sandbox values, and restore it afterwards."""
    saved = {k: os.environ.get(k) for k in (*SANDBOX_CREDENTIALS, "AWS_SESSION_TOKEN", "AWS_PROFILE")}
    os.environ.update(SANDBOX_CREDENTIALS)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def write_config(workdir: Path, endpoint: str, extra_targets: list[dict[str, Any]] | None = None) -> Path:
    database = (workdir / "evidence.db").resolve()
    config = {
        "database_url": f"sqlite:///{database}",
        # The company keeps personal data in the EU: anything elsewhere fails the residency check
        # (AWS and Kubernetes name EU regions eu-*; GCP europe-*, the EU multi-region "eu", KMS's "europe").
        "policy": {"allowed_regions": ["eu-*", "europe-*", "eu", "europe"]},
        # A `file` sink writes the signed-webhook payloads it would send, one JSON line per digest.
        "alerts": {"sinks": [{"name": "demo-file", "type": "file", "path": str((workdir / "alerts.jsonl").resolve())}]},
        "targets": [
            {"name": TARGET, "provider": "aws", "regions": list(REGIONS), "endpoint_url": endpoint},
            *(extra_targets or []),
        ],
    }
    path = workdir / "evidence-agent.yaml"
    path.write_text(
        "# Written by `evidence-agent demo`; the endpoint is the sandbox's loopback port while it runs.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return path


def fresh_database(workdir: Path) -> None:
    for suffix in ("", "-wal", "-shm", ".lock"):
        (workdir / f"evidence.db{suffix}").unlink(missing_ok=True)
    (workdir / "alerts.jsonl").unlink(missing_ok=True)
    (workdir / "bundle.zip").unlink(missing_ok=True)


def evidence_summary(rows: list[dict[str, Any]]) -> Table:
    """Per kind: resources, regions, how many resources have each boolean setting on (facts, not verdicts)."""
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    table = Table("evidence kind", "resources", "regions", "resources with the setting on")
    for kind, items in sorted(by_kind.items()):
        regions = Counter(r["region"] for r in items)
        flags: Counter[str] = Counter()
        for r in items:
            flags.update(k for k, v in r["observed"].items() if v is True)
        keys = [k for k, v in items[0]["observed"].items() if isinstance(v, bool)]
        table.add_row(
            kind,
            str(len(items)),
            ", ".join(f"{region} {n}" for region, n in sorted(regions.items())),
            ", ".join(f"{k} {flags[k]}/{len(items)}" for k in keys),
        )
    return table


def control_summary(engine: Any, catalog: Any) -> Table:
    """Per framework: how many controls are in each status now."""
    from collector.compliance import control_statuses

    statuses = ("compliant", "non_compliant", "not_collected", "not_applicable", "manual")
    table = Table("framework", "controls", *statuses)
    for framework in catalog.frameworks.values():
        counts = Counter(s.status for s in control_statuses(engine, catalog, framework.id))
        table.add_row(framework.id, str(len(framework.controls)), *(str(counts[s]) for s in statuses))
    return table


@contextlib.contextmanager
def extra_sandboxes() -> Iterator[dict[str, list[Any]]]:
    """The recorded GCP organization, when its connector is installed."""
    try:
        from collector.sandbox.gcp import fake_gcp
    except ImportError:
        yield {"targets": [], "notes": []}
        return
    with fake_gcp() as gcp:
        yield {"targets": [gcp_target(gcp)], "notes": [f"sandbox: recorded GCP APIs on {gcp.endpoint}"]}


def gcp_target(gcp: Any) -> dict[str, Any]:
    from collector.sandbox.gcp import ORGANIZATION_ID

    return {"name": "sandbox-gcp", "provider": "gcp", "endpoint": gcp.endpoint, "organization_id": ORGANIZATION_ID}


def demo_bundle(engine: Any, cfg: Any, workdir: Path) -> str:
    """An ISO 27001 evidence bundle of today, verified offline: what an auditor would be handed."""
    import datetime as dt

    from collector.bundle.create import BundleRequest, create_bundle
    from collector.bundle.scope import parse_period
    from collector.bundle.verify import verify_bundle

    today = dt.datetime.now(dt.UTC).date().isoformat()
    out = workdir / "bundle.zip"
    request = BundleRequest("iso27001-2022", parse_period(today, today), out)
    result = create_bundle(engine, cfg.catalog(), request)
    report = verify_bundle(out, None)
    return (f"bundle: {out} ({result.size:,} bytes, ISO 27001 evidence of {today}); "
            f"bundle verify: {'ok' if report.ok else 'FAILED'}")  # fmt: skip


def run_demo(workdir: Path, fmt: str, console: Console) -> int:
    from collector.cli import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, Format, run_collection
    from collector.config import load_config
    from collector.sandbox.k8s import fake_apiserver
    from collector.store.chain import verify
    from collector.store.engine import make_engine
    from collector.store.query import EvidenceFilter, evidence

    workdir.mkdir(parents=True, exist_ok=True)
    fresh_database(workdir)
    with moto_server() as endpoint, sandbox_credentials(), fake_apiserver() as cluster, extra_sandboxes() as extra:
        console.print(f"sandbox: fake AWS account on {endpoint} (moto), regions {', '.join(REGIONS)}")
        console.print(f"sandbox: recorded Kubernetes cluster API on {cluster.url}")
        kubeconfig = cluster.write_kubeconfig((workdir / "kubeconfig").resolve())
        k8s_target = {"name": "sandbox-k8s", "provider": "kubernetes", "kubeconfig": str(kubeconfig),
                      "context": "sandbox", "cluster": "chat-prod-eu"}  # fmt: skip
        for line in extra["notes"]:
            console.print(line)
        seed_aws(endpoint)
        config_path = write_config(workdir, endpoint, [k8s_target, *extra["targets"]])
        cfg = load_config(config_path)
        codes = [run_collection(cfg, None, Format(fmt))]
        for change in remediate(endpoint):
            console.print(f"sandbox: {change}")
        codes.append(run_collection(cfg, None, Format(fmt)))
    engine = make_engine(cfg.database_url)
    rows = list(evidence(engine, EvidenceFilter()))
    result = verify(engine)
    bundle_line = demo_bundle(engine, cfg, workdir)
    console.print(evidence_summary(rows))
    console.print(control_summary(engine, cfg.catalog()))
    console.print(
        f"verify: {'ok' if result.ok else 'FAILED'} ({result.runs_checked} runs in the chain)\n"
        f"{bundle_line}\n"
        f"database: {workdir / 'evidence.db'}   config: {config_path}   alerts: {workdir / 'alerts.jsonl'}\n"
        f"try: evidence-agent controls -c {config_path} --framework gdpr   "
        f"evidence-agent controls show 8.24 -c {config_path}   evidence-agent findings -c {config_path} --status fail"
        f"   evidence-agent drift -c {config_path} --type regressed,remediated"
        f"   evidence-agent diff 1 2 -c {config_path}"
    )
    if any(code == EXIT_PARTIAL for code in codes):
        console.print(
            "note: the sandbox cannot show every setting (moto's credential report has no root-account row), "
            "so those units are recorded as gaps, never as passes: that is the agent working as designed."
        )
    # The demo succeeds when every run finished (complete, or partial through the sandbox's known gaps)
    # and the chain verifies.
    return EXIT_OK if result.ok and all(code in (EXIT_OK, EXIT_PARTIAL) for code in codes) else EXIT_FAILED
