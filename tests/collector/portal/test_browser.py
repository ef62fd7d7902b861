"""An auditor in headless Chromium (/usr/bin/chromium, driven by Playwright) against the real server on
loopback: signs in with a token, opens a control, follows a failing resource to its evidence, changes the
as-of date, and downloads the bundle of the audit window, which then passes `bundle verify`.
Screenshots are kept in tests/artifacts/portal-*.png."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from collector.store.engine import make_engine
from controls.catalog import load_catalog
from ea_testkit.bundle import cli
from ea_testkit.portal import TOKENS, build_history, portal_app, served

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


def test_an_auditor_signs_in_browses_to_evidence_changes_the_date_and_downloads_a_verified_bundle(
    sqlite_template: Path, tmp_path: Path
):
    if not CHROMIUM.exists():
        if os.environ.get("CHROMIUM_REQUIRED") == "1":  # set by .ci/run, which installs chromium
            pytest.fail(f"{CHROMIUM} is required here")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    shutil.copyfile(sqlite_template, tmp_path / "evidence.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'evidence.db'}")
    build_history(engine, load_catalog())
    ARTIFACTS.mkdir(exist_ok=True)
    console: list[tuple[str, str]] = []
    hosts: set[str] = set()
    seen: dict[str, str] = {}
    with served(portal_app(engine)) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("pageerror", str(e))))
            page.on("request", lambda r: hosts.add(r.url.split("/")[2]))

            # The sign-in page (any other page without a token is a 401 with the same form: test_access.py).
            page.goto(f"{base}/login")
            seen["sign-in"] = page.locator("h1").inner_text()
            page.screenshot(path=str(ARTIFACTS / "portal-1-sign-in.png"))
            page.fill("#token", TOKENS["auditor"])
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            page.click("text=ISO/IEC 27001:2022 Annex A")
            page.wait_for_url(f"{base}/frameworks/iso27001-2022")
            page.screenshot(path=str(ARTIFACTS / "portal-2-framework.png"), full_page=True)

            page.click('a[href^="/frameworks/iso27001-2022/controls/8.24"]')
            seen["control"] = page.locator("h1").inner_text()
            seen["failing"] = page.locator("a.evidence-link").first.inner_text()
            page.screenshot(path=str(ARTIFACTS / "portal-3-control.png"), full_page=True)

            page.locator("a.evidence-link").first.click()
            seen["evidence"] = page.locator("h1").inner_text()
            seen["valid-now"] = page.locator("section.state.current pre.observed").inner_text()
            page.screenshot(path=str(ARTIFACTS / "portal-4-evidence.png"), full_page=True)

            page.fill("#at", "2026-03-02")  # the day before `logs` lost its encryption
            page.click("form.asof button[type=submit]")
            page.wait_for_url("**at=2026-03-02")
            seen["valid-then"] = page.locator("section.state.current pre.observed").inner_text()
            seen["heading-then"] = page.locator("section.state.current h3").inner_text()
            page.screenshot(path=str(ARTIFACTS / "portal-5-evidence-as-of.png"), full_page=True)

            page.goto(f"{base}/frameworks/iso27001-2022")
            with page.expect_download() as download_info:
                page.click("#download")
            download = download_info.value
            bundle = tmp_path / download.suggested_filename
            download.save_as(bundle)
            context.close()
        finally:
            browser.close()
    engine.dispose()

    assert seen["sign-in"] == "Sign in"
    assert seen["control"].startswith("8.24 Use of cryptography and key management")
    assert seen["failing"] == "arn:aws:s3:::logs"
    assert seen["evidence"] == "Evidence: arn:aws:s3:::logs"
    assert '"encrypted": false' in seen["valid-now"]
    assert '"encrypted": true' in seen["valid-then"] and "as of 2026-03-02 23:59:59" in seen["heading-then"]
    assert bundle.name == "evidence-iso27001-2022-2026-03-01-2026-03-31.zip"
    code, out, err = cli("bundle", "verify", str(bundle))
    assert code == 0, out + err
    assert not [m for m in console if m[0] in ("error", "pageerror")], console
    assert hosts == {base.split("/")[2]}, f"nothing but the portal may be asked: {hosts}"
    assert all((ARTIFACTS / f"portal-{n}").stat().st_size > 5_000 for n in (
        "1-sign-in.png", "2-framework.png", "3-control.png", "4-evidence.png", "5-evidence-as-of.png"))  # fmt: skip
