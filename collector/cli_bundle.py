"""`evidence-agent bundle create|verify` and `evidence-agent keys generate`: evidence bundles for auditors.

Exit codes as for every command: 0 ok, 1 the bundle does not verify (or could not be written),
2 usage error (unknown framework or control, --from after --to, unreadable key, not a zip file).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from collector.config import ConfigError

bundle_app = typer.Typer(help="Evidence bundles for auditors: create one for a period, verify one offline.",
                         no_args_is_help=True)  # fmt: skip
keys_app = typer.Typer(help="Ed25519 keys that sign bundle manifests.", no_args_is_help=True)

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, highlight=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file [env EVIDENCE_AGENT_CONFIG; default ./evidence-agent.yaml]"),
]


class Format(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]


@bundle_app.command("create")
def create_cmd(
    framework: Annotated[str, typer.Option("--framework", help="iso27001-2022, soc2-2017, gdpr or ccpa.")],
    from_: Annotated[str, typer.Option("--from", help="First day (YYYY-MM-DD, UTC) or RFC 3339 time.")],
    to: Annotated[str, typer.Option("--to", help="Last day, included (YYYY-MM-DD) or an RFC 3339 end time.")],
    out_file: Annotated[Path, typer.Option("--out", help="The bundle zip to write.")],
    control: Annotated[list[str] | None, typer.Option("--control", help="Only this control (repeatable).")] = None,
    target: Annotated[list[str] | None, typer.Option("--target", help="Only this target (repeatable).")] = None,
    sample_date: Annotated[
        list[str] | None,
        typer.Option("--sample-date", help="A date (or time) an auditor samples: a snapshot as of then (repeatable)."),
    ] = None,
    sign_key: Annotated[Path | None, typer.Option("--sign-key", help="Ed25519 private key (PEM) to sign with.")] = None,
    config: ConfigOption = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Write an evidence bundle (zip) for a framework and a period.

    It holds the evidence and verdicts per control, the runs (the digest chain), gaps, drift, attachments, an
    OSCAL document, a readable index.html, a manifest with every file's sha256, SHA256SUMS, and optionally a
    signature.
    """
    from collector.bundle.create import BundleRequest, create_bundle
    from collector.bundle.keys import KeyFileError, load_private
    from collector.bundle.scope import parse_period, parse_samples
    from collector.bundle.secrets import secret_guard
    from collector.bundle.zipout import BundleError
    from collector.cli import catalog_for, read_engine
    from collector.config import config_path, database_url, load_config

    period = parse_period(from_, to)
    samples = parse_samples(sample_date or [], period)
    key = None
    if sign_key is not None:
        try:
            key = load_private(sign_key)
        except KeyFileError as exc:
            raise ConfigError(f"--sign-key: {exc}") from None
    if out_file.exists() and out_file.is_dir():
        raise ConfigError(f"--out: {out_file} is a directory")
    catalog = catalog_for(config)
    path, named = config_path(config)
    cfg = load_config(config) if named or path.exists() else None
    url = database_url(config)
    engine = read_engine(config)
    request = BundleRequest(framework, period, out_file, tuple(control or ()), tuple(target or ()), samples, key)
    try:
        result = create_bundle(engine, catalog, request, guard=secret_guard(url, cfg))
    except BundleError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    manifest = result.manifest
    if fmt == Format.json:
        summary = {key: manifest[key] for key in ("framework", "period", "filters", "chain", "signature")}
        sys.stdout.write(json.dumps({"bundle": str(result.path), "size": result.size, "files": len(manifest["files"]),
                                     **summary}, indent=2) + "\n")  # fmt: skip
        return
    chain = manifest["chain"]
    statuses: dict[str, int] = {}
    for c in manifest["controls"]:
        statuses[c["status"]] = statuses.get(c["status"], 0) + 1
    out.print(f"wrote {result.path} ({result.size:,} bytes, {len(manifest['files'])} files): {framework}, "
              f"{manifest['period']['from']} to {manifest['period']['to']}", markup=False)  # fmt: skip
    out.print("controls: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    heads = (f"first run {chain['first']['id']} {chain['first']['digest']}, last run {chain['last']['id']} "
             f"{chain['last']['digest']}" if chain["first"] else "no run in the period")  # fmt: skip
    out.print(f"chain: {chain['runs']} runs in the period; {heads}")
    out.print(f"signed with key sha256:{manifest['signature']['public_key_sha256']}" if manifest["signature"]
              else "not signed (use --sign-key)")  # fmt: skip


@bundle_app.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="The bundle zip.")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="The signer's Ed25519 public key (PEM) you trust.")
    ] = None,
    fmt: FormatOption = Format.table,
) -> None:
    """Check a bundle offline; exit 0 only when everything holds, 1 otherwise.

    Checksums, manifest, signature, the run digest chain recomputed from the bundle's own evidence, evidence
    bound to the chain, attachments, OSCAL.
    """
    from collector.bundle.keys import KeyFileError, load_public
    from collector.bundle.verify import BundleFormatError, verify_bundle

    key = None
    if public_key is not None:
        try:
            key = load_public(public_key)
        except KeyFileError as exc:
            raise ConfigError(f"--public-key: {exc}") from None
    if not file.is_file():
        raise ConfigError(f"FILE: {file} is not a file")
    try:
        report = verify_bundle(file, key)
    except BundleFormatError as exc:
        raise ConfigError(f"FILE: {exc}") from None
    if fmt == Format.json:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        out.print(f"bundle {file}", markup=False)
        for check in report.checks:
            mark = "[green]ok    [/]" if check.ok else "[red]FAILED[/]"
            out.print(f"  {mark} {check.name:<12} ", end="")
            out.print(check.summary, markup=False)
            for problem in check.problems:
                out.print(f"           - {problem}", markup=False)
            if check.hidden:
                out.print(f"           - and {check.hidden} more")
        out.print("[green]verified[/]: every check holds" if report.ok else "[red]verification failed[/]")
    raise typer.Exit(0 if report.ok else 1)


@keys_app.command("generate")
def keys_generate_cmd(
    out_prefix: Annotated[Path, typer.Option("--out", help="Writes PREFIX.key (private, mode 0600) and PREFIX.pub.")],
    force: Annotated[bool, typer.Option("--force", help="Replace existing key files.")] = False,
) -> None:
    """Make an Ed25519 key pair for signing bundles (`bundle create --sign-key PREFIX.key`)."""
    from collector.bundle.keys import KeyFileError, generate

    try:
        private, public, fingerprint = generate(out_prefix, force=force)
    except KeyFileError as exc:
        raise ConfigError(f"--out: {exc}") from None
    out.print(f"private key {private} (keep it secret; mode 0600)\npublic key  {public} (give it to auditors)\n"
              f"fingerprint sha256:{fingerprint}")  # fmt: skip
