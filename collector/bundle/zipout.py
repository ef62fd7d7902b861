"""A zip written member by member: each member streamed, hashed as written, checked for secrets."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.bundle.layout import record

FLUSH_BYTES = 1 << 18


class BundleError(Exception):
    """The bundle cannot be written as asked (exit 1); the partial file is removed."""


@dataclass(frozen=True)
class SecretGuard:
    """Known secret values (database password, alert sink URLs, cloud keys from the environment).

    Every line written to a bundle is checked against them: a bundle never carries one, and since
    evidence is hash-bound it cannot be scrubbed either, so creation stops and names the place.
    """

    values: tuple[tuple[str, bytes], ...] = ()

    def check(self, member: str, data: bytes) -> None:
        for label, value in self.values:
            if value in data:
                raise BundleError(f"{member}: contains {label}; refusing to write a secret into a bundle")


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    sha256: str


class Member:
    """One member being written: text lines or bytes; buffered, hashed, guarded."""

    def __init__(self, handle: Any, name: str, guard: SecretGuard):
        self._handle = handle
        self._name = name
        self._guard = guard
        self._buffer: list[bytes] = []
        self._buffered = 0
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: str | bytes, *, checked: bool = False) -> None:
        """`checked`: the caller already ran the secret guard over these bytes, line by line."""
        chunk = data.encode("utf-8") if isinstance(data, str) else data
        if not checked:
            self._guard.check(self._name, chunk)
        self.sha.update(chunk)
        self.size += len(chunk)
        self._buffer.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= FLUSH_BYTES:
            self.flush()

    def line(self, value: Any) -> None:
        """One JSON line: a str is written as given, anything else as canonical JSON."""
        self.write((value if isinstance(value, str) else record(value)) + "\n")

    def flush(self) -> None:
        if self._buffer:
            self._handle.write(b"".join(self._buffer))
            self._buffer.clear()
            self._buffered = 0


class BundleZip:
    def __init__(self, path: Path, stamp: dt.datetime, guard: SecretGuard):
        self.path = path
        self.guard = guard
        # Every member carries the same timestamp, taken from the data (not the clock), for reproducible zips.
        moment = max(stamp.astimezone(dt.UTC), dt.datetime(1980, 1, 1, tzinfo=dt.UTC))
        self.date_time = moment.timetuple()[:6]
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6, allowZip64=True)
        self.files: dict[str, FileEntry] = {}

    @contextlib.contextmanager
    def member(self, name: str) -> Iterator[Member]:
        if name in self.files:
            raise BundleError(f"{name}: written twice")
        info = zipfile.ZipInfo(name, self.date_time)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with self.zip.open(info, "w", force_zip64=True) as handle:
            member = Member(handle, name, self.guard)
            yield member
            member.flush()
        self.files[name] = FileEntry(name, member.size, member.sha.hexdigest())

    def write_bytes(self, name: str, data: bytes) -> FileEntry:
        with self.member(name) as member:
            member.write(data)
        return self.files[name]

    def close(self) -> None:
        self.zip.close()
