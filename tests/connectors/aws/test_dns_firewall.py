"""Route 53 Resolver DNS Firewall: golden observe tests, collection through boto3 against moto, the sandbox seeder.

moto 5.2 has no DNS Firewall: the sandbox's shim (collector/sandbox/aws_dns.py) answers its calls, installed
before each test that reaches moto.
"""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from collector.sandbox import aws_dns
from connectors import collect_unit
from connectors.aws import AwsClients, AwsTarget, route53resolver
from connectors.base import CollectionError, Evidence, GapReason, get_kind
from ea_testkit.golden import PROVENANCE, check_golden, golden_params, load_cases
from ea_testkit.iam_actions import iam_action

EU, US = "eu-west-1", "us-east-1"
ACCOUNT = "123456789012"
KIND = "aws.route53resolver.vpc.dns_firewall"


# --------------------------------------------------------------------------- golden


def observe(case: dict) -> Evidence:
    return route53resolver.observe_dns_firewall(
        "aws", case["region"], case["vpc"], case["associations"], case["rules"], case["domain_lists"],
        case["firewall_config"], PROVENANCE,
    )  # fmt: skip


def expected_raw(case: dict) -> dict:
    """Every recorded answer for the VPC; of the region's domain lists, those its rules use."""
    used = {r["FirewallDomainListId"] for rules in case["rules"].values() for r in rules}
    return {
        "vpc": case["vpc"],
        "associations": case["associations"],
        "rules": case["rules"],
        "domain_lists": [d for d in case["domain_lists"] if d["Id"] in used],
        "firewall_config": case["firewall_config"],
    }


@pytest.mark.parametrize(("kind", "case"), golden_params([KIND]))
def test_observe_matches_golden(kind, case):
    evidence = observe(case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    assert evidence.raw == expected_raw(case)


def test_observe_orders_rule_groups_and_rules_by_priority_whatever_the_answer_order():
    case = copy.deepcopy(load_cases(KIND)[0])
    base = observe(case)
    case["rules"] = {group: rules[::-1] for group, rules in case["rules"].items()}
    assert observe(case).observed == base.observed
    two = copy.deepcopy(load_cases(KIND)[3])
    reordered = observe({**two, "associations": two["associations"][::-1]})
    assert [g["priority"] for g in reordered.observed["rule_groups"]] == [101, 200]


def test_a_list_missing_from_the_listing_keeps_its_id_and_is_not_counted_as_aws_managed():
    """A rule group shared from another account can use that account's lists, which this one cannot list."""
    case = copy.deepcopy(load_cases(KIND)[0])
    (rules,) = case["rules"].values()
    threats = next(r["FirewallDomainListId"] for r in rules if r["Name"] == "block-aws-threats")
    case["domain_lists"] = [d for d in case["domain_lists"] if d["Id"] != threats]
    (group,) = observe(case).observed["rule_groups"]
    assert group["block_rules"][0] == {"name": "block-aws-threats", "domain_list": threats, "managed": False,
                                       "block_response": "NXDOMAIN"}  # fmt: skip


@pytest.mark.parametrize(("setting", "fail_open"), [("ENABLED", True), ("DISABLED", False),
                                                     ("USE_LOCAL_RESOURCE_SETTING", None)])  # fmt: skip
def test_fail_open_from_the_firewall_config(setting, fail_open):
    case = copy.deepcopy(load_cases(KIND)[0])
    case["firewall_config"]["FirewallFailOpen"] = setting
    assert observe(case).observed["fail_open"] is fail_open


# --------------------------------------------------------------------------- collection against moto


@pytest.fixture
def aws():
    aws_dns.install_moto_shims()
    with mock_aws():
        clients = AwsClients(AwsTarget(name="prod", regions=(EU,)))
        yield clients
        clients.close()


def collect(aws: AwsClients, scope: str = EU) -> dict[str, Evidence]:
    found = collect_unit(get_kind(KIND), aws, scope)
    by_vpc = {e.resource_id.rsplit("/", 1)[1]: e for e in found}
    assert len(by_vpc) == len(found), "each VPC is read exactly once"
    return by_vpc


def operations(evidence: Evidence) -> list[str]:
    return [op["operation"] for op in evidence.source["operations"]]


def calls_of(aws: AwsClients, region: str = EU) -> list[str]:
    """Every API call (by operation name) the kind's clients send for `region`, pages included."""
    calls: list[str] = []
    for service in ("ec2", "route53resolver"):
        aws.client(service, region).meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def page_size(aws: AwsClients, operation: str, size: int) -> list[dict]:
    """Make moto answer `operation` in pages of `size` items; returns the parameters of every call made."""
    calls: list[dict] = []

    def shrink(params: dict, **_) -> None:
        params["MaxResults"] = size
        calls.append(dict(params))

    aws.client("route53resolver", EU).meta.events.register(f"before-parameter-build.route53resolver.{operation}",
                                                            shrink)  # fmt: skip
    return calls


def new_vpc(cidr: str, region: str = EU) -> str:
    return boto3.client("ec2", region_name=region).create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]


