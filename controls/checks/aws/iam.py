"""IAM checks: the account password policy, users' credentials, the root user, full-administrator policies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from controls.base import Policy, Subject, Verdict, check


@check("aws.iam.account.password_policy_strong", reads="aws.iam.account.password_policy")
def password_policy_strong(subject: Subject, policy: Policy) -> Verdict:
    """The account password policy requires the configured minimum length and all character classes."""
    o = subject.observed
    if not o["present"]:
        return Verdict.failed("no password policy: AWS defaults apply")
    problems = []
    if (o["minimum_length"] or 0) < policy.min_password_length:
        problems.append(f"minimum length {o['minimum_length']} < {policy.min_password_length}")
    missing = [c for c in ("symbols", "numbers", "uppercase", "lowercase") if not o[f"require_{c}"]]
    if missing:
        problems.append(f"does not require {', '.join(missing)}")
    return Verdict.failed("; ".join(problems)) if problems else Verdict.passed("length and character classes met")


@check("aws.iam.account.password_reuse_prevented", reads="aws.iam.account.password_policy")
def password_reuse_prevented(subject: Subject, policy: Policy) -> Verdict:
    """The account password policy forbids reusing at least the configured number of previous passwords."""
    o = subject.observed
    minimum = policy.min_password_reuse_prevention
    if not o["present"]:
        return Verdict.failed("no password policy: previous passwords may be reused")
    remembered = o["reuse_prevention"] or 0
    if remembered < minimum:
        return Verdict.failed(f"remembers {remembered} previous passwords (min {minimum})")
    return Verdict.passed(f"remembers {remembered} previous passwords (min {minimum})")


# --------------------------------------------------------------------------- users (credential report)

KEY_SLOTS = (1, 2)


def _active_keys(observed: Mapping[str, Any]) -> list[int]:
    return [n for n in KEY_SLOTS if observed[f"access_key_{n}_active"]]


@check("aws.iam.user.console_mfa_enabled", reads="aws.iam.user.credentials")
def user_console_mfa_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every IAM user with a console password has an MFA device enabled."""
    o = subject.observed
    if not o["password_enabled"]:
        return Verdict.not_applicable("no console password")
    if o["mfa_active"]:
        return Verdict.passed("console password with MFA")
    return Verdict.failed(f"{o['user_name']} has a console password without MFA")


@check("aws.iam.user.active_access_keys_limited", reads="aws.iam.user.credentials")
def user_active_access_keys_limited(subject: Subject, policy: Policy) -> Verdict:
    """An IAM user has at most one active access key."""
    active = _active_keys(subject.observed)
    if not active:
        return Verdict.not_applicable("no active access key")
    if len(active) > 1:
        return Verdict.failed(f"{subject.observed['user_name']} has access keys 1 and 2 both active")
    return Verdict.passed(f"one active access key (key {active[0]})")


@check("aws.iam.user.access_keys_used", reads="aws.iam.user.credentials")
def user_access_keys_used(subject: Subject, policy: Policy) -> Verdict:
    """Every active access key of an IAM user has been used at least once (no credential issued and left idle)."""
    o = subject.observed
    active = _active_keys(o)
    if not active:
        return Verdict.not_applicable("no active access key")
    never = [n for n in active if o[f"access_key_{n}_last_used"] is None]
    if never:
        return Verdict.failed(
            "; ".join(
                f"access key {n} is active but was never used (issued {o[f'access_key_{n}_last_rotated'] or 'unknown'})"
                for n in never
            )
        )
    return Verdict.passed(f"active access key{'s' if len(active) > 1 else ''} {' and '.join(map(str, active))} used")


def _observed_at(subject: Subject) -> dt.datetime:
    """When the evidence was observed: credential ages are measured against it, never against a clock."""
    if subject.at is None:
        raise ValueError("judging a credential's age needs the time the evidence was observed (Subject.at)")
    return subject.at


def _time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


@check("aws.iam.user.access_keys_rotated", reads="aws.iam.user.credentials")
def user_access_keys_rotated(subject: Subject, policy: Policy) -> Verdict:
    """Every active access key of an IAM user is younger than the policy's maximum access key age."""
    o = subject.observed
    active = _active_keys(o)
    if not active:
        return Verdict.not_applicable("no active access key")
    at, limit = _observed_at(subject), policy.max_access_key_age_days
    young, old = [], []
    for n in active:
        created = o[f"access_key_{n}_last_rotated"]
        if created is None:  # the report always dates a key; without a date its age cannot be shown
            old.append(f"access key {n} is active but has no creation date")
            continue
        age = at - _time(created)
        (young if age < dt.timedelta(days=limit) else old).append(f"access key {n} is {age.days} days old")
    if old:
        return Verdict.failed(f"{o['user_name']}: {'; '.join(old)} (max {limit})")
    return Verdict.passed(f"{'; '.join(young)} (max {limit})")


