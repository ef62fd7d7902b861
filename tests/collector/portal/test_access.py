"""Who may see what: 401 and 403 on every route (a table over the app's own route list, so a new route cannot
be left out), the access log, sign-in, CSRF, security headers, and the token configuration."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from collector.portal.app import PUBLIC
from collector.portal.auth import COOKIE
from collector.store.engine import make_engine
from controls.catalog import load_catalog
from ea_testkit.bundle import cli
from ea_testkit.portal import TOKENS, bearer, build_history, portal_app

# Every route and what a valid token outside its scope (a GDPR auditor of January 2025) gets:
# 403, or a 200 that shows nothing of the ISO store ("empty"). Engineer-only routes refuse every auditor.
OUTSIDE = {
    ("GET", "/"): "empty",
    ("GET", "/frameworks/{framework}"): 403,
    ("GET", "/frameworks/{framework}/controls/{control}"): 403,
    ("GET", "/frameworks/{framework}/bundle"): 403,
    ("GET", "/evidence/{item}"): 403,
    ("GET", "/runs"): "empty",
    ("GET", "/runs/{run_id}"): 403,
    ("GET", "/access"): 403,
    ("POST", "/logout"): "empty",
    ("GET", "/api/whoami"): "empty",
    ("GET", "/api/frameworks"): "empty",
    ("GET", "/api/frameworks/{framework}"): 403,
    ("GET", "/api/frameworks/{framework}/controls/{control}"): 403,
    ("GET", "/api/evidence/{item}"): 403,
    ("GET", "/api/runs"): "empty",
    ("GET", "/api/runs/{run_id}"): 403,
    ("GET", "/api/access"): 403,
    ("GET", "/metrics"): 403,
}
ENGINEER_ONLY = {"/access", "/api/access", "/metrics"}


def serve(engine: sa.Engine, real_bundles: bool = True):
    catalog = load_catalog()
    history = build_history(engine, catalog)
    app = portal_app(engine, catalog, real_bundles=real_bundles)
    with TestClient(app, base_url="http://portal.test") as client:
        yield client, app, history, engine


@pytest.fixture
def portal(engine: sa.Engine):
    """On SQLite and PostgreSQL: for the tests of what is refused and what is written."""
    yield from serve(engine)


@pytest.fixture(scope="module")
def shared(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory):
    """One SQLite store for the tests that only read (and add to the access log)."""
    path = tmp_path_factory.mktemp("portal") / "evidence.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield from serve(engine)
    engine.dispose()


@pytest.fixture
def own(sqlite_template: Path, tmp_path: Path):
    """A SQLite store of the test's own, for a test that breaks it."""
    shutil.copyfile(sqlite_template, tmp_path / "own.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'own.db'}")
    yield from serve(engine)
    engine.dispose()


def routes(app) -> dict[tuple[str, str], APIRoute]:
    return {(method, r.path): r for r in app.routes if isinstance(r, APIRoute) for method in r.methods - {"HEAD"}}


def url(path: str, history) -> str:
    return (
        path.replace("{framework}", "iso27001-2022")
        .replace("{control}", "8.24")
        .replace("{item}", str(history.flipped))
        .replace("{run_id}", str(history.runs[1]))
    )


def call(client: TestClient, method: str, path: str, headers: dict[str, str] | None = None):
    return client.request(method, path, headers=headers or {}, follow_redirects=False)


@pytest.fixture
def gatekeeper(engine: sa.Engine):
    """On SQLite and PostgreSQL, with downloads of empty zips: the table is about who may, not what."""
    yield from serve(engine, real_bundles=False)


def test_every_route_refuses_missing_and_wrong_tokens_and_out_of_scope_ones(gatekeeper):
    client, app, history, _ = gatekeeper
    table = routes(app)
    protected = {key for key in table if key[1] not in PUBLIC}
    assert protected == set(OUTSIDE), "a route was added or removed: say what an out-of-scope token gets"
    for method, path in sorted(protected):
        target = url(path, history)
        for headers in (None, {"Authorization": "Bearer not-a-token"}, {"Cookie": f"{COOKIE}=not-a-token"}):
            response = call(client, method, target, headers)
            assert response.status_code == 401, (method, path, headers, response.status_code)
        client.cookies.clear()
        response = call(client, method, target, bearer("outsider"))
        expected = OUTSIDE[(method, path)]
        if expected == 403:
            assert response.status_code == 403, (method, path, response.status_code, response.text[:200])
        else:
            assert response.status_code in (200, 303), (method, path, response.status_code)
            assert "iso27001-2022" not in response.text and "arn:aws:s3" not in response.text, (method, path)
        auditor = call(client, method, target, bearer("auditor"))
        client.cookies.clear()
        if path in ENGINEER_ONLY:
            assert auditor.status_code == 403, path
        else:
            assert auditor.status_code in (200, 303), (method, path, auditor.status_code, auditor.text[:300])
        engineer = call(client, method, target, bearer("engineer"))
        client.cookies.clear()
        assert engineer.status_code in (200, 303), (method, path, engineer.status_code)


