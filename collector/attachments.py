"""Manual evidence for controls no API can show (a policy document, training records).

The file is hashed and stored as a blob, recorded against a framework control with its effective
date, and sealed into the run digest chain as a run of its own, so editing it later breaks `verify`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.config import ConfigError
from collector.store.lock import run_lock
from collector.store.models import Attachment, Blob, RunStatus
from collector.store.writer import open_run, seal_run
from connectors.base import sha256_hex, utcnow
from controls.catalog import Catalog

MAX_BYTES = 50 * 1024 * 1024


def attach(
    engine: sa.Engine,
    catalog: Catalog,
    framework: str,
    control: str,
    path: Path,
    *,
    note: str | None = None,
    effective: dt.date | None = None,
    config_digest: str = "attachment",
) -> Attachment:
    try:
        catalog.framework(framework).control(control)
    except KeyError as exc:
        raise ConfigError(f"--framework/--control: {exc.args[0]}") from None
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read file: {exc.strerror or exc}") from None
    if len(content) > MAX_BYTES:
        raise ConfigError(f"{path}: {len(content)} bytes; attachments are limited to {MAX_BYTES} bytes")
    sha = sha256_hex(content)
    now = utcnow()
    with run_lock(engine, []):
        run_id = open_run(engine, [], config_digest, now, catalog.digest)
        with Session(engine) as session, session.begin():
            if session.get(Blob, sha) is None:
                session.add(Blob(sha256=sha, content=content, size=len(content)))
                session.flush()  # the attachment row refers to it
            record = Attachment(framework=framework, control_id=control, blob_sha=sha, filename=path.name,
                                note=note, effective_date=effective or now.date(), attached_at=now,
                                run_id=run_id)  # fmt: skip
            session.add(record)
            session.flush()
            session.expunge(record)
        seal_run(engine, run_id, RunStatus.COMPLETE, utcnow())
    return record
