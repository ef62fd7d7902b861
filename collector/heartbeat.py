"""The scheduler's liveness file, and the probe that reads it.

`evidence-agent schedule --heartbeat-file PATH` sets the file's modification time to "now" on every
scheduler tick (at least every 30 s while idle) and after every unit a run finishes, so its age
stays small while the process makes progress. The chart's liveness probe runs

    python -m collector.heartbeat PATH MAX_AGE_SECONDS

which exits 0 when the file was touched within MAX_AGE_SECONDS and 1 otherwise (missing, stale or
unreadable), with one line on stderr. It imports nothing but the standard library, so a probe every
few seconds costs milliseconds, and it needs no listening port.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path


def touch(path: Path, now: dt.datetime) -> None:
    """Record a sign of life at `now` (the file's mtime; its content says the same for humans)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(now.isoformat() + "\n", encoding="utf-8")
    stamp = now.timestamp()
    os.utime(tmp, (stamp, stamp))
    os.replace(tmp, path)  # atomic: the probe never reads a half-written file


def age(path: Path, now: float | None = None) -> float:
    """Seconds since the last sign of life; OSError when there is no file."""
    return (time.time() if now is None else now) - path.stat().st_mtime


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m collector.heartbeat PATH MAX_AGE_SECONDS\n")
        return 2
    path, max_age = Path(argv[0]), float(argv[1])
    try:
        seconds = age(path)
    except OSError as exc:
        sys.stderr.write(f"unhealthy: {path}: {exc.strerror or exc}\n")
        return 1
    if seconds > max_age:
        sys.stderr.write(f"unhealthy: last heartbeat {seconds:.0f}s ago (limit {max_age:.0f}s)\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
