"""Kubernetes API server checks, where its flags are visible (static pods): audit log, encryption of Secrets
at rest, anonymous requests, authorization mode, profiling."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

KIND = "k8s.core.control_plane.flags"
ENFORCING_MODES = frozenset({"RBAC", "Webhook", "ABAC"})


@check("k8s.core.control_plane.audit_logging_enabled", reads=KIND)
def audit_logging_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The API server writes an audit log under an audit policy."""
    o = subject.observed
    flags = (("--audit-log-path", "audit_log_path"), ("--audit-policy-file", "audit_policy_file"))
    missing = [flag for flag, key in flags if not o[key]]
    if missing:
        return Verdict.failed(f"no audit log: {' and '.join(missing)} not set")
    return Verdict.passed(f"audit log {o['audit_log_path']} (policy {o['audit_policy_file']})")


@check("k8s.core.control_plane.secrets_encryption_enabled", reads=KIND)
def secrets_encryption_enabled(subject: Subject, policy: Policy) -> Verdict:
    """The API server encrypts Secrets at rest in etcd (an encryption provider configuration is set)."""
    config = subject.observed["encryption_provider_config"]
    if config:
        return Verdict.passed(f"encryption provider config {config}")
    return Verdict.failed("--encryption-provider-config not set: Secrets are stored unencrypted in etcd")


@check("k8s.core.control_plane.anonymous_auth_disabled", reads=KIND)
def anonymous_auth_disabled(subject: Subject, policy: Policy) -> Verdict:
    """The API server rejects anonymous requests (--anonymous-auth=false)."""
    value = subject.observed["anonymous_auth"]
    if value is False:
        return Verdict.passed("--anonymous-auth=false")
    return Verdict.failed("anonymous requests accepted (--anonymous-auth " + ("unset)" if value is None else "true)"))


@check("k8s.core.control_plane.authorization_restricted", reads=KIND)
def authorization_restricted(subject: Subject, policy: Policy) -> Verdict:
    """The API server authorizes requests (RBAC or a webhook), never AlwaysAllow."""
    modes = subject.observed["authorization_modes"]
    if not modes or "AlwaysAllow" in modes:
        return Verdict.failed(f"authorization mode {','.join(modes) or 'unset'}: every request is allowed")
    if not ENFORCING_MODES.intersection(modes):
        return Verdict.failed(f"authorization mode {','.join(modes)}: no RBAC or webhook authorizer")
    return Verdict.passed(f"authorization mode {','.join(modes)}")


@check("k8s.core.control_plane.profiling_disabled", reads=KIND)
def profiling_disabled(subject: Subject, policy: Policy) -> Verdict:
    """The API server's profiling endpoints are off (--profiling=false)."""
    value = subject.observed["profiling"]
    if value is False:
        return Verdict.passed("--profiling=false")
    return Verdict.failed("profiling endpoints on (--profiling " + ("unset)" if value is None else "true)"))