@pytest.mark.parametrize(
    "path, message",
    [
        ("/api/frameworks/iso27001-2022?at=2026-04-02", "at 2026-04-02 is outside the audit window"),
        ("/api/frameworks/iso27001-2022/controls/8.24?from=2026-02-01", "from 2026-02-01 is outside"),
        ("/frameworks/iso27001-2022/bundle?from=2026-03-01&to=2026-04-30", "to 2026-04-30 is outside"),
        ("/api/frameworks/gdpr", "framework 'gdpr' is outside this token's scope"),
    ],
)
def test_an_auditor_is_held_to_its_frameworks_and_window(shared, path, message):
    client, *_ = shared
    response = client.get(path, headers=bearer("auditor"))
    assert response.status_code == 403
    assert message in response.text


def test_bad_parameters_are_a_400_naming_the_parameter(shared):
    client, *_ = shared
    response = client.get("/api/frameworks/iso27001-2022?at=yesterday", headers=bearer("engineer"))
    assert response.status_code == 400 and response.json()["detail"].startswith("at: 'yesterday' is not a date")
    assert client.get("/api/frameworks/nope", headers=bearer("engineer")).status_code == 404
    assert client.get("/api/evidence/999999", headers=bearer("engineer")).status_code == 404


def test_the_access_log_records_each_view_download_and_refusal_without_the_token(portal):
    client, _, history, engine = portal
    client.get("/frameworks/iso27001-2022/controls/8.24", headers=bearer("auditor"))
    client.get(f"/api/evidence/{history.flipped}", headers=bearer("auditor"))
    download = client.get("/frameworks/iso27001-2022/bundle", headers=bearer("auditor"))
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    client.get("/metrics", headers=bearer("auditor"))
    client.get("/runs", headers={"Authorization": "Bearer guessed"})
    client.get("/healthz")
    with engine.connect() as conn:
        rows = [
            dict(r._mapping)
            for r in conn.execute(
                sa.text(
                    "SELECT principal, role, action, method, path, query, framework, status FROM access_log ORDER BY id"
                )
            )
        ]
    assert rows == [
        {
            "principal": "ada-auditor",
            "role": "auditor",
            "action": "view",
            "method": "GET",
            "path": "/frameworks/iso27001-2022/controls/8.24",
            "query": None,
            "framework": "iso27001-2022",
            "status": 200,
        },
        {
            "principal": "ada-auditor",
            "role": "auditor",
            "action": "api",
            "method": "GET",
            "path": f"/api/evidence/{history.flipped}",
            "query": None,
            "framework": None,
            "status": 200,
        },
        {
            "principal": "ada-auditor",
            "role": "auditor",
            "action": "download",
            "method": "GET",
            "path": "/frameworks/iso27001-2022/bundle",
            "query": None,
            "framework": "iso27001-2022",
            "status": 200,
        },
        {
            "principal": "ada-auditor",
            "role": "auditor",
            "action": "denied",
            "method": "GET",
            "path": "/metrics",
            "query": None,
            "framework": None,
            "status": 403,
        },
        {
            "principal": None,
            "role": None,
            "action": "denied",
            "method": "GET",
            "path": "/runs",
            "query": None,
            "framework": None,
            "status": 401,
        },
    ]
    assert not any(token in dump_tables(engine) for token in TOKENS.values())
    # The engineer reads the same log (newest first); a bundle of the day carries it (access.jsonl), up to
    # the request that asks for the bundle.
    listed = client.get("/api/access", headers=bearer("engineer")).json()
    assert [e["path"] for e in listed] == [r["path"] for r in reversed(rows)]  # not yet itself
    today = dt.datetime.now(dt.UTC).date().isoformat()
    download = client.get(f"/frameworks/iso27001-2022/bundle?from={today}&to={today}", headers=bearer("engineer"))
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.content)) as zf:
        access = [json.loads(line) for line in zf.read("access.jsonl").decode().splitlines()]
    assert [(e["principal"], e["action"], e["path"], e["status"]) for e in access] == [
        (r["principal"], r["action"], r["path"], r["status"]) for r in rows
    ] + [("erin-engineer", "api", "/api/access", 200)]


