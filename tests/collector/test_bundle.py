"""Evidence bundles from a demo-like store (the sandbox account collected, then two attachments: three runs):
verification with standard tools and `bundle verify`, tampering, OSCAL, the readable report, secrets.

The bundle is built once for the module; tests that tamper work on copies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from collector.attachments import attach
from collector.run import collect
from collector.sandbox import aws_data, aws_iam
from collector.store.engine import make_engine, upgrade
from controls.catalog import load_catalog
from ea_testkit.aws import aws_config
from ea_testkit.bundle import cli, rewrite

PLANTED_ENV = {
    "AWS_SECRET_ACCESS_KEY": "PLANTED-bundle-secret-key-3c9e1d",
    "AWS_SESSION_TOKEN": "PLANTED-bundle-session-token-8a2f",
    "ALERTS_WEBHOOK_URL": "https://hooks.example.test/services/PLANTED-webhook-77f3",
}
SANDBOX_SECRETS = (aws_data.SANDBOX_PASSWORD, "sandbox-only-not-a-key", aws_iam.PASSWORD)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # tests/artifacts/ (gitignored)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@dataclass
class Demo:
    root: Path
    url: str
    bundle: Path
    other: Path  # a GDPR bundle of the same store
    unzipped: Path
    public_key: Path
    sample: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory, sandbox_endpoint):
    root = tmp_path_factory.mktemp("bundle-demo")
    url = f"sqlite:///{root / 'evidence.db'}"
    with pytest.MonkeyPatch.context() as env:
        env.chdir(root)
        for key in [k for k in os.environ if k.startswith("EVIDENCE_AGENT_") and "_TEST_PG_" not in k]:
            env.delenv(key)
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_CONFIG_FILE", str(root / "no-aws-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(root / "no-aws-credentials"))
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for key, value in PLANTED_ENV.items():
            env.setenv(key, value)
        engine = make_engine(url)
        upgrade(engine)
        assert collect(aws_config(sandbox_endpoint, url), engine).status == "complete"
        policy = root / "access-control-policy.txt"
        policy.write_text("Access control policy v3, approved by the CISO on 2026-01-15.\n")
        attach(engine, load_catalog(), "iso27001-2022", "5.15", policy, note="approved 2026-01-15",
               effective=dt.date(2026, 1, 15))  # fmt: skip
        training = root / "training-2026.csv"
        training.write_text("name,completed\nalice,2026-02-01\n")
        attach(engine, load_catalog(), "iso27001-2022", "6.3", training, effective=dt.date(2026, 2, 1))
        engine.dispose()
        env.setenv("EVIDENCE_AGENT_DATABASE_URL", url)
        assert cli("keys", "generate", "--out", str(root / "signer"))[0] == 0
        today = dt.datetime.now(dt.UTC)
        period = ["--from", (today - dt.timedelta(days=1)).date().isoformat(), "--to",
                  (today + dt.timedelta(days=1)).date().isoformat()]  # fmt: skip
        sample = today.isoformat().replace("+00:00", "Z")
        bundle, other = root / "iso.zip", root / "gdpr.zip"
        code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", *period, "--sample-date", sample,
                           "--sign-key", str(root / "signer.key"), "--out", str(bundle))  # fmt: skip
        assert code == 0, err
        code, _, err = cli("bundle", "create", "--framework", "gdpr", *period, "--out", str(other))
        assert code == 0, err
    unzipped = root / "unzipped"
    subprocess.run(["unzip", "-q", str(bundle), "-d", str(unzipped)], check=True, timeout=60)
    return Demo(root, url, bundle, other, unzipped, root / "signer.pub", sample)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def verify(path: Path, *extra: str) -> tuple[int, dict]:
    code, out, err = cli("bundle", "verify", str(path), "--format", "json", *extra)
    assert code in (0, 1), err
    return code, json.loads(out)


def problems(report: dict, check: str) -> str:
    return "\n".join(next(c for c in report["checks"] if c["check"] == check)["problems"])


# --------------------------------------------------------------------------- acceptance 1


def test_demo_bundle_verifies_with_bundle_verify_and_standard_tools(demo):
    code, report = verify(demo.bundle, "--public-key", str(demo.public_key))
    assert code == 0 and report["ok"], report
    assert [c["check"] for c in report["checks"]] == ["checksums", "manifest", "signature", "chain", "evidence",
                                                      "gaps", "attachments", "oscal"]  # fmt: skip
    chain = next(c for c in report["checks"] if c["check"] == "chain")["summary"]
    assert chain.startswith("3 of 3 run digests recomputed (3 in the period")
    sums = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=demo.unzipped, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert sums.returncode == 0, sums.stdout + sums.stderr
    listed = sums.stdout.count(": OK")
    assert listed == len([p for p in demo.unzipped.rglob("*") if p.is_file()]) - 1  # all but SHA256SUMS itself
    if shutil.which("openssl"):
        signature = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(demo.public_key),
                                    "-rawin", "-in", "manifest.json", "-sigfile", "manifest.json.sig"],
                                   cwd=demo.unzipped, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert "Signature Verified Successfully" in signature.stdout, signature.stdout + signature.stderr


def test_demo_bundle_layout(demo):
    u = demo.unzipped
    manifest = json.loads((u / "manifest.json").read_text())
    assert manifest["framework"]["id"] == "iso27001-2022"
    assert len(manifest["framework"]["catalog_sha256"]) == len(manifest["framework"]["mapping_sha256"]) == 64
    assert manifest["generated"]["by"]["version"] and manifest["generated"]["by"]["host"]
    engine = make_engine(demo.url)
    with engine.connect() as conn:
        digests = conn.execute(sa.text("SELECT digest FROM run ORDER BY seq")).scalars().all()
        drift_columns = [c["name"] for c in sa.inspect(conn).get_columns("drift_event")]
        drift_rows = conn.execute(sa.text("SELECT count(*) FROM drift_event")).scalar()
    engine.dispose()
    assert [manifest["chain"]["first"]["digest"], manifest["chain"]["last"]["digest"]] == [digests[0], digests[-1]]
    files = {f["path"]: f for f in manifest["files"]}
    for path, entry in files.items():
        data = (u / path).read_bytes()
        assert entry == {"path": path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert {"index.html", "controls.csv", "runs.jsonl", "states.jsonl", "gaps.jsonl", "drift.jsonl",
            "attachments/attachments.jsonl", "oscal/assessment-results.json"} <= set(files)  # fmt: skip
    evidence = lines(u / "controls/8.24/evidence.jsonl")
    assert evidence and all(e["kind"] and e["source"] and "raw" in e and e["first_seen"]["at"] for e in evidence)
    judged = [v for e in evidence for v in e["verdicts"]]
    assert judged and all(v["verdict"] in ("pass", "fail", "not_applicable") and v["reason"] for v in judged)
    runs = lines(u / "runs.jsonl")
    assert [r["seq"] for r in runs] == [1, 2, 3] and all(r["digest"] and "units" in r["counts"] for r in runs)
    attached = {a["control"]: a for a in lines(u / "attachments/attachments.jsonl")}
    assert attached["5.15"]["effective_date"] == "2026-01-15" and attached["6.3"]["effective_date"] == "2026-02-01"
    assert (u / attached["5.15"]["path"]).read_text().startswith("Access control policy")
    with (u / "controls.csv").open() as handle:
        assert sum(1 for _ in handle) == 94  # header + the 93 Annex A controls
    sample_dir = next((u / "samples").iterdir())
    assert lines(sample_dir / "evidence.jsonl") and json.loads((sample_dir / "controls.json").read_text())["at"]
    drift = lines(u / "drift.jsonl")
    assert all(set(drift_columns) <= set(row) for row in drift), "every drift_event column, however many"
    assert bool(drift) == bool(drift_rows)


# --------------------------------------------------------------------------- acceptance 2

EDITABLE = ["controls/8.24/evidence.jsonl", "runs.jsonl", "states.jsonl", "attachments/attachments.jsonl",
            "oscal/assessment-results.json", "index.html", "controls.csv"]  # fmt: skip


@pytest.mark.parametrize("member", [*EDITABLE, "attachment file", "sample evidence"])
def test_one_changed_byte_in_any_file_fails_and_is_named(demo, tmp_path, member):
    with zipfile.ZipFile(demo.bundle) as zf:
        names = zf.namelist()
        if member == "attachment file":
            member = next(n for n in names if n.startswith("attachments/") and not n.endswith(".jsonl"))
        elif member == "sample evidence":
            member = next(n for n in names if n.startswith("samples/") and n.endswith("evidence.jsonl"))
        data = bytearray(zf.read(member))
    assert data, f"{member} is empty: nothing to tamper with"
    middle = len(data) // 2
    data[middle] = ord("X") if data[middle] != ord("X") else ord("Y")
    tampered = tmp_path / "tampered.zip"
    rewrite(demo.bundle, tampered, {member: bytes(data)})
    code, report = verify(tampered, "--public-key", str(demo.public_key))
    assert code == 1 and not report["ok"]
    assert member in problems(report, "checksums") and member in problems(report, "manifest")


def test_evidence_edited_with_checksums_and_manifest_rewritten_breaks_chain_and_signature(demo, tmp_path):
    name = "controls/8.24/evidence.jsonl"
    with zipfile.ZipFile(demo.bundle) as zf:
        text = zf.read(name).decode()
    target = next(line for line in text.splitlines() if '"encrypted":false' in line)
    forged = target.replace('"encrypted":false', '"encrypted":true', 1)
    tampered = tmp_path / "forged.zip"
    rewrite(demo.bundle, tampered, {name: text.replace(target, forged).encode()}, reseal=True)
    code, report = verify(tampered, "--public-key", str(demo.public_key))
    assert code == 1
    assert problems(report, "checksums") == "" and problems(report, "manifest") == "", "resealed consistently"
    assert "the evidence was edited" in problems(report, "evidence") and name in problems(report, "evidence")
    assert "not a valid Ed25519 signature of manifest.json" in problems(report, "signature")


@pytest.mark.parametrize("reseal", [False, True], ids=["as-is", "resealed"])
def test_deleting_a_run_line_fails_and_names_the_gap_in_the_chain(demo, tmp_path, reseal):
    with zipfile.ZipFile(demo.bundle) as zf:
        runs = zf.read("runs.jsonl").decode().splitlines(keepends=True)
    tampered = tmp_path / "cut.zip"
    rewrite(demo.bundle, tampered, {"runs.jsonl": (runs[0] + runs[2]).encode(), "manifest.json.sig": None},
            reseal=reseal)  # fmt: skip
    code, report = verify(tampered)
    assert code == 1
    chain = problems(report, "chain")
    assert "run seq 2 is missing between run 1 and run 3" in chain
    assert "does not link to the digest of run 1" in chain
    if not reseal:
        assert "runs.jsonl" in problems(report, "checksums")


def test_swapped_manifest_fails(demo, tmp_path):
    with zipfile.ZipFile(demo.other) as zf:
        foreign = zf.read("manifest.json")
    tampered = tmp_path / "swapped.zip"
    rewrite(demo.bundle, tampered, {"manifest.json": foreign})
    code, report = verify(tampered, "--public-key", str(demo.public_key))
    assert code == 1
    assert "manifest.json: sha256" in problems(report, "checksums")
    assert "does not match the manifest" in problems(report, "manifest")
    assert "not a valid Ed25519 signature" in problems(report, "signature")


def test_wrong_public_key_or_missing_signature_fails_the_signature_check(demo, tmp_path):
    assert cli("keys", "generate", "--out", str(tmp_path / "stranger"))[0] == 0
    code, report = verify(demo.bundle, "--public-key", str(tmp_path / "stranger.pub"))
    assert code == 1 and "not a valid Ed25519 signature" in problems(report, "signature")
    assert all(c["ok"] for c in report["checks"] if c["check"] != "signature")
    code, report = verify(demo.other, "--public-key", str(demo.public_key))
    assert code == 1 and "not signed" in problems(report, "signature")
    code, out, _ = cli("bundle", "verify", str(demo.other))
    assert code == 0 and "not signed" in out and "verified" in out


# --------------------------------------------------------------------------- acceptance 3


def test_oscal_document_validates_with_trestle(demo, tmp_path):
    from trestle.oscal.assessment_results import AssessmentResults

    path = demo.unzipped / "oscal" / "assessment-results.json"
    document = AssessmentResults.oscal_read(path)
    (result,) = document.results
    props = {f.target.target_id: {p.name: p.value for p in f.props} for f in result.findings}
    assert len(props) == 93 and props["iso27001-2022_8.24"]["control-id"] == "8.24"
    statuses = {p["status"] for p in props.values()}
    assert "manual" in statuses and statuses <= {"compliant", "non_compliant", "not_collected", "not_applicable",
                                                 "manual"}  # fmt: skip
    assert result.observations and all(o.collected and o.expires and o.expires > o.collected
                                       for o in result.observations if o.expires)  # fmt: skip
    hashes = {r.rlinks[0].href: r.rlinks[0].hashes[0].value for r in document.back_matter.resources if r.rlinks}
    assert "controls/8.24/evidence.jsonl" in hashes
    for href, value in hashes.items():
        assert hashlib.sha256((demo.unzipped / href).read_bytes()).hexdigest() == value
    broken = json.loads(path.read_text())
    del broken["assessment-results"]["results"][0]["reviewed-controls"]
    tampered = tmp_path / "oscal.zip"
    rewrite(demo.bundle, tampered, {"oscal/assessment-results.json": json.dumps(broken).encode(),
                                    "manifest.json.sig": None}, reseal=True)  # fmt: skip
    code, report = verify(tampered)
    assert code == 1 and "not valid OSCAL assessment-results" in problems(report, "oscal")


# --------------------------------------------------------------------------- acceptance 5


def test_index_html_renders_offline_in_headless_chromium(demo):
    if not CHROMIUM.exists():
        if os.environ.get("CHROMIUM_REQUIRED") == "1":  # set by .ci/run, which installs chromium
            pytest.fail(f"{CHROMIUM} is required here")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    page_url = (demo.unzipped / "index.html").as_uri()
    requests: list[str] = []
    console: list[tuple[str, str]] = []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "bundle-index.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            page.goto(page_url, wait_until="load")
            title = page.title()
            heading = page.locator("h1").inner_text()
            sections = page.locator("section.control").count()
            charts = page.locator(".families svg").count()
            status_824 = page.locator("#c-8\\.24 h2 .badge").inner_text()
            evidence_link = page.locator('#c-8\\.24 a[href="controls/8.24/evidence.jsonl"]').count()
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert "iso27001-2022" in title and heading == "Evidence bundle: ISO/IEC 27001:2022 Annex A"
    assert sections == 93 and charts == 4, "a section per control; a chart per family (the four ISO themes)"
    assert status_824 in ("compliant", "non_compliant", "not_collected") and evidence_link >= 1
    assert not [m for m in console if m[0] in ("error", "pageerror")], console
    assert requests == [page_url], f"nothing but the page itself may be loaded: {requests}"
    assert shot.stat().st_size > 10_000


# --------------------------------------------------------------------------- acceptance 6


def test_nothing_secret_in_the_bundle(demo, tmp_path, monkeypatch):
    everything = b"".join(p.read_bytes() for p in demo.unzipped.rglob("*") if p.is_file())
    assert b"prod/push/apns-key" in everything, "the secret's metadata is in the bundle, so the grep means something"
    for secret in (*PLANTED_ENV.values(), *SANDBOX_SECRETS):
        assert secret.encode() not in everything, secret
    # A note that carries a secret the agent knows (here the webhook URL) stops the bundle: evidence is
    # hash-bound and cannot be scrubbed, so nothing is written.
    copy = tmp_path / "evidence.db"
    shutil.copy(demo.root / "evidence.db", copy)
    url = f"sqlite:///{copy}"
    engine = make_engine(url)
    note = tmp_path / "runbook.txt"
    note.write_text("how to page the on-call\n")
    leak = f"alerts go to {PLANTED_ENV['ALERTS_WEBHOOK_URL']}"
    attach(engine, load_catalog(), "iso27001-2022", "5.24", note, note=leak)
    engine.dispose()
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", url)
    monkeypatch.setenv("ALERTS_WEBHOOK_URL", PLANTED_ENV["ALERTS_WEBHOOK_URL"])
    out = tmp_path / "leaky.zip"
    code, _, err = cli("bundle", "create", "--framework", "iso27001-2022", "--from", "2026-01-01", "--to", "2030-01-01",
                       "--out", str(out))  # fmt: skip
    assert code == 1 and err.count("\n") == 1
    assert "refusing to write a secret into a bundle" in err and "$ALERTS_WEBHOOK_URL" in err
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
