"""Kubernetes network checks: default-deny NetworkPolicies per namespace, TLS on ingresses."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check
from controls.checks.k8s.core import SYSTEM_NAMESPACES, namespace_of

NETWORK_POLICIES = "k8s.networking.namespace.network_policies"


def _default_deny(subject: Subject, direction: str) -> Verdict:
    o = subject.observed
    if namespace_of(subject) in SYSTEM_NAMESPACES:
        return Verdict.not_applicable("Kubernetes system namespace")
    if o[f"default_deny_{direction}"]:
        return Verdict.passed(f"{direction} denied by default ({o['policy_count']} policies)")
    if not o["policy_count"]:
        return Verdict.failed(f"no NetworkPolicy: all {direction} allowed")
    return Verdict.failed(f"no default-deny {direction} policy among {', '.join(o['policy_names'])}")


@check("k8s.networking.namespace.default_deny_ingress_enabled", reads=NETWORK_POLICIES)
def default_deny_ingress_enabled(subject: Subject, policy: Policy) -> Verdict:
    """A namespace denies ingress to its pods unless a NetworkPolicy allows it."""
    return _default_deny(subject, "ingress")


@check("k8s.networking.namespace.default_deny_egress_enabled", reads=NETWORK_POLICIES)
def default_deny_egress_enabled(subject: Subject, policy: Policy) -> Verdict:
    """A namespace denies egress from its pods unless a NetworkPolicy allows it."""
    return _default_deny(subject, "egress")


@check("k8s.networking.ingress.tls_enabled", reads="k8s.networking.ingress.tls")
def ingress_tls_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every host an Ingress serves is covered by its TLS section."""
    o = subject.observed
    if not o["tls_configured"]:
        hosts = ", ".join(o["rule_hosts"]) or "any host"
        return Verdict.failed(f"no TLS: {hosts} served over plain HTTP")
    if o["hosts_without_tls"]:
        return Verdict.failed(f"hosts without TLS: {', '.join(o['hosts_without_tls'])}")
    return Verdict.passed(f"TLS for {', '.join(o['rule_hosts']) or 'every host'}")