def default_vpc(region: str = EU) -> str:
    vpcs = boto3.client("ec2", region_name=region).describe_vpcs()["Vpcs"]
    return next(v["VpcId"] for v in vpcs if v["IsDefault"])


def resolver(region: str = EU):
    return boto3.client("route53resolver", region_name=region)


def blocking_group(name: str = "protection", region: str = EU) -> tuple[str, str]:
    """A rule group that allows a partners list, then blocks AWS's aggregate threat list; (group id, list id)."""
    r = resolver(region)
    partners = r.create_firewall_domain_list(Name=f"{name}-partners", CreatorRequestId=f"{name}-partners")
    threats = aws_dns.managed_list_id(r, "AWSManagedDomainsAggregateThreatList")
    group = aws_dns.rule_group(r, name, [
        {"Name": "allow-partners", "Priority": 100, "Action": "ALLOW",
         "FirewallDomainListId": partners["FirewallDomainList"]["Id"]},
        {"Name": "block-threats", "Priority": 200, "Action": "BLOCK", "BlockResponse": "NXDOMAIN",
         "FirewallDomainListId": threats},
    ])  # fmt: skip
    return group, threats


def associate(group: str, vpc: str, priority: int = 101, region: str = EU, **more) -> None:
    resolver(region).associate_firewall_rule_group(FirewallRuleGroupId=group, VpcId=vpc, Priority=priority,
                                                   Name=f"assoc-{priority}", CreatorRequestId=f"{group}-{vpc}",
                                                   **more)  # fmt: skip


THREATS_BLOCKED = {"name": "block-threats", "domain_list": "AWSManagedDomainsAggregateThreatList", "managed": True,
                   "block_response": "NXDOMAIN"}  # fmt: skip


def test_one_record_per_vpc_with_its_rule_groups_and_firewall_config(aws):
    group, _ = blocking_group()
    vpc, bare = new_vpc("10.20.0.0/16"), default_vpc()
    associate(group, vpc, MutationProtection="ENABLED")
    resolver().update_firewall_config(ResourceId=vpc, FirewallFailOpen="ENABLED")

    found = collect(aws)
    assert set(found) == {vpc, bare}
    evidence = found[vpc]
    assert evidence.resource_id == f"arn:aws:ec2:{EU}:{ACCOUNT}:vpc/{vpc}"
    assert evidence.resource_type == "AWS::EC2::VPC" and evidence.region == EU
    assert evidence.observed == {
        "rule_groups": [{"name": "assoc-101", "priority": 101, "status": "COMPLETE", "mutation_protection": True,
                         "block_rules": [THREATS_BLOCKED], "other_rules": 1}],
        "fail_open": True,
    }  # fmt: skip
    assert operations(evidence) == ["DescribeVpcs", "ListFirewallRuleGroupAssociations", "ListFirewallDomainLists",
                                    "ListFirewallConfigs", "ListFirewallRules"]  # fmt: skip
    assert evidence.source["operations"][-1]["params"] == {"FirewallRuleGroupId": group}
    # raw keeps the lists the VPC's rules use, in the listing's order (AWS's own lists come first)
    assert [d["Name"] for d in evidence.raw["domain_lists"]] == ["AWSManagedDomainsAggregateThreatList",
                                                                 "protection-partners"]  # fmt: skip


