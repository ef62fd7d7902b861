"""Shared fixtures: a store engine on SQLite and on PostgreSQL, a moto server on loopback, a clean env."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

from collector.store.engine import make_engine, upgrade
from ea_testkit.store import Script

PG_URL = os.environ.get("EVIDENCE_AGENT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("EVIDENCE_AGENT_REQUIRE_PG") == "1"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's AWS profile, agent settings or working directory."""
    for key in list(os.environ):
        if key.startswith("EVIDENCE_AGENT_") and key not in (
            "EVIDENCE_AGENT_TEST_PG_URL",
            "EVIDENCE_AGENT_REQUIRE_PG",
        ):
            monkeypatch.delenv(key)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def reset_logging() -> Iterator[None]:
    """`main()` binds structlog to the stderr of its moment; later tests must not log into a closed capture."""
    yield
    structlog.reset_defaults()


def _pg_admin() -> sa.Engine | None:
    engine = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            return engine
    except sa.exc.OperationalError:
        engine.dispose()
        return None


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[sa.Engine | None]:
    engine = _pg_admin()
    yield engine
    if engine is not None:
        engine.dispose()


@pytest.fixture
def pg_url(pg_admin: sa.Engine | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    if pg_admin is None:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required (EVIDENCE_AGENT_REQUIRE_PG=1) but {PG_URL} is unreachable")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}")
    name = f"ea_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test that wants a ready store (migrating costs more)."""
    path = tmp_path_factory.mktemp("template") / "evidence.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_reusable(pg_admin: sa.Engine | None) -> Iterator[str | None]:
    """One migrated PostgreSQL database per test process, emptied before each test that wants a ready store:
    creating and migrating a database per test costs about 0.4 s, emptying one a few milliseconds."""
    if pg_admin is None:
        yield None
        return
    name = f"ea_test_{uuid.uuid4().hex[:12]}"
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with pg_admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _emptied(pg_admin: sa.Engine, url: str) -> str:
    """Every table of the reusable database empty, ids restarting at 1, no connection left from a test."""
    from sqlmodel import SQLModel

    name = sa.engine.make_url(url).database
    with pg_admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid()"
            ),
            {"d": name},
        )
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL. With `engine` also requested, the store is ready (migrated, empty) from a template;
    alone, it is a new empty database (for tests of creating and migrating one)."""
    ready = "engine" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "evidence.db"
        if ready:
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    reusable = request.getfixturevalue("pg_reusable") if ready else None
    if reusable is not None:
        return _emptied(request.getfixturevalue("pg_admin"), reusable)
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    from collector.sandbox import aws_compute, aws_resilience

    # A server serves a service as it was when first asked for it: stand-ins that add routes go in first.
    aws_compute.install_moto_shims()
    aws_resilience.install_moto_shims()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def sandbox_endpoint() -> Iterator[str]:
    """A second moto server holding the seeded sandbox account, seeded once per session.

    Served from a process of its own (see ea_testkit.sandbox): moto's state is per process, and the
    resets `moto_endpoint` makes would otherwise wipe the seeded account too.
    Read-only: tests that change AWS state use `moto_endpoint` (reset for each test) instead.
    """
    from ea_testkit.sandbox import sandbox_server

    with sandbox_server() as endpoint:
        yield endpoint


@pytest.fixture
def moto_endpoint(moto_server: str) -> str:
    """The shared moto server, reset to an empty account for this test."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).read()
    return moto_server


@pytest.fixture
def script(engine: sa.Engine) -> Script:
    return Script(engine)


@pytest.fixture
def collected_db(engine: sa.Engine, db_url: str, sandbox_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> sa.Engine:
    """The sandbox account collected once into `engine`; read commands point at it."""
    from collector.run import collect
    from ea_testkit.aws import aws_config

    collect(aws_config(sandbox_endpoint, db_url), engine)
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    return engine
