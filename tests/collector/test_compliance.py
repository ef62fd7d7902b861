"""Control status over time, findings, residency and attachments, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa
from typer.testing import CliRunner

from collector.attachments import attach
from collector.cli import app
from collector.compliance import control_statuses, findings
from collector.config import Config
from collector.run import collect
from collector.store.chain import verify
from collector.store.models import Blob, RunStatus
from collector.store.writer import Judgement, open_run, seal_run, write_gap, write_unit
from connectors.base import CollectionError, GapReason
from controls.catalog import Catalog, Control, Framework, Link, Strength, load_catalog
from ea_testkit.aws import MOTO_BLIND
from ea_testkit.store import UNIT, at, bucket_evidence

CHECK = "aws.s3.bucket.encryption_enabled"
TEST_CATALOG = Catalog(
    frameworks={"test": Framework("test", "Test framework", "1", [
        Control("T.1", "Data at rest is encrypted", "technological"),
        Control("T.2", "A policy is approved by management", "organizational"),
    ], [Link(CHECK, "T.1", Strength.PRIMARY, "Default bucket encryption encrypts data at rest.")])},
    unmapped={},
    digest="test",
)  # fmt: skip


def run(engine, hour: int, verdict: str | None) -> int:
    """One run of the S3 encryption unit: a verdict on one bucket, or (None) a gap."""
    when = at(hour)
    run_id = open_run(engine, [UNIT.target], "cfg", when)
    if verdict is None:
        write_gap(engine, run_id, UNIT, CollectionError(GapReason.DENIED, "AccessDenied"), when, when)
    else:
        judgement = Judgement(CHECK, "arn:aws:s3:::media", "eu-west-1", verdict, f"{verdict} reason")
        write_unit(engine, run_id, UNIT, [bucket_evidence("media", when, encrypted=verdict == "pass")], when, when,
                   [judgement])  # fmt: skip
    seal_run(engine, run_id, RunStatus.COMPLETE if verdict else RunStatus.FAILED, when)
    return run_id


def status(engine, moment=None) -> dict[str, str]:
    return {s.id: s.status for s in control_statuses(engine, TEST_CATALOG, "test", moment)}


def test_gap_never_makes_a_control_compliant_and_unmapped_is_manual(engine):
    run(engine, 1, "pass")
    assert status(engine) == {"T.1": "compliant", "T.2": "manual"}
    run(engine, 2, None)
    assert status(engine)["T.1"] == "not_collected", "a unit with a gap must never read as compliant"
    run(engine, 3, "fail")
    assert status(engine)["T.1"] == "non_compliant"
    assert status(engine, at(1.5)) == {"T.1": "compliant", "T.2": "manual"}, "status as it stood at the time"
    assert status(engine, at(2.5))["T.1"] == "not_collected"
    assert verify(engine).ok


def test_nothing_collected_is_not_collected_not_compliant(engine):
    run_id = open_run(engine, ["prod"], "cfg", at(1))
    seal_run(engine, run_id, RunStatus.COMPLETE, at(1))
    assert status(engine)["T.1"] == "not_collected"


def test_verdict_intervals_move_like_evidence(engine):
    run(engine, 1, "pass")
    run(engine, 2, "pass")
    run(engine, 3, "fail")
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT verdict, first_seen_run_id, ended_run_id, end_reason FROM verdict_state "
                                    "ORDER BY id")).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("pass", 1, 3, "changed"), ("fail", 3, None, None)]


def test_residency_failures_name_the_region(engine, sandbox_endpoint):
    cfg = Config.model_validate({
        "database_url": str(engine.url),
        "policy": {"allowed_regions": ["eu-*"]},
        "targets": [{"name": "prod", "provider": "aws", "regions": ["eu-west-1", "us-east-1"],
                     "endpoint_url": sandbox_endpoint, "exclude_kinds": MOTO_BLIND}],
    })  # fmt: skip
    collect(cfg, engine)
    rows = findings(engine, load_catalog(), check="aws.residency.resource.in_allowed_regions")
    failed = [r for r in rows if r["verdict"] == "fail"]
    assert failed and all(r["region"] == "us-east-1" and "region us-east-1 is outside" in r["reason"] for r in failed)
    assert any(r["verdict"] == "pass" and r["region"].startswith("eu-") for r in rows)
    gdpr = {s.id: s for s in control_statuses(engine, load_catalog(), "gdpr")}
    assert gdpr["Art.44"].status == "non_compliant"


def test_attachment_covers_a_manual_control_and_tampering_breaks_verify(engine, tmp_path):
    policy = tmp_path / "infosec-policy.pdf"
    policy.write_bytes(b"%PDF-1.7 information security policy, approved 2026-01-15")
    record = attach(engine, TEST_CATALOG, "test", "T.2", policy, note="board approval", effective=dt.date(2026, 1, 15))
    statuses = {s.id: s for s in control_statuses(engine, TEST_CATALOG, "test")}
    assert statuses["T.2"].status == "manual" and statuses["T.2"].attachments == 1
    assert verify(engine).ok
    with engine.begin() as conn:
        conn.execute(sa.update(Blob).where(Blob.sha256 == record.blob_sha).values(content=b"%PDF forged"))
    result = verify(engine)
    assert not result.ok
    assert any(p.run_id == record.run_id and "infosec-policy.pdf" in p.message for p in result.problems)


def test_controls_json_lists_every_catalog_control(collected_db):
    for framework, count in (("iso27001-2022", 93), ("soc2-2017", 61)):
        result = CliRunner().invoke(app, ["controls", "--framework", framework, "--format", "json"])
        assert result.exit_code == 0, result.output
        controls = json.loads(result.stdout)["controls"]
        ids = [c["id"] for c in controls]
        assert len(ids) == count == len(set(ids))
        assert all(c["title"] and c["group"] for c in controls)
        assert {c["status"] for c in controls} <= {"compliant", "non_compliant", "not_collected", "not_applicable",
                                                    "manual"}  # fmt: skip
    iso = {c["id"]: c for c in json.loads(CliRunner().invoke(
        app, ["controls", "--framework", "iso27001-2022", "--format", "json"]).stdout)["controls"]}  # fmt: skip
    assert [iso[f"8.{n}"]["group"] for n in (1, 34)] == ["technological"] * 2 and iso["6.3"]["group"] == "people"
    assert iso["6.3"]["status"] == "manual"


def test_cli_controls_show_findings_attach_coverage(collected_db, tmp_path):
    runner = CliRunner()
    shown = json.loads(runner.invoke(app, ["controls", "show", "8.24", "--format", "json"]).stdout)
    assert shown["id"] == "8.24" and shown["checks"] and all("rationale" in c for c in shown["checks"])
    fails = json.loads(runner.invoke(app, ["findings", "--status", "fail", "--format", "json"]).stdout)["findings"]
    assert fails and all(f["verdict"] == "fail" and f["reason"] for f in fails)
    doc = tmp_path / "training.csv"
    doc.write_text("name,completed\nalice,2026-02-01\n")
    attached = runner.invoke(app, ["attach", str(doc), "--framework", "iso27001-2022", "--control", "6.3",
                                   "--effective", "2026-02-01", "--format", "json"])  # fmt: skip
    assert attached.exit_code == 0, attached.output
    assert json.loads(attached.stdout)["control"] == "6.3"
    bad = runner.invoke(app, ["attach", str(doc), "--framework", "iso27001-2022", "--control", "99.9"])
    assert bad.exit_code != 0 and "99.9" in str(bad.exception)
    cover = json.loads(runner.invoke(app, ["coverage", "--format", "json"]).stdout)["coverage"]
    iso = next(c for c in cover if c["framework"] == "iso27001-2022")
    assert iso["controls"] == 93 == iso["primary"] + iso["supporting_only"] + iso["manual_only"]
