"""Recompute run digests offline: a bundle's run lines plus the `obs` lines rebuilt from its states.

A run's digest (collector/store/chain.py) covers one `obs` line per evidence state the run
observed: every state open at the run whose unit the run collected. A bundle does not repeat
those lines for every run (they would make it grow with runs, not with changes): `states.jsonl`
lists each state once, in the store's digest order, with its unit and the runs that opened and
ended it, and `ObsReplay` rebuilds any run's `obs` lines from it. Pure: no store, no database.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from collector.bundle.layout import BEFORE_OBS, digest_line, line_section, obs_line

UnitKey = tuple[str, str, str]  # (target, kind, scope)


@dataclass(slots=True)
class IndexedState:
    id: int
    position: int
    target: str
    kind: str
    scope: str
    resource_id: str
    state: str
    blob: str
    first_run: int
    ended_run: int | None
    line: bytes
    used: bool = False  # observed by at least one run of the bundle


class _Unit:
    """One unit's states in digest order while replaying runs: the open ones kept sorted, updated by events."""

    __slots__ = ("applied", "cursor", "data", "events", "fresh", "lines", "positions")

    def __init__(self) -> None:
        self.events: list[tuple[int, int, int]] = []  # (run id, 0 close / 1 open, position)
        self.cursor = 0
        self.applied: int | None = None
        self.positions: list[int] = []  # open states, sorted
        self.lines: list[bytes] = []  # their obs lines, same order
        self.fresh: set[int] = set()  # opened since the unit was last observed
        self.data: bytes | None = None  # b"".join(lines), until the next change

    def reset(self) -> None:
        self.cursor, self.applied, self.data = 0, None, None
        self.positions, self.lines, self.fresh = [], [], set()


class ObsReplay:
    """The states of a bundle in digest order; `observed(run, units)` gives a run's obs lines as bytes."""

    def __init__(self) -> None:
        self.states: list[IndexedState] = []
        self.units: dict[UnitKey, _Unit] = {}
        self._ready = True

    def add(self, *, id: int, target: str, kind: str, scope: str, resource_id: str, state: str, blob: str,
            first_run: int, ended_run: int | None) -> IndexedState:  # fmt: skip
        position = len(self.states)
        line = (obs_line(target, kind, resource_id, state, blob) + "\n").encode("utf-8")
        item = IndexedState(id, position, target, kind, scope, resource_id, state, blob, first_run, ended_run, line)
        self.states.append(item)
        unit = self.units.setdefault((target, kind, scope), _Unit())
        unit.events.append((first_run, 1, position))
        if ended_run is not None:
            unit.events.append((ended_run, 0, position))
        self._ready = False
        return item

    def _prepare(self) -> None:
        for unit in self.units.values():
            unit.events.sort()
        self._ready = True

    def _advance(self, unit: _Unit, run_id: int) -> None:
        if unit.applied is not None and run_id < unit.applied:
            unit.reset()  # runs of one unit come in id order (one writer per target); if not, replay from the start
        events, cursor = unit.events, unit.cursor
        while cursor < len(events) and events[cursor][0] <= run_id:
            _, opens, position = events[cursor]
            at = bisect.bisect_left(unit.positions, position)
            present = at < len(unit.positions) and unit.positions[at] == position
            if opens and not present:
                unit.positions.insert(at, position)
                unit.lines.insert(at, self.states[position].line)
                unit.fresh.add(position)
                unit.data = None
            elif not opens and present:
                del unit.positions[at]
                del unit.lines[at]
                unit.fresh.discard(position)
                unit.data = None
            cursor += 1
        unit.cursor, unit.applied = cursor, run_id

    def observed(self, run_id: int, units: Iterable[UnitKey]) -> list[bytes]:
        """The obs lines of run `run_id`, which collected `units`: the open states of those units, in order,
        as consecutive chunks (hashed one after another, never joined into one copy)."""
        if not self._ready:
            self._prepare()
        parts = []
        for key in units:
            unit = self.units.get(key)
            if unit is None:
                continue
            self._advance(unit, run_id)
            for position in unit.fresh:
                self.states[position].used = True
            unit.fresh.clear()
            if unit.positions:
                if unit.data is None:
                    unit.data = b"".join(unit.lines)
                parts.append(unit)
        parts.sort(key=lambda u: u.positions[0])
        if all(a.positions[-1] < b.positions[0] for a, b in itertools.pairwise(parts)):
            return [u.data for u in parts]  # type: ignore[misc]
        # Units whose resources interleave in digest order: merge by position.
        return [b"".join(self.states[p].line for p in sorted(p for u in parts for p in u.positions))]


def collected_units(lines: Sequence[Any]) -> list[UnitKey]:
    out = []
    for line in lines:
        if line_section(line) == "unit" and line.get("status") == "collected":
            target, kind, scope = line["unit"]
            out.append((target, kind, scope))
    return out


def obs_split(lines: Sequence[Any]) -> int:
    """Where the obs lines go: after the header, units, gaps and opens."""
    split = 0
    while split < len(lines) and line_section(lines[split]) in BEFORE_OBS:
        split += 1
    return split


def digest_of(encoded: Sequence[str], split: int, obs: Iterable[bytes]) -> str:
    """sha256 over encoded digest lines with the obs lines inserted at `split`."""
    h = hashlib.sha256()
    if split:
        h.update(("\n".join(encoded[:split]) + "\n").encode("utf-8"))
    for chunk in obs:
        h.update(chunk)
    if split < len(encoded):
        h.update(("\n".join(encoded[split:]) + "\n").encode("utf-8"))
    return h.hexdigest()


def run_digest(lines: Sequence[Any], obs: Iterable[bytes]) -> str:
    """sha256 over the run's digest lines, with its obs lines put back after the opens."""
    return digest_of([digest_line(line) for line in lines], obs_split(lines), obs)
