"""The secret values a bundle must never contain, gathered from the config, the environment and the database URL.

Evidence is redacted when collected (connectors.base.redact); this is the second line: values the
agent itself knows to be secret (a database password, alert sink URLs and keys, cloud credentials
in the environment) are looked for in every byte written to a bundle.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from collector.bundle.zipout import SecretGuard
from connectors.base import SECRET_KEYS

MIN_LENGTH = 8  # shorter values ("testing") would match ordinary words
SECRET_ENV = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|WEBHOOK|API_?KEY|PRIVATE_?KEY|ROUTING_?KEY|CREDENTIAL)", re.I)
NOT_A_VALUE = re.compile(r"_(FILE|PATH|DIR)$", re.I)  # AWS_WEB_IDENTITY_TOKEN_FILE names a file, it is not one
# Config fields that name where a secret lives: `url_env: SLACK_URL`, `secret_file: /run/secrets/hmac`.
POINTER = re.compile(r"^(url|secret|routing_key|token|password|api_key|webhook(_url)?)_(env|file)$")
URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:\s]+:([^/@\s]+)@", re.I)


def _normal(key: str) -> str:
    return key.lower().replace("_", "").replace("-", "")


def _from_config(value: Any, path: str = "config") -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}"
            if isinstance(item, str) and item:
                match = POINTER.match(str(key))
                if match and match.group(3) == "env" and os.environ.get(item):
                    yield f"the value of ${item} ({where})", os.environ[item]
                elif match and match.group(3) == "file":
                    try:
                        text = Path(item).expanduser().read_text(encoding="utf-8").strip()
                    except (OSError, UnicodeDecodeError):
                        text = ""
                    if text:
                        yield f"the content of {item} ({where})", text
                elif _normal(str(key)) in SECRET_KEYS:
                    yield where, item
            yield from _from_config(item, where)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _from_config(item, f"{path}[{i}]")
    elif isinstance(value, str):
        match = URL_PASSWORD.match(value)
        if match:
            yield f"a password in {path}", match.group(1)


def secret_guard(database_url: str | None, config: Any | None = None) -> SecretGuard:
    found: dict[str, str] = {}
    if database_url:
        password = sa.engine.make_url(database_url).password
        if password:
            found[str(password)] = "the database password"
    for name, value in os.environ.items():
        if SECRET_ENV.search(name) and not NOT_A_VALUE.search(name) and value:
            found.setdefault(value, f"the value of ${name}")
            match = URL_PASSWORD.match(value)
            if match:
                found.setdefault(match.group(1), f"a password in ${name}")
        elif name.endswith("DATABASE_URL"):
            match = URL_PASSWORD.match(value)
            if match:
                found.setdefault(match.group(1), f"a password in ${name}")
    if config is not None:
        dump = config.model_dump(mode="json") if hasattr(config, "model_dump") else config
        for label, value in _from_config(dump):
            found.setdefault(value, label)
    values = tuple((label, value.encode("utf-8")) for value, label in found.items() if len(value) >= MIN_LENGTH)
    return SecretGuard(values)
