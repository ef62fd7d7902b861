"""Who is asking: tokens configured by their SHA-256, each with a role and, for auditors, a scope.

An `auditor` sees the frameworks and the audit window its token names; an `engineer` sees everything.
Both only read. A token is presented as `Authorization: Bearer …` or, after signing in on /login, as an
HttpOnly, SameSite=Strict cookie.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from collector.config import ConfigError, PortalConfig, PortalToken, PortalTokens, format_validation_error, read_yaml

COOKIE = "ea_token"
AUDITOR, ENGINEER = "auditor", "engineer"


class Unauthorized(Exception):
    """No token, or one that matches no configured hash: 401."""


class Forbidden(Exception):
    """A valid token asking for something outside its scope: 403."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    frameworks: tuple[str, ...] | None = None  # None: every framework
    window: tuple[dt.datetime, dt.datetime] | None = None  # [start, end) in UTC; None: unbounded

    @property
    def is_engineer(self) -> bool:
        return self.role == ENGINEER

    def require_engineer(self, what: str) -> None:
        if not self.is_engineer:
            raise Forbidden(f"{what} is for engineer tokens")

    def require_framework(self, framework: str) -> None:
        if self.frameworks is not None and framework not in self.frameworks:
            raise Forbidden(f"framework {framework!r} is outside this token's scope")

    def require_moment(self, moment: dt.datetime, what: str) -> None:
        if self.window and not self.window[0] <= moment <= self.window[1]:
            raise Forbidden(f"{what} {_day(moment)} is outside the audit window {self.window_text()}")

    def window_text(self) -> str:
        if not self.window:
            return "unbounded"
        return f"{_day(self.window[0])} to {_day(self.window[1] - dt.timedelta(seconds=1))}"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": self.role,
            "frameworks": list(self.frameworks or []) or None,
            "window": {"from": _day(self.window[0]), "to": _day(self.window[1] - dt.timedelta(seconds=1))}
            if self.window
            else None,
        }


def _day(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _principal(token: PortalToken) -> Principal:
    window = None
    if token.window is not None:
        start = dt.datetime.combine(token.window.start, dt.time(), dt.UTC)
        end = dt.datetime.combine(token.window.end, dt.time(), dt.UTC) + dt.timedelta(days=1)
        window = (start, end)
    return Principal(token.name, token.role, tuple(token.frameworks) if token.frameworks else None, window)


class TokenBook:
    """The configured tokens, by hash. Only hashes are ever held."""

    def __init__(self, tokens: list[PortalToken]):
        self._by_hash = {t.sha256: _principal(t) for t in tokens}

    def __len__(self) -> int:
        return len(self._by_hash)

    def principals(self) -> list[Principal]:
        return list(self._by_hash.values())

    def lookup(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("sign in with a token")
        digest = hash_token(token)
        for known, principal in self._by_hash.items():
            if hmac.compare_digest(known, digest):
                return principal
        raise Unauthorized("the token is not valid")


def load_tokens(portal: PortalConfig, tokens_file: Path | None = None) -> TokenBook:
    """The config's tokens plus those of the tokens file (`--tokens-file` wins over `portal.tokens_file`)."""
    tokens = list(portal.tokens)
    path = tokens_file or portal.tokens_file
    if path is not None:
        data = read_yaml(path)
        try:
            tokens += PortalTokens.model_validate(data).tokens
        except ValidationError as exc:
            raise ConfigError(format_validation_error(str(path), exc)) from None
    try:
        PortalTokens(tokens=tokens)  # names and hashes unique across the config and the file
    except ValidationError as exc:
        raise ConfigError(format_validation_error(str(path or "portal.tokens"), exc)) from None
    if not tokens:
        raise ConfigError(
            "portal.tokens_file: no token is configured, so nobody could sign in "
            "(create one with `evidence-agent portal token`)"
        )
    return TokenBook(tokens)