@check("aws.iam.user.unused_credentials_disabled", reads="aws.iam.user.credentials")
def user_unused_credentials_disabled(subject: Subject, policy: Policy) -> Verdict:
    """No console password or active access key of an IAM user has gone unused for more than the policy's maximum
    number of days; a credential never used counts from when it was issued."""
    o = subject.observed
    credentials = [("console password", o["password_last_used"], o["password_last_changed"] or o["created"])]
    credentials = credentials if o["password_enabled"] else []
    credentials += [
        (f"access key {n}", o[f"access_key_{n}_last_used"], o[f"access_key_{n}_last_rotated"] or o["created"])
        for n in _active_keys(o)
    ]
    if not credentials:
        return Verdict.not_applicable("no console password or active access key")
    at, limit = _observed_at(subject), policy.max_unused_credential_days
    recent, stale = [], []
    for name, last_used, issued in credentials:
        used, set_at = (_time(last_used) if last_used else None), _time(issued)
        idle = at - max(t for t in (used, set_at) if t is not None)
        if used is None:
            text = f"{name} never used, issued {idle.days} days ago"
        elif set_at > used:  # a password set again after its last use: the new one has not been used
            text = f"{name} not used since it was set {idle.days} days ago"
        else:
            text = f"{name} last used {idle.days} days ago"
        (stale if idle > dt.timedelta(days=limit) else recent).append(text)
    if stale:
        return Verdict.failed(f"{o['user_name']}: {'; '.join(stale)} (max {limit})")
    return Verdict.passed(f"{'; '.join(recent)} (max {limit})")


# --------------------------------------------------------------------------- root user


@check("aws.iam.account.root_mfa_enabled", reads="aws.iam.account.root")
def root_mfa_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The root user has MFA enabled (the live account summary decides; the credential report can lag 4 h)."""
    o = subject.observed
    if not o["account_mfa_enabled"]:
        return Verdict.failed("root user has no MFA device")
    if not o["mfa_active"]:
        return Verdict.passed("root MFA on (account summary; the credential report, up to 4 h old, shows none yet)")
    return Verdict.passed("root MFA on")


@check("aws.iam.account.root_access_keys_absent", reads="aws.iam.account.root")
def root_access_keys_absent(subject: Subject, policy: Policy) -> Verdict:
    """The root user has no access keys (the live account summary decides; the credential report can lag 4 h)."""
    o = subject.observed
    active = o["active_access_keys"]
    if o["account_access_keys_present"]:
        if active:
            return Verdict.failed(f"root user has {active} active access key{'s' if active > 1 else ''}")
        return Verdict.failed("root user has access keys (inactive in the credential report)")
    if active:
        return Verdict.passed(
            f"no root access keys (account summary; the credential report, up to 4 h old, still shows {active} active)"
        )
    return Verdict.passed("no root access keys")


# --------------------------------------------------------------------------- policies granting full admin


def _holders(observed: Mapping[str, Any]) -> str:
    parts = [f"{kind} {', '.join(observed[kind])}" for kind in ("users", "groups", "roles") if observed[kind]]
    return "; ".join(parts)


@check("aws.iam.policy.custom_admin_unattached", reads="aws.iam.policy.admin_access")
def custom_admin_unattached(subject: Subject, policy: Policy) -> Verdict:
    """No customer-managed or inline policy granting full administrator access (`*` on `*`) is attached."""
    o = subject.observed
    if o["policy_type"] == "aws_managed":
        return Verdict.not_applicable("AWS-managed AdministratorAccess: not a custom policy")
    if not o["grants_full_admin"]:
        return Verdict.passed("does not grant full administrator access")
    if not o["attachment_count"]:
        return Verdict.passed("grants full administrator access but is attached to no principal")
    holders = _holders(o) or f"{o['attachment_count']} principals"
    kind = "inline" if o["policy_type"] == "inline" else "customer-managed"
    return Verdict.failed(f"{kind} policy {o['policy_name']} grants *:* to {holders}")


@check("aws.iam.policy.admin_not_on_users", reads="aws.iam.policy.admin_access")
def admin_not_on_users(subject: Subject, policy: Policy) -> Verdict:
    """Full administrator access is held through groups or roles, never attached to or embedded in a user."""
    o = subject.observed
    if not o["grants_full_admin"]:
        return Verdict.not_applicable("does not grant full administrator access")
    if o["users"]:
        return Verdict.failed(f"{o['policy_name']} (full admin) attached directly to users {', '.join(o['users'])}")
    holders = _holders(o)
    return Verdict.passed(f"held only through {holders}" if holders else "attached to no user")
