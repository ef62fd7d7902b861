"""The command line: read commands' JSON shapes (documented in docs/cli.md), schema, and the demo end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel
from typer.testing import CliRunner

from collector.cli import app
from collector.run import collect
from collector.store.engine import current_revision, head_revision, make_engine
from collector.store.query import EvidenceFilter, evidence
from ea_testkit.aws import aws_config

AGENT = str(Path(sys.executable).with_name("evidence-agent"))
runner = CliRunner()


def invoke_json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def collected(engine, db_url, sandbox_endpoint, monkeypatch):
    kinds = ["aws.s3.bucket.encryption", "aws.s3.bucket.public_access_block", "aws.iam.account.password_policy"]
    collect(aws_config(sandbox_endpoint, db_url, kinds=kinds), engine)
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    return engine


def test_kinds_json_lists_kinds_with_permissions():
    kinds = {k["name"]: k for k in invoke_json("kinds")["kinds"]}
    assert kinds["aws.s3.bucket.encryption"] == {
        "name": "aws.s3.bucket.encryption",
        "provider": "aws",
        "regional": False,
        "permissions": ["s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetEncryptionConfiguration"],
        "description": "Default server-side encryption of every S3 bucket.",
    }
    gcp = invoke_json("kinds", "--provider", "gcp")["kinds"]
    assert gcp and all(k["provider"] == "gcp" and k["permissions"] for k in gcp)
    assert invoke_json("kinds", "--provider", "azure") == {"kinds": []}


def test_runs_json_shape(collected):
    (run,) = invoke_json("runs")["runs"]
    assert set(run) == {"id", "seq", "status", "started_at", "finished_at", "targets", "agent_version",
                        "config_digest", "digest", "prev_digest", "counts"}  # fmt: skip
    assert run["status"] == "complete" and run["targets"] == ["prod"] and run["seq"] == 1
    buckets = len(list(evidence(collected, EvidenceFilter(kind="aws.s3.bucket.encryption"))))
    assert run["counts"] == {"units": 3, "collected": 3, "gaps": 0, "skipped": 0, "observed": 2 * buckets + 1,
                             "new": 2 * buckets + 1, "changed": 0, "removed": 0}  # fmt: skip
    assert run["started_at"].endswith("Z") and len(run["digest"]) == 64


def test_evidence_json_shape_and_filters(collected):
    doc = invoke_json("evidence", "--kind", "aws.s3.bucket.encryption", "--resource", "arn:aws:s3:::acme-web-assets")
    (item,) = doc["evidence"]
    assert doc["at"] is None
    assert set(item) == {"target", "kind", "resource_id", "resource_type", "region", "state_sha256", "blob_sha256",
                         "first_seen", "last_seen", "observed", "source", "raw"}  # fmt: skip
    assert item["region"] == "eu-central-1" and item["observed"]["algorithm"] == "AES256"
    assert item["first_seen"]["run"] == item["last_seen"]["run"] == 1
    assert invoke_json("evidence", "--target", "nope")["evidence"] == []
    past = invoke_json("evidence", "--at", "2000-01-01T00:00:00Z")
    assert past == {"at": "2000-01-01T00:00:00Z", "evidence": []}


def test_table_output_shows_runs(collected):
    result = runner.invoke(app, ["runs"])
    assert result.exit_code == 0 and "complete" in result.stdout


def test_db_upgrade_creates_a_schema_equal_to_the_models(db_url, monkeypatch):
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
    assert diff == [], "models and migrations disagree: add a migration"
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0


def test_read_commands_refuse_an_unmigrated_database(tmp_path, monkeypatch):
    db = tmp_path / "empty.db"
    sa.create_engine(f"sqlite:///{db}").connect().close()
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", f"sqlite:///{db}")
    result = runner.invoke(app, ["runs"])
    assert "has no evidence-agent schema" in str(result.exception)


def test_demo_end_to_end(tmp_path):
    """`make demo` runs this command: moto on loopback, two real collections, a verified chain."""
    proc = subprocess.run([AGENT, "demo", "--workdir", str(tmp_path / "demo")], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    first = re.search(r"run 1 (\w+): (\d+)/(\d+) units collected, (\d+) resources observed \((\d+) new", proc.stdout)
    second = re.search(r"run 2 (\w+): .* \(0 new, 3 changed, 0 removed\)", proc.stdout)
    assert first and second, proc.stdout
    assert first.group(1) in ("complete", "partial") and int(first.group(4)) == int(first.group(5)) > 0
    assert "verify: ok (2 runs in the chain)" in proc.stdout
    assert "drift: 2 regressed, 1 remediated" in proc.stdout
    assert re.search(r"bundle: .*bundle\.zip .*; bundle verify: ok", proc.stdout), proc.stdout
    assert (tmp_path / "demo" / "bundle.zip").stat().st_size > 0
    assert (tmp_path / "demo" / "evidence.db").exists()
    digests = [json.loads(line) for line in (tmp_path / "demo" / "alerts.jsonl").read_text().splitlines()]
    assert len(digests) == 2, "one webhook payload per run"
    second_run = digests[1]["body"]
    assert second_run["counts"] == {"regressed": 2, "remediated": 1} and second_run["runs"] == [2]
    assert {e["resource_id"] for e in second_run["events"] if e["type"] == "remediated"} == {
        "arn:aws:s3:::acme-legacy-exports"
    }
    runs = subprocess.run([AGENT, "runs", "-c", str(tmp_path / "demo" / "evidence-agent.yaml"), "--format", "json"],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    statuses = [r["status"] for r in json.loads(runs.stdout)["runs"]]
    assert len(statuses) == 2 and set(statuses) <= {"complete", "partial"}
    config = str(tmp_path / "demo" / "evidence-agent.yaml")
    shown = subprocess.run([AGENT, "evidence", "-c", config, "--format", "json"], capture_output=True, text=True,
                           timeout=60)  # fmt: skip
    providers = {row["kind"].split(".")[0] for row in json.loads(shown.stdout)["evidence"]}
    assert providers == {"aws", "gcp", "k8s"}, "the demo shows AWS, GCP and Kubernetes evidence together"
