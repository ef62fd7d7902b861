"""Reading a bundle zip for verification: members hashed once, JSONL read line by line, and the report types."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from collector.bundle.layout import parse_ts

SHOWN = 20  # problems listed per check; the rest are counted


class BundleFormatError(Exception):
    """The file is not a zip at all (a usage error, exit 2)."""


@dataclass
class Check:
    name: str
    summary: str = ""
    problems: list[str] = field(default_factory=list)
    hidden: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str) -> None:
        if len(self.problems) < SHOWN:
            self.problems.append(message)
        else:
            self.hidden += 1

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "summary": self.summary, "problems": self.problems,
                "more_problems": self.hidden}  # fmt: skip


@dataclass
class Report:
    path: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {"bundle": self.path, "ok": self.ok, "checks": [c.as_dict() for c in self.checks]}


def same_time(a: str | None, b: str | None) -> bool:
    try:
        return parse_ts(a) == parse_ts(b)
    except (TypeError, ValueError):
        return False


class Bundle:
    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        self.hashes: dict[str, tuple[int, str]] = {}
        self.damaged: dict[str, str] = {}

    def hash_members(self, check: Check) -> None:
        seen: set[str] = set()
        for info in self.zf.infolist():
            if info.is_dir():
                continue
            name = info.filename
            if name in seen:
                check.fail(f"{name}: appears twice in the zip")
            seen.add(name)
            if name.startswith("/") or ".." in name.split("/"):
                check.fail(f"{name}: unsafe path")
            h, size = hashlib.sha256(), 0
            try:
                with self.zf.open(info) as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        h.update(chunk)
                        size += len(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                self.damaged[name] = str(exc)
                check.fail(f"{name}: damaged in the zip ({exc})")
                continue
            self.hashes[name] = (size, h.hexdigest())

    def read(self, name: str) -> bytes | None:
        if name not in self.hashes:
            return None
        return self.zf.read(name)

    def lines(self, name: str) -> Iterator[tuple[int, Any]]:
        """(line number, parsed JSON or the ValueError) of a JSONL member."""
        with self.zf.open(name) as raw:
            for number, text in enumerate(io.TextIOWrapper(raw, encoding="utf-8"), 1):
                if not text.strip():
                    continue
                try:
                    yield number, json.loads(text)
                except ValueError as exc:
                    yield number, exc
