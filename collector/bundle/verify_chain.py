"""The verification checks that bind a bundle's evidence to its run digest chain: chain, evidence, gaps,
attachments. Pure: they read the zip (collector.bundle.reader), never the store."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from collector.bundle.chainlines import IndexedState, ObsReplay, collected_units, run_digest
from collector.bundle.layout import ATTACHMENTS, GAPS, RUNS, STATES, line_section, parse_ts
from collector.bundle.reader import Bundle, Check, same_time
from connectors.base import canonical_json, sha256_hex, state_sha

EVIDENCE = re.compile(r"^(controls|samples)/[^/]+/evidence\.jsonl$")


@dataclass
class ChainFacts:
    """What the run lines say, for binding evidence to them."""

    runs: set[int] = field(default_factory=set)
    states: dict[int, IndexedState] = field(default_factory=dict)
    by_key: dict[tuple[str, str, str, str, str], IndexedState] = field(default_factory=dict)
    # (target, kind, resource, state, run) -> (at, blob / reason): a state that comes back is opened again
    # by a later run, so the run is part of the key
    opens: dict[tuple[str, str, str, str, int], tuple[str, str]] = field(default_factory=dict)
    ends: dict[tuple[str, str, str, str, int], tuple[str, str]] = field(default_factory=dict)
    verdicts: set[tuple] = field(default_factory=set)
    verdict_ends: set[tuple] = field(default_factory=set)
    attachments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    gaps: set[tuple] = field(default_factory=set)


def _load_states(bundle: Bundle, check: Check, facts: ChainFacts) -> ObsReplay:
    replay = ObsReplay()
    if STATES not in bundle.hashes:
        check.fail(f"{STATES} is missing")
        return replay
    for number, item in bundle.lines(STATES):
        try:
            state = replay.add(id=int(item["id"]), target=item["target"], kind=item["kind"], scope=item["scope"],
                               resource_id=item["resource_id"], state=item["state_sha256"], blob=item["blob_sha256"],
                               first_run=int(item["first_seen_run"]),
                               ended_run=None if item["ended_run"] is None else int(item["ended_run"]))  # fmt: skip
        except (TypeError, KeyError, ValueError) as exc:
            check.fail(f"{STATES} line {number}: malformed ({exc})")
            continue
        facts.states[state.id] = state
        facts.by_key[(state.target, state.kind, state.resource_id, state.state, state.blob)] = state
    return replay


def _note_lines(run_id: int, lines: list[Any], facts: ChainFacts) -> None:
    for line in lines:
        section = line_section(line)
        if section == "open":
            facts.opens[(*line["open"], line["state"], run_id)] = (line["at"], line["blob"])
        elif section == "end":
            facts.ends[(*line["end"], line["state"], run_id)] = (line["at"], line["reason"])
        elif section == "verdict":
            facts.verdicts.add((*line[1:6], parse_ts(line[6])))
        elif section == "verdict_end":
            facts.verdict_ends.add((*line[1:5], parse_ts(line[5])))
        elif section == "attachment":
            facts.attachments.setdefault(run_id, []).append(line)
        elif section == "gap":
            facts.gaps.add((run_id, *line["gap"], line["reason"], line["operation"], line["message"],
                            parse_ts(line["at"])))  # fmt: skip


def check_chain(bundle: Bundle, manifest: dict[str, Any], check: Check) -> ChainFacts:
    facts = ChainFacts()
    replay = _load_states(bundle, check, facts)
    if RUNS not in bundle.hashes:
        check.fail(f"{RUNS} is missing")
        return facts
    period: list[dict[str, Any]] = []
    context: list[int] = []
    recomputed_ok = pruned = partly = 0
    for number, run in bundle.lines(RUNS):
        where = f"{RUNS} line {number}"
        if isinstance(run, dict) and run.get("pruned") and "lines" not in run:
            # A tombstone: retention removed its evidence, so its digest cannot be recomputed; it still links.
            pruned += 1
            if run.get("role") != "context":
                period.append({key: run.get(key) for key in ("id", "seq", "digest", "prev_digest")})
            continue
        try:
            run_id, lines, recorded = int(run["id"]), run["lines"], run["digest"]
            header = lines[0]
            where += f" (run {run_id}, seq {run['seq']})"
            if line_section(header) != "header" or header["run"] != run_id:
                check.fail(f"{where}: its first digest line is not this run's header")
            if header.get("prev") != run.get("prev_digest") or header.get("status") != run.get("status"):
                check.fail(f"{where}: the record's status or prev_digest differs from its hashed header")
            if not (same_time(header.get("started_at"), run.get("started_at"))
                    and same_time(header.get("finished_at"), run.get("finished_at"))):  # fmt: skip
                check.fail(f"{where}: the record's times differ from its hashed header")
            digest = run_digest(lines, replay.observed(run_id, collected_units(lines)))
            # Pruned in part: what is left recomputes to the residual digest its prune listed.
            residual = run["pruned"]["residual_digest"] if run.get("pruned") else None
        except (TypeError, KeyError, ValueError, IndexError, AttributeError) as exc:
            check.fail(f"{where}: malformed run record ({type(exc).__name__}: {exc})")
            continue
        if digest != (residual or recorded):
            check.fail(f"{where}: recomputed digest {digest[:16]}… differs from the recorded "
                       f"{'residual ' if residual else ''}{str(residual or recorded)[:16]}…: "
                       "its lines, or evidence states it observed, were altered")  # fmt: skip
        else:
            recomputed_ok += 1
            partly += residual is not None
        facts.runs.add(run_id)
        _note_lines(run_id, lines, facts)
        if run.get("role") == "context":
            context.append(run_id)
        else:  # only what the links need: the lines of every run are not kept
            period.append({key: run.get(key) for key in ("id", "seq", "digest", "prev_digest")})
    for before, after in itertools.pairwise(period):
        if after.get("seq") != before.get("seq", 0) + 1:
            check.fail(f"{RUNS}: run seq {before.get('seq', 0) + 1} is missing between run {before.get('id')} "
                       f"and run {after.get('id')}")  # fmt: skip
        if after.get("prev_digest") != before.get("digest"):
            check.fail(f"{RUNS}: run {after.get('id')} does not link to the digest of run {before.get('id')}")
    chain = manifest.get("chain") or {}
    first, last = chain.get("first"), chain.get("last")
    if (first or {}).get("digest") != (period[0]["digest"] if period else None):
        check.fail(f"the manifest's first run {(first or {}).get('id')} is not the first run in {RUNS}")
    if (last or {}).get("digest") != (period[-1]["digest"] if period else None):
        check.fail(f"the manifest's last run {(last or {}).get('id')} is not the last run in {RUNS}")
    if chain.get("runs") != len(period):
        check.fail(f"the manifest counts {chain.get('runs')} runs in the period, {RUNS} has {len(period)}")
    if sorted(chain.get("context_runs") or []) != sorted(context):
        check.fail(f"the manifest's context runs {chain.get('context_runs')} differ from {RUNS}'s {sorted(context)}")
    unused = [s for s in replay.states if not s.used]
    for state in unused[:3]:
        check.fail(f"{STATES}: state {state.id} ({state.kind} {state.resource_id}) is observed by no run in the bundle")
    if len(unused) > 3:
        check.fail(f"{STATES}: {len(unused) - 3} more states are observed by no run in the bundle")
    check.summary = (f"{recomputed_ok} of {len(period) + len(context)} run digests recomputed ({len(period)} in "
                     f"the period, {len(context)} context) from {len(replay.states)} states")  # fmt: skip
    if pruned:
        check.summary += f"; {pruned} pruned runs are tombstones (linked, not recomputable)"
    if partly:
        check.summary += f"; {partly} runs pruned in part recomputed to their residual digests"
    return facts


def _check_evidence_line(where: str, item: dict[str, Any], facts: ChainFacts, period: dict[str, Any],
                         check: Check) -> None:  # fmt: skip
    blob = sha256_hex(canonical_json({"observed": item["observed"], "raw": item["raw"], "source": item["source"]}))
    if blob != item["blob_sha256"]:
        check.fail(f"{where}: observed/raw/source do not hash to its blob_sha256: the evidence was edited")
        return
    if state_sha(item["kind"], item["resource_id"], item["observed"]) != item["state_sha256"]:
        check.fail(f"{where}: observed settings do not hash to its state_sha256: the evidence was edited")
        return
    key = (item["target"], item["kind"], item["resource_id"], item["state_sha256"], item["blob_sha256"])
    state = facts.states.get(item["state_id"]) if "state_id" in item else facts.by_key.get(key)
    if state is None or (state.target, state.kind, state.resource_id, state.state, state.blob) != key:
        check.fail(f"{where}: state {item.get('state_id', '')} ({item['resource_id']}) is not bound to the chain: "
                   "no run in the bundle observed it")  # fmt: skip
        return
    if not state.used:
        check.fail(f"{where}: state {state.id} is observed by no run in the bundle")
    first, ended = item.get("first_seen") or {}, item.get("ended")
    if "state_id" in item:
        if first.get("run") != state.first_run or (ended or {}).get("run", state.ended_run) != state.ended_run:
            check.fail(f"{where}: its first-seen or ended run differs from {STATES}")
        if not (parse_ts(first["at"]) < parse_ts(period["to"])
                and (ended is None or parse_ts(ended["at"]) > parse_ts(period["from"]))):  # fmt: skip
            check.fail(f"{where}: not valid during the bundle's period")
    opened = facts.opens.get((*key[:4], first.get("run")))
    if first.get("run") in facts.runs and (
        opened is None or not same_time(opened[0], first.get("at")) or opened[1] != key[4]
    ):
        check.fail(f"{where}: does not match the open line of run {first.get('run')}")
    if ended and ended.get("run") in facts.runs:
        closed = facts.ends.get((*key[:4], ended["run"]))
        if closed is None or not same_time(closed[0], ended.get("at")):
            check.fail(f"{where}: does not match the end line of run {ended.get('run')}")
    resource = (item["target"], item["resource_id"])
    for v in item.get("verdicts", []):
        v_first, v_ended = v["first_seen"], v.get("ended")
        opened_verdict = (v["check"], *resource, v["verdict"], v["reason"], parse_ts(v_first["at"]))
        if v_first["run"] in facts.runs and opened_verdict not in facts.verdicts:
            check.fail(f"{where}: verdict {v['check']} {v['verdict']} is not the one run {v_first['run']} recorded")
        if (
            v_ended
            and v_ended["run"] in facts.runs
            and ((v["check"], *resource, v_ended["reason"], parse_ts(v_ended["at"])) not in facts.verdict_ends)
        ):
            check.fail(f"{where}: the end of verdict {v['check']} is not the one run {v_ended['run']} recorded")


def check_evidence(bundle: Bundle, manifest: dict[str, Any], facts: ChainFacts) -> Check:
    check = Check("evidence")
    period = manifest.get("period") or {}
    if not period.get("from") or not period.get("to"):
        check.fail("the manifest has no period")
        return check
    checked = files = 0
    for name in sorted(n for n in bundle.hashes if EVIDENCE.match(n)):
        files += 1
        for number, item in bundle.lines(name):
            where = f"{name} line {number}"
            if isinstance(item, ValueError):
                check.fail(f"{where}: not JSON ({item})")
                continue
            try:
                _check_evidence_line(where, item, facts, period, check)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                check.fail(f"{where}: malformed evidence line ({type(exc).__name__}: {exc})")
            checked += 1
    check.summary = f"{checked} evidence lines in {files} files bound to the run chain"
    return check


def check_gaps(bundle: Bundle, facts: ChainFacts) -> Check:
    check = Check("gaps")
    if GAPS not in bundle.hashes:
        check.fail(f"{GAPS} is missing")
        return check
    count = 0
    for number, row in bundle.lines(GAPS):
        try:
            key = (row["run"]["id"], row["target"], row["kind"], row["scope"], row["reason"], row["operation"],
                   row["message"], parse_ts(row["recorded_at"]))  # fmt: skip
        except (KeyError, TypeError, ValueError) as exc:
            check.fail(f"{GAPS} line {number}: malformed ({exc})")
            continue
        if key[0] in facts.runs and key not in facts.gaps:
            check.fail(f"{GAPS} line {number}: not the gap run {key[0]} recorded")
        count += 1
    check.summary = f"{count} gaps, each as its run recorded it"
    return check


def check_attachments(bundle: Bundle, facts: ChainFacts) -> Check:
    check = Check("attachments")
    if ATTACHMENTS not in bundle.hashes:
        check.fail(f"{ATTACHMENTS} is missing")
        return check
    count = 0
    for number, row in bundle.lines(ATTACHMENTS):
        where = f"{ATTACHMENTS} line {number}"
        try:
            path, sha, run = row["path"], row["sha256"], (row.get("run") or {}).get("id")
            if path not in bundle.hashes:
                check.fail(f"{where}: its file {path} is missing")
                continue
            if bundle.hashes[path][1] != sha:
                check.fail(f"{path}: its sha256 differs from the one recorded when it was attached")
            if run in facts.runs and not any(
                a["blob"] == sha and a["attachment"] == [row["framework"], row["control"]]
                and a["filename"] == row["filename"] and a["effective"] == row["effective_date"]
                for a in facts.attachments.get(run, [])
            ):  # fmt: skip
                check.fail(f"{where}: does not match the attachment line of run {run}")
        except (KeyError, TypeError, AttributeError) as exc:
            check.fail(f"{where}: malformed ({exc})")
        count += 1
    check.summary = f"{count} attachments"
    return check
