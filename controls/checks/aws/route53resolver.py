"""Route 53 Resolver DNS Firewall checks: each VPC's DNS queries pass a firewall that blocks known-bad domains.

Only associations whose status is `COMPLETE` (AWS's settled status; `UPDATING` while one is being made or
changed, `DELETING` while one goes away) count as filtering. A VPC whose firewall fails open still passes, with
the trade-off named in the reason: AWS's default is to fail closed, failing open is a documented choice of
availability over filtering, and the blocking rules are in force whenever the firewall answers.
"""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

IN_FORCE = "COMPLETE"
FAILS_OPEN = "fails open: queries are answered unfiltered when the firewall is impaired"


def _blocked(rule: dict) -> str:
    """What a BLOCK rule blocks, for the reason: its domain list (marked when AWS maintains it), or the rule
    itself when it has no list (a DNS Firewall Advanced rule)."""
    if rule["domain_list"] is None:
        return f"rule {rule['name']} (no domain list)"
    return f"{rule['domain_list']} (AWS-managed)" if rule["managed"] else rule["domain_list"]


def _named(groups: list[dict]) -> str:
    return ", ".join(g["name"] for g in groups)


@check("aws.route53resolver.vpc.malicious_domains_blocked", reads="aws.route53resolver.vpc.dns_firewall")
def malicious_domains_blocked(subject: Subject, policy: Policy) -> Verdict:
    """Every VPC's DNS queries pass a DNS Firewall rule group that blocks a domain list (e.g. AWS's threat lists)."""
    o = subject.observed
    groups = o["rule_groups"]
    if not groups:
        return Verdict.failed("no DNS Firewall rule group is associated with the VPC: its DNS queries are not filtered")
    in_force = [g for g in groups if g["status"] == IN_FORCE]
    if not in_force:
        pending = ", ".join(f"{g['name']} ({g['status']})" for g in groups)
        return Verdict.failed(f"no DNS Firewall rule group association is in force yet: {pending}")
    blocked = list(dict.fromkeys(_blocked(r) for g in in_force for r in g["block_rules"]))
    if not blocked:
        several = len(in_force) > 1
        verb = "allow or alert" if several else "allows or alerts"
        return Verdict.failed(f"rule group{'s' if several else ''} {_named(in_force)} only {verb}: nothing is blocked")
    reason = f"DNS queries to {', '.join(blocked)} are blocked"
    return Verdict.passed(f"{reason}; {FAILS_OPEN}" if o["fail_open"] else reason)