def dump_tables(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return "\n".join(
            json.dumps([[str(v) for v in row] for row in conn.execute(sa.text(f'SELECT * FROM "{t}"'))])
            for t in sa.inspect(engine).get_table_names()
        )


def test_sign_in_sets_a_strict_httponly_cookie_and_refuses_cross_site_posts(shared):
    client, *_ = shared
    page = client.get("/frameworks/iso27001-2022")
    assert page.status_code == 401 and 'name="token"' in page.text and 'value="/frameworks/iso27001-2022"' in page.text
    wrong = client.post("/login", data={"token": "nope", "next": "/"})
    assert wrong.status_code == 401 and "the token is not valid" in wrong.text
    foreign = client.post(
        "/login", data={"token": TOKENS["auditor"], "next": "/"}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403 and COOKIE not in foreign.cookies
    ok = client.post(
        "/login",
        data={"token": TOKENS["auditor"], "next": "https://evil.example/x"},
        headers={"Origin": "http://portal.test"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # never off-site after sign-in
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert client.get("/frameworks/iso27001-2022").status_code == 200
    out = client.post("/logout", follow_redirects=False)
    assert out.status_code == 303 and client.get("/frameworks/iso27001-2022").status_code == 401
    https = client.post(
        "/login", data={"token": TOKENS["auditor"]}, headers={"X-Forwarded-Proto": "https"}, follow_redirects=False
    )
    assert "Secure" in https.headers["set-cookie"] and https.headers["strict-transport-security"]


def test_security_headers_and_no_write_routes(shared):
    client, app, *_ = shared
    response = client.get("/", headers=bearer("engineer"))
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    writes = {(m, path) for (m, path) in routes(app) if m not in ("GET", "HEAD")}
    assert writes == {("POST", "/login"), ("POST", "/logout")}  # sign-in and sign-out only: nothing writes data
    spec = client.get("/api/openapi.json").json()
    assert all(set(ops) == {"get"} for ops in spec["paths"].values())
    assert {"/healthz", "/metrics", "/api/frameworks/{framework}/controls/{control}", "/api/evidence/{item}"} <= set(
        spec["paths"]
    )


def test_an_unwritable_access_log_withholds_the_page(own):
    client, _, _, engine = own
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE access_log"))
    response = client.get("/frameworks/iso27001-2022", headers=bearer("engineer"))
    assert response.status_code == 503 and "access log" in response.text
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "tokens, message",
    [
        ("tokens: [{name: a, token: s3cret, role: engineer}]", "never put a token in the config"),
        ("tokens: [{name: a, sha256: abc, role: engineer}]", "tokens[0].sha256: expected the token's SHA-256"),
        (f"tokens: [{{name: a, sha256: '{'a' * 64}', role: auditor}}]", "an auditor token needs `frameworks`"),
        (
            f"tokens: [{{name: a, sha256: '{'a' * 64}', role: auditor, frameworks: [gdpr], "
            "window: {from: 2026-02-01, to: 2026-01-01}}]",
            "from 2026-02-01 is after to 2026-01-01",
        ),
        (f"tokens: [{{name: a, sha256: '{'a' * 64}', role: root}}]", "tokens[0].role: Input should be 'auditor'"),
        ("tokens: []", "no token is configured"),
    ],
)
def test_serve_refuses_a_bad_tokens_file_with_exit_2(tmp_path: Path, tokens: str, message: str):
    path = tmp_path / "tokens.yaml"
    path.write_text(tokens + "\n")
    code, _, err = cli("serve", "--tokens-file", str(path))
    assert code == 2, err
    assert message in err and "Traceback" not in err and "s3cret" not in err


def test_portal_token_prints_a_token_once_and_only_its_hash_for_the_file(tmp_path: Path):
    code, out, err = cli(
        "portal",
        "token",
        "--name",
        "ada",
        "--role",
        "auditor",
        "--framework",
        "iso27001-2022",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
    )
    assert code == 0, err
    token = out.strip()
    import hashlib

    import yaml

    entry = yaml.safe_load(err[err.index("- name") :])[0]
    assert entry == {
        "name": "ada",
        "sha256": hashlib.sha256(token.encode()).hexdigest(),
        "role": "auditor",
        "frameworks": ["iso27001-2022"],
        "window": {"from": "2026-01-01", "to": "2026-12-31"},
    }
    assert token not in err and len(token) >= 40
    code, _, err = cli("portal", "token", "--name", "x", "--role", "auditor")
    assert code == 2 and "an auditor token needs `frameworks` and `window`" in err
