"""Table tests of the DNS Firewall check: (observed, policy) -> verdict and reason.

The check's module is imported directly, so these run before it is registered in `controls.checks.aws`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks
from controls.checks.aws import route53resolver

PASS, FAIL = VerdictStatus.PASS, VerdictStatus.FAIL
CHECK = "aws.route53resolver.vpc.malicious_domains_blocked"
KIND = "aws.route53resolver.vpc.dns_firewall"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "aws" / f"{KIND}.json"


def verdict(observed: dict, policy: Policy | None = None) -> Verdict:
    spec = {c.id: c for c in registered_checks()}[CHECK]
    return judge(spec, Subject(KIND, "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-1", "eu-west-1", observed),
                 policy or Policy())  # fmt: skip


# Observed values as the golden fixture (tests/fixtures/aws/aws.route53resolver.vpc.dns_firewall.json) records them.
THREATS = {"name": "block-aws-threats", "domain_list": "AWSManagedDomainsAggregateThreatList", "managed": True,
           "block_response": "NXDOMAIN"}  # fmt: skip
DENYLIST = {"name": "block-acme-denylist", "domain_list": "acme-denylist", "managed": False,
            "block_response": "NODATA"}  # fmt: skip
BOTNETS = {"name": "block-botnet-c2", "domain_list": "AWSManagedDomainsBotnetCommandandControl", "managed": True,
           "block_response": "OVERRIDE"}  # fmt: skip
ADVANCED = {"name": "block-dga", "domain_list": None, "managed": False, "block_response": "NODATA"}
PROTECTION = {"name": "acme-dns-protection", "priority": 101, "status": "COMPLETE", "mutation_protection": True,
              "block_rules": [THREATS, DENYLIST], "other_rules": 1}  # fmt: skip
MONITORING = {"name": "legacy-dns-monitoring", "priority": 101, "status": "COMPLETE", "mutation_protection": False,
              "block_rules": [], "other_rules": 1}  # fmt: skip
WATCH = {**MONITORING, "name": "dns-watch"}
BOTNET_GROUP = {"name": "block-botnets", "priority": 200, "status": "COMPLETE", "mutation_protection": False,
                "block_rules": [BOTNETS], "other_rules": 0}  # fmt: skip
CLOSED = {"rule_groups": [PROTECTION], "fail_open": False}
ALERT_ONLY = {"rule_groups": [MONITORING], "fail_open": None}
NONE = {"rule_groups": [], "fail_open": None}
FAILS_OPEN = {"rule_groups": [WATCH, BOTNET_GROUP], "fail_open": True}

ROWS = [
    (CLOSED, PASS, "DNS queries to AWSManagedDomainsAggregateThreatList (AWS-managed), acme-denylist are blocked"),
    ({**CLOSED, "fail_open": None}, PASS, "(AWS-managed), acme-denylist are blocked"),
    (FAILS_OPEN, PASS, "DNS queries to AWSManagedDomainsBotnetCommandandControl (AWS-managed) are blocked; fails "
                       "open: queries are answered unfiltered when the firewall is impaired"),
    ({"rule_groups": [{**MONITORING, "block_rules": [DENYLIST]}], "fail_open": False}, PASS,
     "DNS queries to acme-denylist are blocked"),
    ({"rule_groups": [{**PROTECTION, "block_rules": [THREATS, THREATS]}], "fail_open": False}, PASS,
     "to AWSManagedDomainsAggregateThreatList (AWS-managed) are blocked"),
    ({"rule_groups": [{**MONITORING, "block_rules": [ADVANCED]}], "fail_open": False}, PASS,
     "DNS queries to rule block-dga (no domain list) are blocked"),
    (NONE, FAIL, "no DNS Firewall rule group is associated with the VPC: its DNS queries are not filtered"),
    ({**NONE, "fail_open": True}, FAIL, "no DNS Firewall rule group is associated with the VPC"),
    (ALERT_ONLY, FAIL, "rule group legacy-dns-monitoring only allows or alerts: nothing is blocked"),
    ({"rule_groups": [WATCH, {**MONITORING, "priority": 200}], "fail_open": False}, FAIL,
     "rule groups dns-watch, legacy-dns-monitoring only allow or alert: nothing is blocked"),
    ({"rule_groups": [{**PROTECTION, "status": "UPDATING"}], "fail_open": False}, FAIL,
     "no DNS Firewall rule group association is in force yet: acme-dns-protection (UPDATING)"),
    ({"rule_groups": [WATCH, {**BOTNET_GROUP, "status": "DELETING"}], "fail_open": False}, FAIL,
     "rule group dns-watch only allows or alerts: nothing is blocked"),
]  # fmt: skip


@pytest.mark.parametrize(("observed", "status", "reason"), ROWS)
def test_check_table(observed, status, reason):
    result = verdict(observed)
    assert result.status == status and reason in result.reason, result
    assert "\n" not in result.reason


def golden() -> list[dict]:
    """The `observed` of every case of the kind's golden fixture."""
    return [case["expected"]["observed"] for case in json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]]


def test_rows_use_exactly_the_golden_keys():
    keys = [list(observed) for observed in golden()]
    assert all(k == keys[0] for k in keys)
    group_keys = {tuple(g) for observed in golden() for g in observed["rule_groups"]}
    rule_keys = {tuple(r) for observed in golden() for g in observed["rule_groups"] for r in g["block_rules"]}
    for observed, *_ in ROWS:
        assert list(observed) == keys[0]
        assert {tuple(g) for g in observed["rule_groups"]} <= group_keys
        assert {tuple(r) for g in observed["rule_groups"] for r in g["block_rules"]} <= rule_keys


def test_rows_name_the_golden_observations():
    """The table's named observations are the fixture's, value for value."""
    assert golden() == [CLOSED, ALERT_ONLY, NONE, FAILS_OPEN]


def test_check_judges_every_golden_observation():
    statuses = [verdict(observed).status for observed in golden()]
    assert statuses == [PASS, FAIL, FAIL, PASS]


def test_check_is_described_and_reads_the_kind():
    spec = {c.id: c for c in registered_checks()}[CHECK]
    assert spec.reads == (KIND,) and spec.description
    assert spec.judge is route53resolver.malicious_domains_blocked
