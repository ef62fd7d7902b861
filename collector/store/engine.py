"""Engines for SQLite and PostgreSQL, and the schema kept current by Alembic."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")
MIGRATE_LOCK_KEY = 0x65766964656E6365  # advisory lock serialising schema upgrades on PostgreSQL


class StoreError(Exception):
    """The store cannot be used as asked (missing database, schema behind); exit code 2."""


def make_engine(url: str) -> sa.Engine:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)


def sqlite_path(engine: sa.Engine) -> Path | None:
    if engine.dialect.name != "sqlite":
        return None
    return Path(engine.url.database or "")


def display_url(engine_or_url: sa.Engine | str) -> str:
    url = engine_or_url.url if isinstance(engine_or_url, sa.Engine) else sa.engine.make_url(engine_or_url)
    return url.render_as_string(hide_password=True)


def _alembic_config(connection: sa.Connection) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: sa.Engine) -> str:
    """Bring the schema to the newest revision; safe to run from several processes at once."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        command.upgrade(_alembic_config(conn), "head")
    return head_revision()


def require_schema(engine: sa.Engine) -> None:
    """For read commands: the database must exist and be at the newest schema."""
    path = sqlite_path(engine)
    if path is not None and not path.exists():
        raise StoreError(f"no evidence database at {path}: run `evidence-agent collect` (or `db upgrade`) first")
    current = current_revision(engine)
    if current is None:
        raise StoreError(f"{display_url(engine)} has no evidence-agent schema: run `evidence-agent db upgrade`")
    if current != head_revision():
        raise StoreError(
            f"{display_url(engine)} schema is at {current}, this agent needs {head_revision()}: "
            "run `evidence-agent db upgrade`"
        )
