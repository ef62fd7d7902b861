"""What the pages and their JSON mirror show, on a store with a known history (ea_testkit.portal): control status,
checks with strength and rationale, failing resources linked to their evidence, the verdict timeline, drift,
an evidence item's history with hashes, runs with the chain's verification, the as-of view, and /metrics."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from collector.compliance import coverage
from collector.store.engine import make_engine
from connectors.base import canonical_json
from controls.catalog import load_catalog
from ea_testkit.portal import T0, bearer, build_history, portal_app


@pytest.fixture(scope="module")
def store(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("portal-pages") / "evidence.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    history = build_history(engine, load_catalog())
    with TestClient(portal_app(engine), base_url="http://portal.test") as client:
        yield client, history, engine
    engine.dispose()


def api(client: TestClient, path: str, role: str = "auditor") -> dict:
    response = client.get(path, headers=bearer(role))
    assert response.status_code == 200, response.text
    return response.json()


def current_id(engine: sa.Engine, resource: str) -> int:
    with engine.connect() as conn:
        query = sa.text("SELECT id FROM evidence_state WHERE resource_id = :r AND ended_run_id IS NULL")
        return conn.execute(query, {"r": resource}).scalar_one()


def test_the_control_page_shows_checks_failures_with_evidence_timeline_and_drift(store):
    client, _, engine = store
    logs = current_id(engine, "arn:aws:s3:::logs")
    d = api(client, "/api/frameworks/iso27001-2022/controls/8.24")
    assert d["control"] | {"attachments": 0} == {
        "id": "8.24", "title": "Use of cryptography and key management", "group": "technological",
        "status": "non_compliant", "resources": 3, "failures": 1, "gaps": d["control"]["gaps"], "attachments": 0,
    }  # fmt: skip
    assert d["at"] == "2026-03-31T23:59:59.999999Z", "a window that has ended is shown at its last moment"
    enc = next(c for c in d["checks"] if c["check"] == "aws.s3.bucket.encryption_enabled")
    assert enc["strength"] == "primary" and enc["rationale"].startswith("Shows cryptography is applied to data at rest")
    assert (enc["passed"], enc["failed"]) == (2, 1)
    assert [(f["resource_id"], f["reason"], f["evidence_id"]) for f in d["failing"]] == [
        ("arn:aws:s3:::logs", "no default encryption configured", logs)
    ]
    # Day ends from the window's start: nothing before the first run (2 March 06:00), then 2 pass + 1 fail.
    t = d["timeline"]
    assert t["days"][:3] == ["2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z"]
    assert (t["passing"][0], t["failing"][0]) == (0, 0)
    assert (t["passing"][1], t["failing"][1]) == (2, 1) and (t["passing"][-1], t["failing"][-1]) == (2, 1)
    assert len(t["days"]) == 31
    types = sorted((e["type"], e["resource_id"]) for e in d["drift"])
    assert ("regressed", "arn:aws:s3:::logs") in types and ("remediated", "arn:aws:s3:::media") in types
    html = client.get("/frameworks/iso27001-2022/controls/8.24", headers=bearer("auditor")).text
    assert f'href="/evidence/{logs}?at=2026-03-31"' in html and "<svg" in html and "primary" in html


def test_as_of_a_date_shows_what_was_true_then(store):
    client, _, _ = store
    d = api(client, "/api/frameworks/iso27001-2022/controls/8.24?at=2026-03-02")
    assert d["at"] == "2026-03-02T23:59:59.999999Z"
    assert [f["resource_id"] for f in d["failing"]] == ["arn:aws:s3:::media"]
    page = client.get("/frameworks/iso27001-2022?at=2026-03-02", headers=bearer("auditor")).text
    assert 'value="2026-03-02"' in page and "as of 2026-03-02 23:59:59" in page


def test_the_evidence_page_shows_the_history_with_raw_answers_provenance_and_hashes(store):
    client, history, engine = store
    d = api(client, f"/api/evidence/{history.flipped}")
    assert d["item"]["resource_id"] == "arn:aws:s3:::logs" and d["item"]["kind"] == "aws.s3.bucket.encryption"
    states = d["states"]
    assert [s["observed"]["encrypted"] for s in states] == [False, True], "newest first"
    old = states[1]
    assert old["ended"]["reason"] == "changed" and old["ended"]["run"] == history.runs[1]
    assert old["source"]["operations"][0]["operation"] == "GetBucketEncryption" and old["raw"]["Bucket"] == "logs"
    identity = {"kind": "aws.s3.bucket.encryption", "observed": old["observed"], "resource_id": "arn:aws:s3:::logs"}
    assert old["state_sha256"] == hashlib.sha256(canonical_json(identity).encode()).hexdigest()
    with engine.connect() as conn:
        digest = conn.execute(sa.text("SELECT digest FROM run WHERE id = :r"), {"r": history.runs[0]}).scalar_one()
    assert old["first_seen"]["run_digest"] == digest
    assert d["current_id"] == states[0]["id"]
    assert api(client, f"/api/evidence/{history.flipped}?at=2026-03-02")["current_id"] == old["id"]
    verdicts = [(v["verdict"], v["reason"]) for v in d["verdicts"] if v["check"] == "aws.s3.bucket.encryption_enabled"]
    assert verdicts == [("fail", "no default encryption configured"), ("pass", "default encryption AES256")]
    html = client.get(f"/evidence/{history.flipped}", headers=bearer("auditor")).text
    assert old["blob_sha256"] in html and "Raw API response" in html


def test_runs_show_units_gaps_and_a_verified_chain_and_a_broken_one(store, sqlite_template: Path, tmp_path: Path):
    client, history, _ = store
    d = api(client, "/api/runs")
    assert [r["id"] for r in d["runs"]] == list(reversed(history.runs))
    assert [r["status"] for r in d["runs"]] == ["partial", "complete", "complete", "complete"]
    assert d["chain"]["state"] == "verified" and d["chain"]["ok"] is True and d["chain"]["runs_checked"] == 4
    run = api(client, f"/api/runs/{history.runs[3]}")
    assert [(g["kind"], g["reason"]) for g in run["gaps"]] == [("aws.s3.bucket.public_access_block", "denied")]
    # Someone edits a stored observation: the runs page says where the chain breaks.
    shutil.copyfile(sqlite_template, tmp_path / "tampered.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'tampered.db'}")
    runs = build_history(engine, load_catalog()).runs
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE evidence_state SET state_sha = :s WHERE id = 2"), {"s": "0" * 64})
    with TestClient(portal_app(engine)) as other:
        chain = api(other, "/api/runs", "engineer")["chain"]
        page = other.get("/runs", headers=bearer("engineer")).text
    engine.dispose()
    assert chain["ok"] is False and chain["first_broken_run"] == runs[0] and chain["problems"] >= 1
    assert "Verification failed" in page


def test_the_overview_counts_every_control_and_the_coverage(store):
    client, _, _ = store
    d = api(client, "/api/frameworks/iso27001-2022")
    assert sum(d["counts"].values()) == 93 and len(d["controls"]) == 93
    assert set(d["families"]) == {"organizational", "people", "physical", "technological"}
    iso = next(c for c in coverage(load_catalog()) if c["framework"] == "iso27001-2022")
    assert d["coverage"] == {k: iso[k] for k in ("controls", "primary", "supporting_only", "manual_only")}
    assert next(c for c in d["controls"] if c["id"] == "8.24")["status"] == "non_compliant"
    assert next(c for c in d["controls"] if c["id"] == "6.3")["status"] == "manual"
    page = client.get("/frameworks/iso27001-2022", headers=bearer("auditor")).text
    assert page.count("<svg") == 4 and 'action="/frameworks/iso27001-2022/bundle"' in page


def test_metrics_are_prometheus_text_with_runs_evidence_gaps_and_drift(store):
    client, _, _ = store
    response = client.get("/metrics", headers=bearer("engineer"))
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {line.rsplit(" ", 1)[0]: line.rsplit(" ", 1)[1] for line in response.text.splitlines()
               if line and not line.startswith("#")}  # fmt: skip
    assert samples['evidence_agent_last_run_status{status="partial",target="prod"}'] == "1"
    last_start = (T0 + dt.timedelta(days=3)).timestamp()  # the fourth daily run
    assert float(samples['evidence_agent_last_run_timestamp_seconds{target="prod"}']) == last_start
    assert samples['evidence_agent_evidence_items{kind="aws.s3.bucket.encryption",target="prod"}'] == "3"
    assert samples['evidence_agent_units_not_collected{reason="gap",target="prod"}'] == "1"
    assert int(samples['evidence_agent_drift_events_total{target="prod",type="regressed"}']) >= 1
    assert "# TYPE evidence_agent_drift_events_total counter" in response.text
