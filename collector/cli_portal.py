"""`evidence-agent serve` (the read-only auditor portal) and `evidence-agent portal token` (a new access token).

Exit codes as for every command: 0 ok, 2 usage or configuration error (no token configured, a bad
tokens file, an unreadable signing key, a port in use).
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from collector.config import ConfigError

portal_app = typer.Typer(help="The auditor portal: access tokens.", no_args_is_help=True)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file [env EVIDENCE_AGENT_CONFIG; default ./evidence-agent.yaml]"),
]


def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8080,
    tokens_file: Annotated[
        Path | None, typer.Option("--tokens-file", help="Tokens file (YAML `tokens:`); default portal.tokens_file.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Serve the read-only auditor portal: controls, evidence, runs, bundle downloads, /api/, /metrics.

    Every request needs a token configured by its SHA-256 (see `evidence-agent portal token`), except
    /healthz and the sign-in page. Every view and download is written to the store's access log.
    """
    import uvicorn

    from collector.bundle.create import BundleRequest, create_bundle
    from collector.bundle.keys import KeyFileError, load_private
    from collector.bundle.scope import parse_period
    from collector.bundle.secrets import secret_guard
    from collector.cli import catalog_for, read_engine
    from collector.config import PortalConfig, config_path, database_url, load_config
    from collector.portal.app import create_app
    from collector.portal.auth import load_tokens

    path, named = config_path(config)
    cfg = load_config(config) if named or path.exists() else None
    portal = cfg.portal if cfg is not None else PortalConfig()
    tokens = load_tokens(portal, tokens_file)
    key = None
    if portal.sign_key_file is not None:
        try:
            key = load_private(portal.sign_key_file)
        except KeyFileError as exc:
            raise ConfigError(f"portal.sign_key_file: {exc}") from None
    catalog = catalog_for(config)
    url = database_url(config)
    engine = read_engine(config)
    guard = secret_guard(url, cfg)

    def make_bundle(framework: str, first: str, last: str, out: Path) -> Path:
        request = BundleRequest(framework, parse_period(first, last), out, sign_key=key)
        return create_bundle(engine, catalog, request, guard=guard).path

    app = create_app(engine, catalog, tokens, session_hours=portal.session_hours, make_bundle=make_bundle)
    sys.stderr.write(f"evidence-agent portal on http://{host}:{port}/ ({len(tokens)} tokens)\n")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
    except OSError as exc:
        raise ConfigError(f"--port: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    finally:
        engine.dispose()


@portal_app.command("token")
def token_cmd(
    name: Annotated[str, typer.Option("--name", help="Who holds it (shown in the access log).")],
    role: Annotated[str, typer.Option("--role", help="auditor (scoped) or engineer (everything, read-only).")],
    framework: Annotated[
        list[str] | None, typer.Option("--framework", help="Auditor: a framework it may see (repeatable).")
    ] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Auditor: first day of the audit window.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Auditor: last day of the audit window (included).")] = None,
) -> None:
    """Make a new access token: prints the token once (give it to its holder) and the entry for the tokens
    file, which holds only its SHA-256."""
    from pydantic import ValidationError

    from collector.config import PortalToken, format_validation_error
    from collector.portal.auth import hash_token, new_token

    token = new_token()
    entry: dict[str, object] = {"name": name, "sha256": hash_token(token), "role": role}
    if framework:
        entry["frameworks"] = list(framework)
    if from_ or to:
        entry["window"] = {"from": from_, "to": to}
    try:
        PortalToken.model_validate(entry)
    except ValidationError as exc:
        lines = format_validation_error("token", exc)
        raise ConfigError([line.replace(": (top level)", "", 1) for line in lines]) from None
    if "window" in entry:
        entry["window"] = {k: dt.date.fromisoformat(str(v)).isoformat() for k, v in entry["window"].items()}  # type: ignore[union-attr]
    sys.stderr.write("The token (shown once; store it in a password manager and give it to its holder):\n")
    sys.stdout.write(f"{token}\n")
    sys.stderr.write("Add this entry under `tokens:` in the portal's tokens file (it holds no secret):\n")
    sys.stderr.write(yaml.safe_dump([entry], sort_keys=False))
