"""Route 53 Resolver DNS Firewall: which rule groups filter each VPC's DNS queries, what they block, fail-open.

A VPC's DNS queries pass the rule groups associated with it, in the order of the associations' priorities;
each group's rules match queries against domain lists (the customer's own, or lists AWS maintains of
malware, botnet and other threat domains) and ALLOW, BLOCK or ALERT on them. The VPC's firewall config
says whether queries are answered unfiltered when the firewall cannot evaluate them (fail open).

Per region the associations, the domain lists and the firewall configs are listed once, and each
associated rule group's rules once however many VPCs share the group.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, list_all
from connectors.aws.ec2 import VPC_TYPE, ec2_arn, list_vpcs
from connectors.aws.provenance import source
from connectors.aws.tags import redact_tags
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

BLOCK = "BLOCK"
FAIL_OPEN = {"ENABLED": True, "DISABLED": False}  # USE_LOCAL_RESOURCE_SETTING (Route 53 Profiles) says neither


@evidence_kind(
    "aws.route53resolver.vpc.dns_firewall",
    regional=True,
    permissions=(
        "ec2:DescribeVpcs",
        "route53resolver:ListFirewallRuleGroupAssociations",
        "route53resolver:ListFirewallRules",
        "route53resolver:ListFirewallDomainLists",
        "route53resolver:ListFirewallConfigs",
    ),
)
def collect_dns_firewall(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Which DNS Firewall rule groups filter each VPC's DNS queries, which domain lists they block, and fail-open."""
    vpcs, vpc_op = list_vpcs(aws, scope)
    resolver = aws.client("route53resolver", scope)
    associations, assoc_op = list_all(resolver, "list_firewall_rule_group_associations",
                                      "FirewallRuleGroupAssociations")  # fmt: skip
    domain_lists, lists_op = list_all(resolver, "list_firewall_domain_lists", "FirewallDomainLists")
    configs, configs_op = list_all(resolver, "list_firewall_configs", "FirewallConfigs")
    group_ids = sorted({a["FirewallRuleGroupId"] for a in associations})

    def rules_of(group_id: str) -> tuple[list[dict], dict[str, Any]]:
        return list_all(resolver, "list_firewall_rules", "FirewallRules", FirewallRuleGroupId=group_id)

    rules = dict(zip(group_ids, aws.fan_out(rules_of, group_ids), strict=True))
    config_of = {c["ResourceId"]: c for c in configs}
    lists = to_jsonable(domain_lists)
    for vpc in vpcs:
        mine = [a for a in associations if a["VpcId"] == vpc["VpcId"]]
        groups = sorted({a["FirewallRuleGroupId"] for a in mine})
        provenance = source(aws, "route53resolver",
                            [vpc_op, assoc_op, lists_op, configs_op, *(rules[g][1] for g in groups)])  # fmt: skip
        yield observe_dns_firewall(
            aws.partition,
            scope,
            to_jsonable(vpc),
            to_jsonable(mine),
            {g: to_jsonable(rules[g][0]) for g in groups},
            lists,
            to_jsonable(config_of.get(vpc["VpcId"])),
            provenance,
        )


def _block_rule(rule: dict[str, Any], lists: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A BLOCK rule as a fact. A rule without a domain list (a DNS Firewall Advanced rule) has `domain_list`
    null; one whose list the region's listing does not hold (a rule group shared from another account) keeps
    the list's id as its name and counts as not AWS-managed."""
    list_id = rule.get("FirewallDomainListId")
    found = lists.get(list_id) if list_id else None
    return {
        "name": rule["Name"],
        "domain_list": found["Name"] if found else list_id,
        "managed": bool(found and found.get("ManagedOwnerName")),
        "block_response": rule.get("BlockResponse"),
    }


def observe_dns_firewall(
    partition: str,
    region: str,
    vpc: dict[str, Any],
    associations: list[dict[str, Any]],
    rules: dict[str, list[dict[str, Any]]],
    domain_lists: list[dict[str, Any]],
    firewall_config: dict[str, Any] | None,
    provenance: dict[str, Any],
) -> Evidence:
    """`associations`: the VPC's ListFirewallRuleGroupAssociations entries; `rules`: each of their rule groups'
    ListFirewallRules entries by group id; `domain_lists`: the region's ListFirewallDomainLists entries;
    `firewall_config`: the VPC's ListFirewallConfigs entry, None when the listing has none."""
    lists = {d["Id"]: d for d in domain_lists}
    groups = []
    for association in sorted(associations, key=lambda a: (a["Priority"], a["Id"])):
        group_rules = sorted(rules[association["FirewallRuleGroupId"]], key=lambda r: r["Priority"])
        groups.append(
            {
                "name": association["Name"],
                "priority": association["Priority"],
                "status": association["Status"],
                "mutation_protection": association.get("MutationProtection") == "ENABLED",
                "block_rules": [_block_rule(r, lists) for r in group_rules if r["Action"] == BLOCK],
                "other_rules": sum(1 for r in group_rules if r["Action"] != BLOCK),
            }
        )
    used = {r.get("FirewallDomainListId") for group in rules.values() for r in group}
    fail_open = None if firewall_config is None else FAIL_OPEN.get(firewall_config.get("FirewallFailOpen", ""))
    return Evidence(
        kind="aws.route53resolver.vpc.dns_firewall",
        resource_id=ec2_arn(partition, region, vpc["OwnerId"], f"vpc/{vpc['VpcId']}"),
        resource_type=VPC_TYPE,
        region=region,
        observed={"rule_groups": groups, "fail_open": fail_open},
        source=provenance,
        raw=redact(
            redact_tags(
                {
                    "vpc": vpc,
                    "associations": associations,
                    "rules": rules,
                    "domain_lists": [d for d in domain_lists if d["Id"] in used],
                    "firewall_config": firewall_config,
                }
            )
        ),
    )
