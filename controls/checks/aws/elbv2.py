"""Elastic Load Balancing v2 checks: listeners encrypt traffic in transit, with TLS 1.2 or later."""

from __future__ import annotations

import re

from controls.base import Policy, Subject, Verdict, check

TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
# Predefined ELB security policies name their lowest TLS version: ELBSecurityPolicy-TLS13-1-2-2021-06,
# -TLS-1-1-2017-01, -FS-1-2-Res-2020-10. The three without one all accept TLS 1.0.
MIN_TLS_IN_NAME = re.compile(r"-(?:TLS13|TLS|FS)-1-([0-3])-")
TLS_1_0_POLICIES = frozenset({"ELBSecurityPolicy-2015-05", "ELBSecurityPolicy-2016-08", "ELBSecurityPolicy-FS-2018-06"})


def min_tls_version(ssl_policy: str) -> str | None:
    """The lowest TLS version a predefined ELB security policy accepts (`1.2`), or None when unknown."""
    if ssl_policy in TLS_1_0_POLICIES:
        return "1.0"
    match = MIN_TLS_IN_NAME.search(ssl_policy)
    return f"1.{match.group(1)}" if match else None


@check("aws.elbv2.listener.tls_enforced", reads="aws.elbv2.listener.tls")
def listener_tls_enforced(subject: Subject, policy: Policy) -> Verdict:
    """HTTP traffic reaches a load balancer only over HTTPS/TLS, or is redirected to HTTPS."""
    o = subject.observed
    protocol, port = o["protocol"], o["port"]
    if protocol is None:
        return Verdict.not_applicable("gateway load balancer listener: traffic is passed through")
    if protocol in TLS_PROTOCOLS:
        return Verdict.passed(f"{protocol} on port {port}")
    if protocol != "HTTP":
        return Verdict.not_applicable(f"{protocol} listener passes traffic through; its encryption is the targets'")
    if o["redirects_to_https"]:
        return Verdict.passed(f"HTTP on port {port} redirects to HTTPS")
    return Verdict.failed(f"plain HTTP on port {port} ({o['scheme']}), no redirect to HTTPS")


@check("aws.elbv2.listener.tls_policy_strong", reads="aws.elbv2.listener.tls")
def listener_tls_policy_strong(subject: Subject, policy: Policy) -> Verdict:
    """An HTTPS or TLS listener's security policy accepts only TLS 1.2 or later."""
    o = subject.observed
    if o["protocol"] not in TLS_PROTOCOLS:
        return Verdict.not_applicable(f"{o['protocol'] or 'gateway'} listener terminates no TLS")
    name = o["ssl_policy"]
    if name is None:
        return Verdict.failed(f"{o['protocol']} listener reports no security policy")
    version = min_tls_version(name)
    if version is None:
        return Verdict.failed(f"{name}: lowest TLS version unknown (not a predefined ELB policy name)")
    if version < "1.2":
        return Verdict.failed(f"{name} accepts TLS {version}")
    return Verdict.passed(f"{name} requires TLS {version} or later")
