"""Checks judge evidence: one pure function per expectation, no I/O.

A check reads the `observed` settings of one or more evidence kinds (plus the resource's id and
region, for residency) and the policy parameters in force, and returns a verdict with a one-line
reason. Checks never call an API and never touch the store.
"""

from __future__ import annotations

import datetime as dt
import enum
import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

CHECK_PATTERN = re.compile(r"^(aws|gcp|k8s)\.[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$")


class VerdictStatus(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class Verdict:
    status: VerdictStatus
    reason: str

    @classmethod
    def passed(cls, reason: str) -> Verdict:
        return cls(VerdictStatus.PASS, reason)

    @classmethod
    def failed(cls, reason: str) -> Verdict:
        return cls(VerdictStatus.FAIL, reason)

    @classmethod
    def not_applicable(cls, reason: str) -> Verdict:
        return cls(VerdictStatus.NOT_APPLICABLE, reason)


@dataclass(frozen=True, slots=True)
class Subject:
    """What a check sees of one evidence record.

    `at` is when the evidence was observed: checks that judge ages (an access key's) measure them
    against it, never against a clock, so a verdict can be recomputed for any point in time.
    """

    kind: str
    resource_id: str
    region: str
    observed: Mapping[str, Any]
    at: dt.datetime | None = None


DEFAULT_ADMIN_PORTS = (22, 23, 3389, 1433, 3306, 5432, 5984, 6379, 9200, 11211, 27017)


@dataclass(frozen=True)
class Policy:
    """Policy parameters checks use, with safe defaults; set in the config's `policy:` section."""

    allowed_regions: tuple[str, ...] = ()  # glob patterns (eu-*, europe-*, EU); empty: residency not judged
    max_access_key_age_days: int = 90
    max_unused_credential_days: int = 90  # a console password or active access key idle longer fails
    min_password_length: int = 14
    min_password_reuse_prevention: int = 24
    min_log_retention_days: int = 365
    min_backup_retention_days: int = 7
    max_key_rotation_days: int = 365
    required_pod_security_level: str = "restricted"
    admin_ports: tuple[int, ...] = DEFAULT_ADMIN_PORTS
    allowed_member_domains: tuple[str, ...] = ()  # GCP: IAM members allowed outside these are flagged
    # Data stores' tags (AWS): the keys that name an owner, and those that carry a classification level
    # (keys compared without regard to case: `Owner` and `owner` are the same label).
    owner_tag_keys: tuple[str, ...] = ("owner",)
    classification_tag_keys: tuple[str, ...] = ("data-classification", "classification")
    classification_levels: tuple[str, ...] = ("public", "internal", "confidential", "restricted")

    def region_allowed(self, region: str) -> bool:
        return any(fnmatch.fnmatch(region.lower(), pattern.lower()) for pattern in self.allowed_regions)


CheckFunction = Callable[[Subject, Policy], Verdict]


@dataclass(frozen=True)
class CheckSpec:
    id: str
    reads: tuple[str, ...]
    judge: CheckFunction
    description: str
    provider: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "provider", self.id.split(".", 1)[0])


_CHECKS: dict[str, CheckSpec] = {}


def check(check_id: str, *, reads: str | tuple[str, ...]) -> Callable[[CheckFunction], CheckFunction]:
    """Register a pure check of the evidence kind(s) it reads."""
    if not CHECK_PATTERN.match(check_id):
        raise ValueError(f"check id {check_id!r} is not <provider>.<service>.<resource>.<expectation>")
    kinds = (reads,) if isinstance(reads, str) else tuple(reads)

    def register(func: CheckFunction) -> CheckFunction:
        if check_id in _CHECKS:
            raise ValueError(f"check {check_id!r} registered twice")
        doc = (func.__doc__ or "").strip().splitlines()
        _CHECKS[check_id] = CheckSpec(check_id, kinds, func, doc[0] if doc else "")
        return func

    return register


def registered_checks(provider: str | None = None) -> list[CheckSpec]:
    return sorted((c for c in _CHECKS.values() if provider is None or c.provider == provider), key=lambda c: c.id)


def checks_reading(kind: str) -> list[CheckSpec]:
    return [c for c in registered_checks() if kind in c.reads]


def judge(spec: CheckSpec, subject: Subject, policy: Policy) -> Verdict:
    """Run one check. A check that raises on malformed evidence is a bug: the error says which one."""
    try:
        verdict = spec.judge(subject, policy)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"check {spec.id} failed on {subject.resource_id}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(verdict, Verdict):
        raise TypeError(f"check {spec.id} returned {type(verdict).__name__}, not a Verdict")
    return verdict
