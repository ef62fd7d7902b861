"""`evidence-agent`: the command line. Every read command takes `--format json` (shapes in docs/cli.md).

Exit codes: 0 ok / run complete, 1 failed, 2 usage or configuration error, 3 run partial,
4 another run holds the lock, 5 `collect --fail-on` saw a drift event of a type it names.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from collector.cli_bundle import bundle_app, keys_app
from collector.cli_portal import portal_app, serve_cmd
from collector.config import EVENT_TYPES, Config, ConfigError, Environment, database_url, load_config
from collector.log_setup import configure_logging
from collector.retention import RetentionError
from collector.store.chain import verify as verify_chain
from collector.store.engine import StoreError, display_url, make_engine, require_schema, upgrade
from collector.store.lock import LockHeld
from collector.store.models import RunStatus
from collector.store.query import EvidenceFilter, evidence, list_runs, run_gaps
from connectors.base import registered_kinds, rfc3339

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_LOCKED, EXIT_DRIFT = 0, 1, 2, 3, 4, 5
RUN_EXIT = {RunStatus.COMPLETE: EXIT_OK, RunStatus.PARTIAL: EXIT_PARTIAL, RunStatus.FAILED: EXIT_FAILED}

app = typer.Typer(
    name="evidence-agent",
    help="Continuous-compliance evidence agent: collect, keep and verify tamper-evident evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(bundle_app, name="bundle")
app.add_typer(keys_app, name="keys")
app.add_typer(portal_app, name="portal")

# Piped output (CI logs, files) gets room for long resource ids instead of rich's 80-column default.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"


ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file [env EVIDENCE_AGENT_CONFIG; default ./evidence-agent.yaml]"),
]
FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def parse_time(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{option}: {value!r} is not an RFC 3339 time such as 2026-11-27T10:00:00Z") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def read_engine(config: Path | None) -> sa.Engine:
    engine = make_engine(database_url(config))
    require_schema(engine)
    return engine


def write_engine(config: Config) -> sa.Engine:
    engine = make_engine(config.database_url)
    upgrade(engine)
    return engine


# --------------------------------------------------------------------------- collect


def parse_event_types(values: list[str] | None, option: str) -> list[str]:
    """`--type a,b --type c` -> [a, b, c], each a known drift event type."""
    types = [t.strip() for v in values or [] for t in v.split(",") if t.strip()]
    for t in types:
        if t not in EVENT_TYPES:
            raise ConfigError(f"{option}: unknown event type {t!r}; expected one of {', '.join(EVENT_TYPES)}")
    return types


def run_collection(
    cfg: Config,
    targets: list[str] | None,
    fmt: Format,
    open_target: Any = None,
    fail_on: list[str] | None = None,
    shard: dict[str, Any] | None = None,
) -> int:
    from collector.run import collect, default_open_target

    engine = write_engine(cfg)
    kwargs: dict[str, Any] = {"targets": targets, "open_target": open_target or default_open_target}
    show_progress = fmt == Format.table and err.is_terminal
    if show_progress:
        with Progress(
            TextColumn("collecting"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=err, transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task("", total=None)
            result = collect(
                cfg, engine,
                on_planned=lambda n: progress.update(task, total=n),
                on_unit=lambda u: progress.update(task, advance=1, description=f"{u.kind} {u.scope}"),
                **kwargs,
            )  # fmt: skip
    else:
        result = collect(cfg, engine, **kwargs)
    runs = {r["id"]: r for r in list_runs(engine, limit=50)}
    record = runs[result.run_id]
    gaps = run_gaps(engine, result.run_id)
    drift = result.drift
    if fmt == Format.json:
        emit_json({"run": record, "aborted_runs": result.aborted_runs, "gaps": gaps, "drift": drift}
                  | ({"shard": shard} if shard else {}))  # fmt: skip
    else:
        print_run_summary(record, gaps, result.aborted_runs)
        print_drift_summary(drift)
    code = RUN_EXIT.get(result.status, EXIT_FAILED)
    if fail_on and code in (EXIT_OK, EXIT_PARTIAL):
        if drift is None:
            err.print("[red]drift could not be computed, so --fail-on cannot be judged[/]")
            return EXIT_FAILED
        hits = Counter(e["type"] for e in drift if e["type"] in fail_on)
        if hits:
            err.print("failing on drift: " + ", ".join(f"{n} {t}" for t, n in sorted(hits.items())))
            return EXIT_DRIFT
    return code


def print_drift_summary(drift: list[dict[str, Any]] | None) -> None:
    if drift is None:
        out.print("[red]drift detection failed; the next run will compute it[/]")
    elif drift:
        counts = Counter(e["type"] for e in drift)
        out.print("drift: " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items())) + " (evidence-agent drift)")


def print_run_summary(record: dict[str, Any], gaps: list[dict[str, Any]], aborted: list[int]) -> None:
    for run_id in aborted:
        out.print(f"[yellow]run {run_id} had been interrupted and is now marked aborted[/]")
    c = record["counts"]
    colour = {"complete": "green", "partial": "yellow"}.get(record["status"], "red")
    out.print(
        f"run {record['id']} [{colour}]{record['status']}[/]: {c['collected']}/{c['units']} units collected, "
        f"{c['observed']} resources observed ({c['new']} new, {c['changed']} changed, "
        f"{c['removed']} removed), {c['gaps']} gaps"
    )
    for gap in gaps:
        out.print(
            f"  [red]gap[/] {gap['target']} {gap['kind']} {gap['scope']}: {gap['reason']}"
            f"{' (' + gap['operation'] + ')' if gap['operation'] else ''} {gap['message']}"
        )
    out.print(f"chain head {record['digest']}")


@app.command("collect")
def collect_cmd(
    config: ConfigOption = None,
    target: Annotated[list[str] | None, typer.Option("--target", "-t", help="Collect only this target.")] = None,
    fail_on: Annotated[
        list[str] | None,
        typer.Option("--fail-on", help="Exit 5 when this run raised drift of these types (comma-separated)."),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option("--shard", help="I/N: only the targets a stable hash of their name puts in shard I of N."),
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Run one collection. Exit 0 complete, 3 partial, 1 failed, 4 another run holds the lock, 5 --fail-on hit."""
    from collector.schedule import terminate_on_signals
    from collector.shard import parse_shard, shard_targets

    types = parse_event_types(fail_on, "--fail-on")
    part = parse_shard(shard) if shard is not None else None
    if part and target:
        raise ConfigError("--shard: cannot be combined with --target")
    cfg = load_config(config)
    described = None
    if part:
        target = shard_targets([t.name for t in cfg.targets], part)
        described = part.as_dict() | {"targets": target}
        if not target:
            if fmt == Format.json:
                emit_json({"run": None, "aborted_runs": [], "gaps": [], "drift": [], "shard": described})
            else:
                out.print(f"shard {part}: none of the {len(cfg.targets)} configured targets falls in this shard; "
                          "nothing to collect")  # fmt: skip
            raise typer.Exit(EXIT_OK)
        if fmt == Format.table:
            out.print(f"shard {part}: {', '.join(target)}")
    with terminate_on_signals():  # SIGTERM (a pod deleted or past its deadline) seals the run `aborted`
        code = run_collection(cfg, target, fmt, fail_on=types, shard=described)
    raise typer.Exit(code)


