"""What the prune records of the chain say was pruned: per target horizons, and runs pruned in part.

A prune (collector/retention.py) appends a chain record whose `details` list, besides its tombstones:
- `targets`: per target, the retention applied and its cutoff (records made before per-target retention
  have one `horizon` for every target instead);
- `partial`: `[run id, seq, residual digest, [targets]]` for each run it removed some targets' rows
  from while others' stay. Such a run keeps its digest (the chain still links through it), and its
  residual digest, the same digest recomputed over what is left, is what `verify` checks it against.
  The record's own digest covers the list, so editing a residual breaks `verify` too. A later prune
  that removes more of the run lists it again: the newest listing wins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.store.models import Run

PRUNE = "prune"


@dataclass(frozen=True)
class Partial:
    residual: str  # the run's digest recomputed over what the prune left
    targets: tuple[str, ...]  # the targets whose old rows were pruned from it
    record: int  # the prune record that lists it


@dataclass(frozen=True)
class Horizon:
    before: dt.datetime
    held: list[tuple[dt.datetime, dt.datetime]]

    def covers(self, at: dt.datetime) -> bool:
        """Whether `at` falls in a pruned period (before the horizon and in no window a hold kept)."""
        return at < self.before and not any(a <= at <= b for a, b in self.held)


def parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _records(session: Session) -> list[Any]:
    return session.execute(
        sa.select(Run.id, Run.seq, Run.details).where(Run.record == PRUNE, Run.seq.is_not(None)).order_by(Run.seq)
    ).all()


def partial_runs(session: Session) -> dict[int, Partial]:
    """Runs pruned in part, each with the newest prune record's listing of it."""
    out: dict[int, Partial] = {}
    for record in _records(session):
        for run_id, _seq, residual, targets in (record.details or {}).get("partial", []):
            out[int(run_id)] = Partial(str(residual), tuple(targets), record.id)
    return out


def target_horizons(session: Session) -> dict[str, Horizon]:
    """Per target, what the newest prune that pruned it left: its cutoff, and the windows held then (kept whole)."""
    out: dict[str, Horizon] = {}
    for record in _records(session):
        details = record.details or {}
        held = [(parse_ts(h["from"]), parse_ts(h["to"])) for h in details.get("held", [])]
        if "targets" in details:
            cuts = {name: t["cutoff"] for name, t in details["targets"].items() if t.get("cutoff")}
        elif details.get("horizon"):  # one horizon for every target collected before it
            before = sa.select(Run.targets).where(Run.record == "collection", Run.seq < record.seq)
            names = {name for (targets,) in session.execute(before) for name in targets}
            cuts = dict.fromkeys(names, details["horizon"])
        else:
            cuts = {}
        out |= {name: Horizon(parse_ts(cutoff), held) for name, cutoff in cuts.items()}
    return out
