"""What a bundle holds and how its lines are encoded: shared by `create` and the offline `verify`.

Pure: no store, no database. Every JSON line is canonical JSON (sorted keys, compact, UTF-8);
the run digest lines are encoded exactly as collector/store/chain.py encodes them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from connectors.base import canonical_json

FORMAT = "evidence-agent-bundle/1"

MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
SUMS = "SHA256SUMS"
INDEX_HTML = "index.html"
CONTROLS_CSV = "controls.csv"
RUNS = "runs.jsonl"
STATES = "states.jsonl"
GAPS = "gaps.jsonl"
DRIFT = "drift.jsonl"
ACCESS = "access.jsonl"  # the portal's access log of the period
ATTACHMENTS = "attachments/attachments.jsonl"
OSCAL = "oscal/assessment-results.json"
GENESIS = "0" * 64

# Members that are not listed in the manifest (the manifest cannot list itself, and the signature
# and SHA256SUMS are written after it).
UNLISTED = (MANIFEST, SIGNATURE, SUMS)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(value: str) -> str:
    """A path segment safe on every filesystem and shell: `Art.5(1)(e)` -> `Art.5_1_e`."""
    out = _UNSAFE.sub("_", value).strip("_")
    return out if out and out.strip(".") else "_" + out


def evidence_path(control_slug: str) -> str:
    return f"controls/{control_slug}/evidence.jsonl"


def sample_dir(label: str) -> str:
    return f"samples/{slug(label)}"


def record(value: Any) -> str:
    """One bundle JSON line (without the newline)."""
    return canonical_json(value)


def digest_line(line: dict | list) -> str:
    """A run digest input line, encoded as collector.store.chain encodes it."""
    if isinstance(line, list):
        return json.dumps(line, separators=(",", ":"), ensure_ascii=False)
    return canonical_json(line)


def obs_line(target: str, kind: str, resource_id: str, state_sha: str, blob_sha: str) -> str:
    return digest_line(["obs", target, kind, resource_id, state_sha, blob_sha])


def line_section(line: Any) -> str:
    """Which part of a run's digest input a line belongs to (obs lines are rebuilt from states.jsonl)."""
    if isinstance(line, dict):
        for key in ("unit", "gap", "open", "attachment", "end"):
            if key in line:
                return key
        if "run" in line and "prev" in line:
            return "header"
    elif isinstance(line, list) and line and line[0] in ("verdict", "verdict_end", "obs"):
        return str(line[0])
    return "unknown"


# Digest input order (collector/store/chain.py): obs lines come after the opens.
BEFORE_OBS = ("header", "unit", "gap", "open")


def ts(moment: dt.datetime | None) -> str | None:
    """RFC 3339 UTC with a Z, as every bundle record writes times."""
    if moment is None:
        return None
    if moment.tzinfo is not dt.UTC:
        moment = moment.astimezone(dt.UTC)
    return moment.isoformat().replace("+00:00", "Z")


def parse_ts(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
