"""Only one run per target writes at a time.

PostgreSQL: a session advisory lock per target, held on a dedicated connection for the length
of the run, so shards collecting different targets write to one database side by side.
SQLite: an exclusive `flock` on `<database>.lock` (the file has one writer anyway).
Both are released by the operating system or the server when the process dies, so a killed
run never blocks the next one; the next one marks it `aborted`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from collector.store.engine import sqlite_path

CHAIN_LOCK_KEY = 0x6368_6169_6E00  # serialises sealing runs onto the digest chain (PostgreSQL)


class LockHeld(Exception):
    """Another run holds the lock; the CLI exits 4."""


def target_lock_key(target: str) -> int:
    """A stable signed 64-bit key for a target's advisory lock."""
    digest = hashlib.sha256(f"evidence-agent:target:{target}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _holder() -> dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname()}


@contextlib.contextmanager
def _sqlite_lock(path: Path) -> Iterator[None]:
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "unknown"
            raise LockHeld(f"another run is already writing to {path} (holder: {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_holder()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


@contextlib.contextmanager
def _postgres_lock(engine: sa.Engine, targets: list[str]) -> Iterator[None]:
    conn = engine.connect()
    held: list[int] = []
    try:
        for target in sorted(set(targets)):
            key = target_lock_key(target)
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if not got:
                raise LockHeld(f"another run is already collecting target {target!r} in this database")
            held.append(key)
        yield
    finally:
        try:
            for key in held:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
        finally:
            conn.close()


@contextlib.contextmanager
def run_lock(engine: sa.Engine, targets: list[str]) -> Iterator[None]:
    """Hold the write lock for these targets, or raise `LockHeld` at once (never wait)."""
    path = sqlite_path(engine)
    if path is not None:
        with _sqlite_lock(path):
            yield
    else:
        with _postgres_lock(engine, targets):
            yield
