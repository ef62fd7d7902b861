"""The contract between connectors and everything else.

A connector observes; it never judges and never persists. Each evidence kind is a
registered collecting generator that yields `Evidence` records, or raises
`CollectionError` when it could not look (never an empty result for "could not look").
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import fnmatch
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, TypeVar

T = TypeVar("T")

KIND_PATTERN = re.compile(r"^(aws|gcp|k8s)\.[a-z0-9_]+(\.[a-z0-9_]+){1,3}$")
GLOBAL = "global"


def agent_version() -> str:
    try:
        return metadata.version("evidence-agent")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


# --------------------------------------------------------------------------- canonical JSON


def to_jsonable(value: Any) -> Any:
    """Plain JSON-safe data: datetimes as RFC 3339 UTC, Decimals as numbers, bytes as base64."""
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=canonical_json) if isinstance(value, set | frozenset) else items
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"not JSON-safe: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Sorted keys, compact separators, UTF-8 text: the form every hash in the project is taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_hex(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def rfc3339(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime: evidence timestamps must be timezone-aware")
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- redaction

REDACTED = "[redacted]"
# Keys whose values are secrets wherever they appear (compared lower-case, without "_" and "-").
SECRET_KEYS = frozenset(
    {
        "secretstring", "secretbinary", "password", "passwd", "secretaccesskey", "sessiontoken",
        "token", "accesstoken", "refreshtoken", "idtoken", "bearertoken", "privatekey", "clientsecret",
        "secret", "apikey", "masteruserpassword", "authtoken", "plaintext", "ciphertextblob",
        "credentials", "kubeconfig", "clientkeydata", "clientcertificatedata",
    }
)  # fmt: skip
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def is_secret_key(key: str) -> bool:
    """A field name whose value is a secret wherever it appears (`Password`, `client_secret`, `SessionToken`)."""
    return key.lower().replace("_", "").replace("-", "") in SECRET_KEYS


def names_a_secret(label: str) -> bool:
    """A free-form name (a tag key such as `db-password`, `Stripe.API_Key`) that contains a secret field name.

    Broader than `is_secret_key`, for names people choose: compared lower-case without punctuation,
    so it errs towards hiding a value (`tokenizer-version` is hidden too)."""
    name = re.sub(r"[^a-z0-9]", "", label.lower())
    return any(word in name for word in SECRET_KEYS)


def redact(value: Any, extra_keys: frozenset[str] = frozenset()) -> Any:
    """Replace secret values by a marker, keeping the key so an auditor sees the field existed.

    Works on plain JSON-safe data; `extra_keys` adds kind-specific names (compared as given).
    """
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if (is_secret_key(k) or k in extra_keys) and v not in (None, "", [], {})
                else redact(v, extra_keys))
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [redact(v, extra_keys) for v in value]
    if isinstance(value, str) and _PEM_PRIVATE.search(value):
        return REDACTED
    return value


# --------------------------------------------------------------------------- evidence


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation of one resource's setting family (see docs/evidence.md)."""

    kind: str
    resource_id: str
    resource_type: str
    region: str
    observed: dict[str, Any]
    source: dict[str, Any]
    raw: dict[str, Any]
    collected_at: dt.datetime = field(default_factory=utcnow)

    def state_sha(self) -> str:
        """Identity of the state: changes exactly when the observed settings change."""
        return state_sha(self.kind, self.resource_id, self.observed)


def state_sha(kind: str, resource_id: str, observed: Mapping[str, Any]) -> str:
    return sha256_hex(canonical_json({"kind": kind, "observed": observed, "resource_id": resource_id}))


class GapReason(enum.StrEnum):
    DENIED = "denied"  # the identity may not read it
    DISABLED = "disabled"  # the API / service / region is not enabled
    TIMEOUT = "timeout"  # no answer within the deadline, or unreachable
    THROTTLED = "throttled"  # still throttled after the retry budget
    ERROR = "error"  # anything else: a bug or an unexpected answer


class CollectionError(Exception):
    """A unit could not be read. The runner records a gap with this reason; it is never "no resources"."""

    def __init__(self, reason: GapReason, message: str, *, operation: str | None = None):
        super().__init__(message)
        self.reason = GapReason(reason)
        self.message = message
        self.operation = operation

    def __str__(self) -> str:
        op = f" ({self.operation})" if self.operation else ""
        return f"{self.reason.value}{op}: {self.message}"


@dataclass(frozen=True, slots=True)
class UnitPlan:
    """One unit of a kind for one target, as the provider plans it.

    `scope` names the unit in the store (a region, `global`, `ACCOUNT/region` in organization
    mode); `context` and `argument` are what the kind's collect function is called with. A unit
    with `skip` is recorded as skipped (e.g. a region not enabled for the account); one with
    `error` could not even be planned and is recorded as a gap.
    """

    scope: str
    context: Any
    argument: str
    skip: str | None = None
    error: CollectionError | None = None


# --------------------------------------------------------------------------- kind registry

Collect = Callable[..., Iterator[Evidence]]


@dataclass(frozen=True, slots=True)
class KindSpec:
    name: str
    provider: str
    regional: bool
    permissions: tuple[str, ...]
    collect: Collect
    description: str

    def matches(self, patterns: tuple[str, ...] | list[str] | None) -> bool:
        return not patterns or any(fnmatch.fnmatchcase(self.name, p) for p in patterns)


_REGISTRY: dict[str, KindSpec] = {}


def evidence_kind(name: str, *, regional: bool, permissions: tuple[str, ...]) -> Callable[[Collect], Collect]:
    """Register a collecting generator as the source of one evidence kind."""
    if not KIND_PATTERN.match(name):
        raise ValueError(f"evidence kind {name!r} is not <provider>.<service>.<resource>.<setting>")
    if not permissions:
        raise ValueError(f"evidence kind {name!r} must declare the permissions it needs")

    def register(func: Collect) -> Collect:
        if name in _REGISTRY:
            raise ValueError(f"evidence kind {name!r} registered twice")
        doc = (func.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = KindSpec(
            name=name,
            provider=name.split(".", 1)[0],
            regional=regional,
            permissions=tuple(permissions),
            collect=func,
            description=doc[0] if doc else "",
        )
        return func

    return register


def registered_kinds(provider: str | None = None) -> list[KindSpec]:
    return sorted((s for s in _REGISTRY.values() if provider is None or s.provider == provider), key=lambda s: s.name)


def get_kind(name: str) -> KindSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown evidence kind {name!r}") from None


# --------------------------------------------------------------------------- shared per-run helpers


class RunMemo:
    """Values computed once per run and shared by kinds (a bucket list, the caller identity).

    Callers asking at the same time wait for the first to finish: one computation, not one each.
    A failed computation is not kept: the next caller tries again and gets its own error.
    """

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._computing: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: str, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._values:
                return self._values[key]
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = compute()
            with self._lock:
                self._values[key] = value
                self._computing.pop(key, None)
            return value


class WorkerPool:
    """Runs a unit's per-resource calls concurrently (`map` keeps the order); created on first use."""

    def __init__(self, size: int, name: str):
        self._size, self._name = size, name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def map(self, fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
        """`[fn(item) for item in items]`; the first exception is raised, as a plain loop would. Do not nest."""
        items = list(items)
        if len(items) <= 1:
            return [fn(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._size, thread_name_prefix=self._name)
            pool = self._pool
        return list(pool.map(fn, items))

    def close(self) -> None:
        # Take the pool out under the lock but wait for its workers outside it: a worker still running
        # (after another failed) may need a lock the caller holds elsewhere, e.g. in RunMemo.
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