def test_a_vpc_without_association_has_no_rule_groups_a_fact_not_a_gap(aws):
    group, _ = blocking_group()
    associate(group, new_vpc("10.20.0.0/16"))
    bare = default_vpc()
    found = collect(aws)
    assert found[bare].observed == {"rule_groups": [], "fail_open": None}
    assert "ListFirewallRules" not in operations(found[bare])
    assert found[bare].raw["associations"] == [] and found[bare].raw["firewall_config"] is None


def test_each_rule_group_is_read_once_however_many_vpcs_use_it(aws):
    shared, _ = blocking_group("shared")
    watch = aws_dns.rule_group(resolver(), "watch", [
        {"Name": "alert-malware", "Priority": 100, "Action": "ALERT",
         "FirewallDomainListId": aws_dns.managed_list_id(resolver(), "AWSManagedDomainsMalwareDomainList")},
    ])  # fmt: skip
    vpcs = [default_vpc(), *(new_vpc(f"10.{n}.0.0/16") for n in (20, 21, 22))]
    for vpc in vpcs:
        associate(shared, vpc, 200)
        associate(watch, vpc, 101)
    calls = calls_of(aws)

    found = collect(aws)
    assert calls.count("ListFirewallRules") == 2, "one call per rule group, not per VPC"
    assert calls.count("ListFirewallRuleGroupAssociations") == calls.count("ListFirewallDomainLists") == 1
    assert calls.count("DescribeVpcs") == calls.count("ListFirewallConfigs") == 1
    for vpc in vpcs:
        groups = found[vpc].observed["rule_groups"]
        assert [(g["name"], g["block_rules"], g["other_rules"]) for g in groups] == [
            ("assoc-101", [], 1), ("assoc-200", [THREATS_BLOCKED], 1)
        ]  # fmt: skip


def test_every_page_of_every_listing_is_read(aws):
    """ListFirewallConfigs takes MaxResults 5 to 10: six configured VPCs make two pages."""
    group, _ = blocking_group()
    for n in range(2):  # 4 managed lists + partners + 2 more: 7 lists, 4 pages of 2
        resolver().create_firewall_domain_list(Name=f"spare-{n}", CreatorRequestId=f"spare-{n}")
    vpcs = [default_vpc(), *(new_vpc(f"10.{n}.0.0/16") for n in range(20, 25))]
    for vpc in vpcs:
        associate(group, vpc)
        resolver().update_firewall_config(ResourceId=vpc, FirewallFailOpen="DISABLED")
    pages = {op: page_size(aws, op, size) for op, size in [
        ("ListFirewallRuleGroupAssociations", 2), ("ListFirewallDomainLists", 2), ("ListFirewallRules", 1),
        ("ListFirewallConfigs", 5)]}  # fmt: skip

    found = collect(aws)
    assert {op: len(calls) for op, calls in pages.items()} == {
        "ListFirewallRuleGroupAssociations": 3, "ListFirewallDomainLists": 4, "ListFirewallRules": 2,
        "ListFirewallConfigs": 2,
    }  # fmt: skip
    assert [bool(c.get("NextToken")) for c in pages["ListFirewallConfigs"]] == [False, True]
    assert set(found) == set(vpcs)
    for evidence in found.values():
        assert evidence.observed == {
            "rule_groups": [{"name": "assoc-101", "priority": 101, "status": "COMPLETE", "mutation_protection": False,
                             "block_rules": [THREATS_BLOCKED], "other_rules": 1}],
            "fail_open": False,
        }  # fmt: skip
        request_ids = {op["operation"]: op["request_ids"] for op in evidence.source["operations"]}
        assert len(request_ids["ListFirewallDomainLists"]) == 4 and len(request_ids["ListFirewallRules"]) == 2