@app.command("schedule")
def schedule_cmd(
    config: ConfigOption = None,
    heartbeat_file: Annotated[
        Path | None,
        typer.Option("--heartbeat-file", help="Touch this file on every tick and finished unit (liveness probe)."),
    ] = None,
    run_now: Annotated[
        bool, typer.Option("--run-now", help="Collect every target once at start, then follow the schedules.")
    ] = False,
) -> None:
    """Run until SIGTERM, collecting each target on its `schedule:` cron (UTC), one run at a time."""
    from collector.schedule import serve

    raise typer.Exit(serve(load_config(config), heartbeat=heartbeat_file, run_now=run_now))


@app.command("drift")
def drift_cmd(
    config: ConfigOption = None,
    since: Annotated[str | None, typer.Option(help="Events at or after this RFC 3339 time.")] = None,
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Only these event types (repeat or comma-separate).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    run: Annotated[int | None, typer.Option(help="Only events of this run.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Newest N events.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Drift events: regressions, new failures, remediations, removals, collection gaps and their ends."""
    from collector.drift import list_events

    wanted = parse_event_types(types, "--type")
    moment = parse_time(since, "--since")
    rows = list_events(read_engine(config), since=moment, types=wanted, target=target, run_id=run, limit=limit)
    if fmt == Format.json:
        emit_json({"events": rows})
        return
    table = Table("id", "run", "at", "type", "severity", "target", "check / kind", "resource / scope", "reason",
                  "alert")  # fmt: skip
    for e in rows:
        sent = ", ".join(f"{d['sink']}:{d['status']}" for d in e["deliveries"]) or e["alert_state"]
        table.add_row(str(e["id"]), str(e["run_id"]), e["at"], e["type"], e["severity"], e["target"],
                      e["check_id"] or e["kind"], e["resource_id"] or e["scope"], e["reason"] or "", sent)  # fmt: skip
    out.print(table)


@app.command("diff")
def diff_cmd(
    run_a: Annotated[int, typer.Argument(help="The earlier run id.")],
    run_b: Annotated[int, typer.Argument(help="The later run id.")],
    config: ConfigOption = None,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Resource-level differences of observed settings and verdicts between what two runs knew."""
    from collector.diff import RunNotFound, diff_runs

    try:
        result = diff_runs(read_engine(config), run_a, run_b, target)
    except RunNotFound as exc:
        raise ConfigError(f"RUN: {exc}") from None
    if fmt == Format.json:
        emit_json(result)
        return
    table = Table("change", "target", "kind", "resource", "setting", "before", "after")
    for e in result["evidence"]:
        for c in e["settings"] or [{"path": "", "before": None, "after": None}]:
            table.add_row(e["change"], e["target"], e["kind"], e["resource_id"], c["path"],
                          json.dumps(c["before"]), json.dumps(c["after"]))  # fmt: skip
    out.print(table)
    verdicts = Table("target", "check", "resource", "before", "after")
    for v in result["verdicts"]:
        show = lambda x: f"{x['verdict']}: {x['reason']}" if x else "-"  # noqa: E731
        verdicts.add_row(v["target"], v["check_id"], v["resource_id"], show(v["before"]), show(v["after"]))
    out.print(verdicts)
    out.print(f"{len(result['evidence'])} resources with changed evidence, {len(result['verdicts'])} changed verdicts")


# --------------------------------------------------------------------------- reads


@app.command("runs")
def runs_cmd(
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Newest N runs.")] = 20,
    fmt: FormatOption = Format.table,
) -> None:
    """List runs, newest first, with status, counts and digests."""
    rows = list_runs(read_engine(config), limit=limit)
    if fmt == Format.json:
        emit_json({"runs": rows})
        return
    table = Table("run", "status", "started", "finished", "units", "gaps", "observed", "new", "changed",
                  "removed", "digest")  # fmt: skip
    for r in rows:
        c = r["counts"]
        table.add_row(
            str(r["id"]), r["status"], r["started_at"], r["finished_at"] or "",
            str(c["units"]), str(c["gaps"]),
            str(c["observed"]), str(c["new"]), str(c["changed"]), str(c["removed"]), (r["digest"] or "")[:16],
        )  # fmt: skip
    out.print(table)


@app.command("evidence")
def evidence_cmd(
    config: ConfigOption = None,
    kind: Annotated[str | None, typer.Option(help="Only this evidence kind.")] = None,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    resource: Annotated[str | None, typer.Option(help="Only this resource id.")] = None,
    at: Annotated[str | None, typer.Option(help="Evidence as it stood at this RFC 3339 time (UTC if no zone).")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Show evidence states: current ones, or those valid at --at."""
    moment = parse_time(at, "--at")
    engine = read_engine(config)
    pruned = pruned_before(engine, moment, target)
    if pruned is not None:  # a partial picture would mislead: say the period is gone
        horizon, targets = pruned
        if fmt == Format.json:
            emit_json({"at": rfc3339(moment), "pruned_before": horizon, "targets": targets, "evidence": None})  # type: ignore[arg-type]
        else:
            out.print(f"[yellow]{at} is before {horizon}: evidence of {', '.join(targets)} from then was pruned by "
                      "the retention policy[/]")  # fmt: skip
        return
    rows = evidence(engine, EvidenceFilter(kind=kind, target=target, resource=resource, at=moment))
    if fmt == Format.json:
        emit_json({"at": at and moment.isoformat().replace("+00:00", "Z"), "evidence": list(rows)})  # type: ignore[union-attr]
        return
    table = Table("target", "kind", "resource", "region", "observed", "since", "last seen")
    for r in rows:
        observed = ", ".join(f"{k}={v}" for k, v in r["observed"].items())
        table.add_row(r["target"], r["kind"], r["resource_id"], r["region"], observed, r["first_seen"]["at"],
                      r["last_seen"]["at"] or "")  # fmt: skip
    out.print(table)


@app.command("kinds")
def kinds_cmd(
    provider: Annotated[str | None, typer.Option(help="Only this provider (aws, gcp, k8s).")] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """List the registered evidence kinds with the permissions each needs."""
    specs = registered_kinds(provider)
    rows = [
        {"name": s.name, "provider": s.provider, "regional": s.regional, "permissions": list(s.permissions),
         "description": s.description}
        for s in specs
    ]  # fmt: skip
    if fmt == Format.json:
        emit_json({"kinds": rows})
        return
    table = Table("kind", "scope", "permissions", "description")
    for r in rows:
        table.add_row(r["name"], "regional" if r["regional"] else "global", "\n".join(r["permissions"]),
                      r["description"])  # fmt: skip
    out.print(table)


@app.command("verify")
def verify_cmd(config: ConfigOption = None, fmt: FormatOption = Format.table) -> None:
    """Recompute the run digest chain; cross-check every evidence row and blob. Exit 1 if anything broke."""
    result = verify_chain(read_engine(config))
    if fmt == Format.json:
        emit_json(result.as_dict())
    elif result.ok:
        pruned = (
            f"; {result.pruned_runs} runs pruned before {result.pruned_before} kept as tombstones"
            if result.pruned_runs
            else ""
        )
        if result.partly_pruned_runs:
            pruned += f"; {result.partly_pruned_runs} runs pruned in part checked by their residual digests"
        out.print(f"[green]chain verified[/]: {result.runs_checked} runs, head {result.head}{pruned}")
    else:
        first = result.problems[0]
        out.print(f"[red]verification failed[/]: first broken run {first.run_id}")
        for problem in result.problems:
            out.print(f"  run {problem.run_id}: {problem.message}")
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FAILED)


def pruned_before(engine: sa.Engine, at: dt.datetime | None, target: str | None) -> tuple[str, list[str]] | None:
    """When `at` falls in a pruned period of the target (of any target, without one): the newest such
    horizon and the targets pruned at `at`; else None."""
    from sqlalchemy.orm import Session

    from collector.store.pruned import target_horizons

    if at is None:
        return None
    with Session(engine) as session:
        horizons = target_horizons(session)
    covering = {name: h for name, h in horizons.items() if (target is None or name == target) and h.covers(at)}
    if not covering:
        return None
    return rfc3339(max(h.before for h in covering.values())), sorted(covering)


# --------------------------------------------------------------------------- retention

hold_app = typer.Typer(help="Legal holds: periods prune must keep.", no_args_is_help=True)
app.add_typer(hold_app, name="hold")


@app.command("prune")
def prune_cmd(
    config: ConfigOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be removed; change nothing.")] = False,
    fmt: FormatOption = Format.table,
) -> None:
    """Remove evidence older than `retention.keep_days` (global or the target's own; never held or still-open
    states); keep tombstones."""
    from collector.retention import configured, prune
    from collector.store.lock import run_lock
    from connectors.base import utcnow

    cfg = load_config(config)
    keeps = configured(cfg)
    if keeps is None:
        raise ConfigError("retention.keep_days: not set in the config (nor on any target), so nothing may be pruned")
    engine = write_engine(cfg)
    with run_lock(engine, [t.name for t in cfg.targets]):
        summary = prune(engine, keeps[0].days, keeps[0].runs_min, utcnow(), targets=keeps[1], dry_run=dry_run)
    if fmt == Format.json:
        emit_json(summary)
        return
    removed = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in summary["removed"].items())
    verb = "would remove" if dry_run else "removed"
    if not cfg.retention_overrides():
        out.print(f"prune before {summary['cutoff']} (keep {cfg.retention.keep_days} days): {verb} {removed}")
    else:
        out.print(f"prune: {verb} {removed}")
        for name, cut in summary["targets"].items():
            kept = f"keep {cut['keep_days']} days" if cut["keep_days"] else "keep everything"
            out.print(f"  target {name}: before {cut['cutoff'] or '-'} ({kept}, newest {cut['keep_runs_min']} runs)")
    for hold in summary["held"]:
        out.print(f"  kept by hold {hold['hold']}: {hold['from']} .. {hold['to']}")
    for why, n in summary["skipped"].items():
        out.print(f"  skipped {n} {why}")
    if summary["record"]:
        out.print(f"chain record: run {summary['record']}")


@hold_app.command("add")
def hold_add_cmd(
    framework: FrameworkOption,
    start: Annotated[str, typer.Option("--from", help="Start of the held period (RFC 3339 or date).")],
    end: Annotated[str, typer.Option("--to", help="End of the held period (RFC 3339 or date; a date is inclusive).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (an audit, a legal matter).")],
    by: Annotated[str | None, typer.Option("--by", help="Who places it (default: user@host).")] = None,
    config: ConfigOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Hold a framework's evidence for a period: prune keeps everything a bundle of it would include."""
    from collector.holds import add_hold
    from collector.retention import actor
    from connectors.base import utcnow

    catalog = catalog_for(config)
    check_framework(catalog, framework)
    begin, finish = parse_day(start, "--from", end_of_day=False), parse_day(end, "--to", end_of_day=True)
    engine = read_engine(config)
    hold = add_hold(engine, framework, begin, finish, reason, by or actor(), utcnow())
    emit_json(hold) if fmt == Format.json else out.print(
        f"hold {hold['id']} placed on {framework} {hold['from']} .. {hold['to']}"
    )


@hold_app.command("list")
def hold_list_cmd(config: ConfigOption = None, fmt: FormatOption = Format.table) -> None:
    """Every hold, active or released."""
    from collector.holds import list_holds

    holds = list_holds(read_engine(config))
    if fmt == Format.json:
        emit_json({"holds": holds})
        return
    table = Table("id", "framework", "from", "to", "reason", "by", "released")
    for h in holds:
        table.add_row(str(h["id"]), h["framework"], h["from"], h["to"], h["reason"], h["by"], h["released_at"] or "")
    out.print(table)


@hold_app.command("release")
def hold_release_cmd(
    hold_id: Annotated[int, typer.Argument(metavar="HOLD_ID", help="The hold to release.")],
    by: Annotated[str | None, typer.Option("--by", help="Who releases it (default: user@host).")] = None,
    config: ConfigOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Release a hold: its period is pruned again by the retention policy."""
    from collector.holds import release_hold
    from collector.retention import actor
    from connectors.base import utcnow

    hold = release_hold(read_engine(config), hold_id, by or actor(), utcnow())
    emit_json(hold) if fmt == Format.json else out.print(f"hold {hold['id']} released")


def parse_day(value: str, option: str, *, end_of_day: bool) -> dt.datetime:
    """A date (the whole day, UTC) or an RFC 3339 time."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        moment = parse_time(value, option)
        assert moment is not None
        return moment
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start + dt.timedelta(days=1, microseconds=-1) if end_of_day else start


# --------------------------------------------------------------------------- controls

controls_app = typer.Typer(help="Control status per framework at a point in time.", invoke_without_command=True)
app.add_typer(controls_app, name="controls")
FrameworkOption = Annotated[str, typer.Option("--framework", help="iso27001-2022, soc2-2017, gdpr or ccpa.")]
AtOption = Annotated[str | None, typer.Option("--at", help="As it stood at this RFC 3339 time (UTC if no zone).")]


def catalog_for(config: Path | None) -> Any:
    from collector.config import config_path
    from controls.catalog import load_catalog

    path, named = config_path(config)
    return load_config(config).catalog() if named or path.exists() else load_catalog()


def check_framework(catalog: Any, framework: str) -> None:
    if framework not in catalog.frameworks:
        raise ConfigError(f"--framework: unknown framework {framework!r} (known: {', '.join(catalog.frameworks)})")


@app.command("frameworks")
def frameworks_cmd(config: ConfigOption = None, fmt: FormatOption = Format.table) -> None:
    """List the framework catalogs with their control and mapping counts."""
    catalog = catalog_for(config)
    rows = [
        {"id": f.id, "title": f.title, "version": f.version, "controls": len(f.controls),
         "mapped_checks": len({link.check_id for link in f.links})}
        for f in catalog.frameworks.values()
    ]  # fmt: skip
    if fmt == Format.json:
        emit_json({"frameworks": rows, "catalog_digest": catalog.digest})
        return
    table = Table("framework", "title", "controls", "mapped checks")
    for r in rows:
        table.add_row(r["id"], r["title"], str(r["controls"]), str(r["mapped_checks"]))
    out.print(table)


@controls_app.callback()
def controls_cmd(
    ctx: typer.Context,
    framework: FrameworkOption = "iso27001-2022",
    config: ConfigOption = None,
    at: AtOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Status of every control of a framework: compliant, non_compliant, not_collected, not_applicable, manual."""
    if ctx.invoked_subcommand is not None:
        return
    from collector.compliance import control_statuses

    catalog = catalog_for(config)
    check_framework(catalog, framework)
    moment = parse_time(at, "--at")
    statuses = control_statuses(read_engine(config), catalog, framework, moment)
    if fmt == Format.json:
        emit_json({"framework": framework, "at": at and rfc3339(moment), "catalog_digest": catalog.digest,
                   "controls": [s.as_dict() for s in statuses]})  # type: ignore[arg-type]  # fmt: skip
        return
    colours = {"compliant": "green", "non_compliant": "red", "not_collected": "yellow", "manual": "blue"}
    table = Table("control", "title", "status", "checks", "resources", "failures", "gaps", "attachments")
    for s in statuses:
        table.add_row(s.id, s.title, f"[{colours.get(s.status, 'white')}]{s.status}[/]", str(len(s.checks)),
                      str(s.resources), str(s.failures), str(s.gaps), str(s.attachments))  # fmt: skip
    out.print(table)
    counts = Counter(s.status for s in statuses)
    out.print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))


@controls_app.command("show")
def controls_show_cmd(
    control: Annotated[str, typer.Argument(help="Control id, e.g. 8.24 or CC6.1.")],
    framework: FrameworkOption = "iso27001-2022",
    config: ConfigOption = None,
    at: AtOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """One control: its checks with strength and rationale, failing resources with reasons, gaps."""
    from sqlalchemy.orm import Session

    from collector.compliance import check_states, control_statuses

    catalog = catalog_for(config)
    check_framework(catalog, framework)
    try:
        catalog.framework(framework).control(control)
    except KeyError as exc:
        raise ConfigError(f"CONTROL: {exc.args[0]}") from None
    moment = parse_time(at, "--at")
    engine = read_engine(config)
    with Session(engine) as session:
        states = check_states(session, moment)
    status = next(s for s in control_statuses(engine, catalog, framework, moment, states=states) if s.id == control)
    detail = status.as_dict() | {"framework": framework, "checks": [
        c | {"passed": states[c["check"]].passed, "failed": states[c["check"]].failed,
             "not_applicable": states[c["check"]].not_applicable, "failures": states[c["check"]].failures,
             "gaps": states[c["check"]].gaps}
        for c in status.checks
    ]}  # fmt: skip
    if fmt == Format.json:
        emit_json(detail)
        return
    out.print(f"{framework} {control} {status.title}: [bold]{status.status}[/]")
    for c in detail["checks"]:
        out.print(f"  {c['check']} ({c['strength']}): {c['passed']} pass, {c['failed']} fail, "
                  f"{c['not_applicable']} n/a, {len(c['gaps'])} gaps — {c['rationale']}")  # fmt: skip
        for f in c["failures"]:
            out.print(f"    [red]fail[/] {f['resource_id']} ({f['region']}): {f['reason']}")
        for g in c["gaps"]:
            out.print(f"    [yellow]gap[/] {g['kind']} {g['target'] or ''} {g['scope'] or ''}: {g['reason']}")
    if not status.checks:
        out.print(f"  no automated check: manual evidence ({status.attachments} attachment(s))")


@app.command("findings")
def findings_cmd(
    config: ConfigOption = None,
    framework: Annotated[str | None, typer.Option(help="Only checks mapped to this framework.")] = None,
    control: Annotated[str | None, typer.Option(help="Only checks mapped to this control (with --framework).")] = None,
    check: Annotated[str | None, typer.Option(help="Only this check.")] = None,
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    status: Annotated[str | None, typer.Option(help="pass, fail or not_applicable.")] = None,
    at: AtOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """One row per check and resource: verdict, reason, region, mapped controls."""
    from collector.compliance import findings

    if status not in (None, "pass", "fail", "not_applicable"):
        raise ConfigError(f"--status: {status!r} is not one of pass, fail, not_applicable")
    if control and not framework:
        raise ConfigError("--control: needs --framework")
    catalog = catalog_for(config)
    if framework:
        check_framework(catalog, framework)
    try:
        rows = findings(read_engine(config), catalog, framework=framework, control=control, check=check,
                        target=target, status=status, at=parse_time(at, "--at"))  # fmt: skip
    except KeyError as exc:
        raise ConfigError(f"--control: {exc.args[0]}") from None
    if fmt == Format.json:
        emit_json({"findings": rows})
        return
    table = Table("check", "resource", "region", "verdict", "reason")
    for r in rows:
        table.add_row(r["check"], r["resource_id"], r["region"], r["verdict"], r["reason"])
    out.print(table)


@app.command("attach")
def attach_cmd(
    file: Annotated[Path, typer.Argument(help="The evidence file (policy, training record, ...).")],
    framework: Annotated[str, typer.Option("--framework", help="Framework id.")],
    control: Annotated[str, typer.Option("--control", help="Control id.")],
    note: Annotated[str | None, typer.Option(help="What the file shows.")] = None,
    effective: Annotated[str | None, typer.Option(help="Date from which it applies (YYYY-MM-DD).")] = None,
    config: ConfigOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Attach manual evidence to a control: hashed, stored, and sealed into the run chain."""
    from collector.attachments import attach

    catalog = catalog_for(config)
    check_framework(catalog, framework)
    try:
        day = dt.date.fromisoformat(effective) if effective else None
    except ValueError:
        raise ConfigError(f"--effective: {effective!r} is not a date such as 2026-01-31") from None
    engine = make_engine(database_url(config))
    upgrade(engine)
    record = attach(engine, catalog, framework, control, file, note=note, effective=day)
    result = {
        "id": record.id, "framework": framework, "control": control, "file": record.filename,
        "sha256": record.blob_sha, "effective": record.effective_date.isoformat(), "run": record.run_id,
    }  # fmt: skip
    if fmt == Format.json:
        emit_json(result)
    else:
        out.print(
            f"attached {record.filename} (sha256 {record.blob_sha}) to {framework} {control}, run {record.run_id}"
        )


@app.command("coverage")
def coverage_cmd(config: ConfigOption = None, fmt: FormatOption = Format.table) -> None:
    """Per framework: controls with a primary automated check, supporting checks only, or manual only."""
    from collector.compliance import coverage

    rows = coverage(catalog_for(config))
    if fmt == Format.json:
        emit_json({"coverage": rows})
        return
    table = Table("framework", "controls", "primary automated", "supporting only", "manual only")
    for r in rows:
        table.add_row(r["framework"], str(r["controls"]), str(r["primary"]), str(r["supporting_only"]),
                      str(r["manual_only"]))  # fmt: skip
    out.print(table)


class PermissionProvider(StrEnum):
    aws = "aws"
    gcp = "gcp"
    kubernetes = "kubernetes"


@app.command("permissions")
def permissions_cmd(
    provider: Annotated[PermissionProvider, typer.Argument(help="Cloud provider.")],
    config: ConfigOption = None,
    organization: Annotated[
        bool, typer.Option("--organization", help="The management-account policy for organization mode instead.")
    ] = False,
) -> None:
    """Print least privilege for the evidence kinds: AWS IAM policy JSON, GCP custom role JSON, or the
    Kubernetes ClusterRole YAML."""
    from collector.config import config_path
    from collector.permissions import aws_organization_policy, aws_policy, gcp_role, kubernetes_cluster_role

    if provider == PermissionProvider.kubernetes:
        sys.stdout.write(yaml.safe_dump(kubernetes_cluster_role(), sort_keys=False))
        return
    if provider == PermissionProvider.gcp:
        emit_json(gcp_role())
        return
    path, named = config_path(config)
    cfg = load_config(config) if named or path.exists() else None
    emit_json(aws_organization_policy() if organization else aws_policy(cfg))


@db_app.command("upgrade")
def db_upgrade_cmd(config: ConfigOption = None) -> None:
    """Create or migrate the database schema to this agent's version."""
    engine = make_engine(database_url(config))
    revision = upgrade(engine)
    out.print(f"{display_url(engine)} is at schema revision {revision}")


@app.command("demo")
def demo_cmd(
    workdir: Annotated[Path, typer.Option(help="Where the sandbox config and evidence database go.")] = Path("demo"),
    fmt: FormatOption = Format.table,
) -> None:
    """Collect from the embedded sandbox (fake AWS on loopback) into WORKDIR/evidence.db and summarise."""
    from collector.sandbox import run_demo

    raise typer.Exit(run_demo(workdir, fmt.value, out))


# --------------------------------------------------------------------------- entry point


app.command("serve")(serve_cmd)


def main() -> None:
    configure_logging(Environment().log_format)
    try:
        app()
    except ConfigError as exc:
        fail(exc.lines, EXIT_USAGE)
    except StoreError as exc:
        fail([str(exc)], EXIT_USAGE)
    except RetentionError as exc:
        fail([str(exc)], EXIT_USAGE)
    except LockHeld as exc:
        fail([f"{exc}; try again when it has finished"], EXIT_LOCKED)
    except sa.exc.OperationalError as exc:
        fail([f"database unavailable: {str(exc.orig).strip()}"], EXIT_FAILED)


def fail(lines: list[str], code: int) -> None:
    """One plain line per problem on stderr (never wrapped: scripts and log collectors read it)."""
    for line in lines:
        sys.stderr.write(f"error: {line}\n")
    sys.exit(code)


__all__ = ["app", "main", "run_collection"]