def test_a_rule_without_domain_list_blocks_with_domain_list_null(aws):
    """A DNS Firewall Advanced rule (DNS tunnelling detection) matches no domain list."""
    group = aws_dns.rule_group(resolver(), "advanced", [
        {"Name": "block-tunnelling", "Priority": 100, "Action": "BLOCK", "BlockResponse": "NODATA",
         "DnsThreatProtection": "DNS_TUNNELING", "ConfidenceThreshold": "HIGH"},
    ])  # fmt: skip
    vpc = default_vpc()
    associate(group, vpc)
    (rule,) = collect(aws)[vpc].observed["rule_groups"][0]["block_rules"]
    assert rule == {"name": "block-tunnelling", "domain_list": None, "managed": False, "block_response": "NODATA"}


def test_denied_association_listing_is_a_gap_not_an_empty_result(aws):
    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}},
                          "ListFirewallRuleGroupAssociations")  # fmt: skip

    aws.client("route53resolver", EU).meta.events.register(
        "before-call.route53resolver.ListFirewallRuleGroupAssociations", deny
    )
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind(KIND), aws, EU)
    assert info.value.reason == GapReason.DENIED and info.value.operation == "ListFirewallRuleGroupAssociations"


def test_declared_permissions_are_exactly_the_calls_made(aws):
    group, _ = blocking_group()
    associate(group, default_vpc())
    resolver().update_firewall_config(ResourceId=default_vpc(), FirewallFailOpen="DISABLED")
    calls = calls_of(aws)
    collect(aws)
    needed = {iam_action(service, op) for service, op in
              [("ec2" if op == "DescribeVpcs" else "route53resolver", op) for op in calls]}  # fmt: skip
    assert needed == set(get_kind(KIND).permissions)


# --------------------------------------------------------------------------- sandbox seeder


def test_sandbox_seed_blocks_in_the_eu_and_not_in_the_us(moto_endpoint):
    aws_dns.seed(moto_endpoint)
    aws = AwsClients(AwsTarget(name="prod", regions=(EU, US), endpoint_url=moto_endpoint))
    eu = collect(aws, EU)
    us = collect(aws, US)
    aws.close()

    assert eu and all(e.observed["fail_open"] is False for e in eu.values())
    for evidence in eu.values():
        (group,) = evidence.observed["rule_groups"]
        assert group["status"] == "COMPLETE" and group["mutation_protection"] is True
        assert [(r["domain_list"], r["managed"]) for r in group["block_rules"]] == [
            ("AWSManagedDomainsAggregateThreatList", True), ("acme-denylist", False)
        ]  # fmt: skip
    by_name = {json.dumps([g["name"] for g in e.observed["rule_groups"]]): e.observed for e in us.values()}
    assert by_name == {
        '["legacy-dns-monitoring"]': {
            "rule_groups": [{"name": "legacy-dns-monitoring", "priority": 101, "status": "COMPLETE",
                             "mutation_protection": False, "block_rules": [], "other_rules": 1}],
            "fail_open": True,
        },
        "[]": {"rule_groups": [], "fail_open": None},
    }  # fmt: skip


def test_shims_are_installed_once_and_stand_aside_for_moto(monkeypatch):
    from moto.route53resolver.responses import Route53ResolverResponse

    aws_dns.install_moto_shims()
    installed = Route53ResolverResponse.list_firewall_rules
    aws_dns.install_moto_shims()
    assert Route53ResolverResponse.list_firewall_rules is installed, "installing twice changes nothing"
    for name in aws_dns.CALLS:
        monkeypatch.delattr(Route53ResolverResponse, name)
    monkeypatch.setattr(Route53ResolverResponse, "list_firewall_configs", lambda self: "moto's own", raising=False)
    aws_dns.install_moto_shims()
    assert not hasattr(Route53ResolverResponse, "list_firewall_rules"), "moto answers DNS Firewall itself: inert"


def test_vpc_kinds_share_one_describe_vpcs_per_region(aws):
    new_vpc("10.20.0.0/16")
    seen: list[str] = []
    aws.client("ec2", EU).meta.events.register(
        "before-call.ec2.DescribeVpcs", lambda model, **_: seen.append(model.name)
    )
    firewall = collect(aws)
    flow_logs = collect_unit(get_kind("aws.ec2.vpc.flow_logs"), aws, EU)
    assert seen == ["DescribeVpcs"], "one listing per region, shared by both kinds"
    assert {e.resource_id for e in flow_logs} == {e.resource_id for e in firewall.values()}
