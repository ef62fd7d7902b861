"""Sandbox DNS Firewall (Route 53 Resolver): which VPCs' DNS queries pass a firewall that blocks threat domains.

eu-west-1 is done right: one rule group lets the partners' domains through, then blocks AWS's aggregate
threat list and the company's own denylist; it is associated with every EU VPC (the default VPC and the
message store's, from `aws_network`) under mutation protection, and each VPC's firewall fails closed.
us-east-1 is legacy: the default VPC's rule group only alerts on AWS's malware list, and that VPC fails
open; the batch VPC created here has no rule group at all.

Run after `aws_network` (the message store's VPC).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
from collections.abc import Callable
from typing import Any

from collector.sandbox.base import client, tag_list

EU, US = "eu-west-1", "us-east-1"
MANAGED_OWNER = "Route 53 Resolver DNS Firewall"
# The lists AWS maintains and offers in every region where DNS Firewall runs (all of them threat lists).
MANAGED_LISTS = (
    "AWSManagedDomainsMalwareDomainList",
    "AWSManagedDomainsBotnetCommandandControl",
    "AWSManagedDomainsAggregateThreatList",
    "AWSManagedDomainsAmazonGuardDutyThreatList",
)
PAGE = 100  # what Resolver answers per page when MaxResults is not given
ASSOCIATION_PRIORITIES = range(100, 9901)


# --------------------------------------------------------------------------- moto shims


def install_moto_shims() -> None:
    """moto 5.2 implements Route 53 Resolver endpoints, rules and query logging, but none of DNS Firewall: answer
    the calls below as AWS does, from a firewall kept per region on moto's Route 53 Resolver backend (so moto's
    reset clears it). Route 53 Resolver is a JSON protocol: moto dispatches on the X-Amz-Target action name,
    so a method of that name on the response class answers it. Only reaches a moto running in this process (the
    demo's and the tests' ThreadedMotoServer, `mock_aws`); inert once moto answers any of these calls itself."""
    try:
        from moto.route53resolver.responses import Route53ResolverResponse
    except ImportError:  # pragma: no cover - the sandbox extra is not installed
        return
    if any(hasattr(Route53ResolverResponse, name) for name in CALLS):
        return
    for name, call in CALLS.items():
        setattr(Route53ResolverResponse, name, call)


_LOCK = threading.Lock()


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError(code, message)


class _Firewall:
    """One account's DNS Firewall in one region; the AWS-managed domain lists are there from the start."""

    def __init__(self, account_id: str, region: str):
        self.account_id, self.region = account_id, region
        self.domain_lists: dict[str, dict[str, Any]] = {}
        self.rule_groups: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, list[dict[str, Any]]] = {}
        self.associations: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}  # by VPC id
        for name in MANAGED_LISTS:  # the same id in every account of the region, as AWS's are
            list_id = "rslvr-fdl-" + hashlib.sha256(f"{region}/{name}".encode()).hexdigest()[:16]
            self.domain_lists[list_id] = {"Id": list_id, "Arn": self.arn("firewall-domain-list", list_id),
                                          "Name": name, "CreatorRequestId": name, "ManagedOwnerName": MANAGED_OWNER,
                                          "ManagedListType": "THREAT"}  # fmt: skip

    def arn(self, resource: str, resource_id: str) -> str:
        return f"arn:aws:route53resolver:{self.region}:{self.account_id}:{resource}/{resource_id}"

    def rule_group(self, group_id: str) -> dict[str, Any]:
        if group_id not in self.rule_groups:
            raise _error("ResourceNotFoundException", f"Can't find the resource with ID '{group_id}'")
        return self.rule_groups[group_id]


def _firewall(response: Any) -> tuple[_Firewall, dict[str, Any], Any]:
    """The region's firewall, the request's parameters, and moto's Route 53 Resolver backend for the region."""
    backend = response.route53resolver_backend
    with _LOCK:
        if not hasattr(backend, "evidence_agent_dns_firewall"):
            backend.evidence_agent_dns_firewall = _Firewall(backend.account_id, backend.region_name)
    return backend.evidence_agent_dns_firewall, json.loads(response.body or "{}"), backend


def _vpc(backend: Any, vpc_id: str) -> str:
    if vpc_id not in {vpc.id for vpc in backend.ec2_backend.describe_vpcs()}:
        raise _error("ResourceNotFoundException", f"The VPC '{vpc_id}' does not exist")
    return vpc_id


def _page(request: dict[str, Any], items: list[dict[str, Any]], key: str) -> str:
    """One page of a listing: `MaxResults` items from the opaque `NextToken` on."""
    token = request.get("NextToken") or "0"
    if not token.isdigit():
        raise _error("ValidationException", "Invalid value passed for the NextToken parameter")
    start, size = int(token), request.get("MaxResults") or PAGE
    answer: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        answer["NextToken"] = str(start + size)
    return json.dumps(answer)


def _matching(items: list[dict[str, Any]], request: dict[str, Any], *filters: str) -> list[dict[str, Any]]:
    return [i for i in items if all(request.get(f) is None or i.get(f) == request[f] for f in filters)]


def _create_firewall_domain_list(self: Any) -> str:
    firewall, request, _ = _firewall(self)
    list_id, now = f"rslvr-fdl-{secrets.token_hex(8)}", _now()
    entry = {"Id": list_id, "Arn": firewall.arn("firewall-domain-list", list_id), "Name": request["Name"],
             "CreatorRequestId": request["CreatorRequestId"]}  # fmt: skip
    firewall.domain_lists[list_id] = entry
    created = {**entry, "DomainCount": 0, "Status": "COMPLETE", "StatusMessage": "Created Firewall Domain List",
               "CreationTime": now, "ModificationTime": now}  # fmt: skip
    return json.dumps({"FirewallDomainList": created})


def _list_firewall_domain_lists(self: Any) -> str:
    firewall, request, _ = _firewall(self)
    return _page(request, list(firewall.domain_lists.values()), "FirewallDomainLists")


def _create_firewall_rule_group(self: Any) -> str:
    firewall, request, backend = _firewall(self)
    group_id, now = f"rslvr-frg-{secrets.token_hex(8)}", _now()
    firewall.rule_groups[group_id] = {
        "Id": group_id, "Arn": firewall.arn("firewall-rule-group", group_id), "Name": request["Name"],
        "RuleCount": 0, "Status": "COMPLETE", "StatusMessage": "Created Firewall Rule Group",
        "OwnerId": backend.account_id, "CreatorRequestId": request["CreatorRequestId"], "ShareStatus": "NOT_SHARED",
        "CreationTime": now, "ModificationTime": now,
    }  # fmt: skip
    firewall.rules[group_id] = []
    return json.dumps({"FirewallRuleGroup": firewall.rule_groups[group_id]})


def _list_firewall_rule_groups(self: Any) -> str:
    firewall, request, _ = _firewall(self)
    keep = ("Id", "Arn", "Name", "OwnerId", "CreatorRequestId", "ShareStatus")
    groups = [{k: g[k] for k in keep} for g in firewall.rule_groups.values()]
    return _page(request, groups, "FirewallRuleGroups")


RULE_SETTINGS = ("BlockResponse", "BlockOverrideDomain", "BlockOverrideDnsType", "BlockOverrideTtl",
                 "FirewallDomainRedirectionAction", "Qtype", "DnsThreatProtection", "ConfidenceThreshold")  # fmt: skip


def _create_firewall_rule(self: Any) -> str:
    firewall, request, _ = _firewall(self)
    group = firewall.rule_group(request["FirewallRuleGroupId"])
    list_id = request.get("FirewallDomainListId")
    if list_id is not None and list_id not in firewall.domain_lists:
        raise _error("ResourceNotFoundException", f"Can't find the resource with ID '{list_id}'")
    if (list_id is None) == (request.get("DnsThreatProtection") is None):
        raise _error("ValidationException", "A rule needs either a FirewallDomainListId or a DnsThreatProtection")
    if request["Action"] == "BLOCK" and not request.get("BlockResponse"):
        raise _error("ValidationException", "BlockResponse is required when the rule action is BLOCK")
    if any(r["Priority"] == request["Priority"] for r in firewall.rules[group["Id"]]):
        raise _error("ValidationException", f"A rule with priority {request['Priority']} exists in the rule group")
    now = _now()
    rule: dict[str, Any] = {"FirewallRuleGroupId": group["Id"]}
    if list_id is not None:
        rule["FirewallDomainListId"] = list_id
    else:
        rule["FirewallThreatProtectionId"] = f"rslvr-ftp-{secrets.token_hex(8)}"
    rule |= {"Name": request["Name"], "Priority": request["Priority"], "Action": request["Action"]}
    rule |= {k: request[k] for k in RULE_SETTINGS if request.get(k) is not None}
    rule |= {"CreatorRequestId": request["CreatorRequestId"], "CreationTime": now, "ModificationTime": now}
    firewall.rules[group["Id"]].append(rule)
    group["RuleCount"] = len(firewall.rules[group["Id"]])
    return json.dumps({"FirewallRule": rule})


def _list_firewall_rules(self: Any) -> str:
    firewall, request, _ = _firewall(self)
    group = firewall.rule_group(request["FirewallRuleGroupId"])
    rules = sorted(firewall.rules[group["Id"]], key=lambda r: r["Priority"])
    return _page(request, _matching(rules, request, "Priority", "Action"), "FirewallRules")


def _associate_firewall_rule_group(self: Any) -> str:
    firewall, request, backend = _firewall(self)
    group, vpc_id = firewall.rule_group(request["FirewallRuleGroupId"]), _vpc(backend, request["VpcId"])
    if request["Priority"] not in ASSOCIATION_PRIORITIES:
        raise _error("ValidationException", "The allowed values for Priority are between 100 and 9900")
    for other in firewall.associations.values():
        if other["VpcId"] == vpc_id and other["Priority"] == request["Priority"]:
            raise _error("ConflictException", f"The VPC '{vpc_id}' has a rule group with priority {other['Priority']}")
        if other["VpcId"] == vpc_id and other["FirewallRuleGroupId"] == group["Id"]:
            raise _error("ConflictException", f"The rule group '{group['Id']}' is associated with '{vpc_id}'")
    association_id, now = f"rslvr-frgassoc-{secrets.token_hex(8)}", _now()
    association = {
        "Id": association_id, "Arn": firewall.arn("firewall-rule-group-association", association_id),
        "FirewallRuleGroupId": group["Id"], "VpcId": vpc_id, "Name": request["Name"], "Priority": request["Priority"],
        "MutationProtection": request.get("MutationProtection") or "DISABLED", "Status": "UPDATING",
        "StatusMessage": "Creating Firewall Rule Group Association", "CreatorRequestId": request["CreatorRequestId"],
        "CreationTime": now, "ModificationTime": now,
    }  # fmt: skip
    # AWS answers while the association is still being made, and settles it within moments.
    firewall.associations[association_id] = association | {
        "Status": "COMPLETE", "StatusMessage": "Finished rule group association update", "ModificationTime": _now()
    }  # fmt: skip
    return json.dumps({"FirewallRuleGroupAssociation": association})


def _list_firewall_rule_group_associations(self: Any) -> str:
    firewall, request, _ = _firewall(self)
    associations = _matching(list(firewall.associations.values()), request,
                             "FirewallRuleGroupId", "VpcId", "Priority", "Status")  # fmt: skip
    return _page(request, associations, "FirewallRuleGroupAssociations")


def _config(firewall: _Firewall, vpc_id: str, fail_open: str = "DISABLED") -> dict[str, Any]:
    config_id = "rslvr-fc-" + hashlib.sha256(f"{firewall.region}/{vpc_id}".encode()).hexdigest()[:16]
    return {"Id": config_id, "ResourceId": vpc_id, "OwnerId": firewall.account_id, "FirewallFailOpen": fail_open}


def _update_firewall_config(self: Any) -> str:
    firewall, request, backend = _firewall(self)
    vpc_id = _vpc(backend, request["ResourceId"])
    firewall.configs[vpc_id] = _config(firewall, vpc_id, request["FirewallFailOpen"])
    return json.dumps({"FirewallConfig": firewall.configs[vpc_id]})


def _get_firewall_config(self: Any) -> str:
    """A VPC never configured answers the default (fail closed), as AWS does."""
    firewall, request, backend = _firewall(self)
    vpc_id = _vpc(backend, request["ResourceId"])
    return json.dumps({"FirewallConfig": firewall.configs.get(vpc_id) or _config(firewall, vpc_id)})


def _list_firewall_configs(self: Any) -> str:
    firewall, request, _ = _firewall(self)
    return _page(request, list(firewall.configs.values()), "FirewallConfigs")


CALLS: dict[str, Callable[[Any], str]] = {
    "create_firewall_domain_list": _create_firewall_domain_list,
    "list_firewall_domain_lists": _list_firewall_domain_lists,
    "create_firewall_rule_group": _create_firewall_rule_group,
    "list_firewall_rule_groups": _list_firewall_rule_groups,
    "create_firewall_rule": _create_firewall_rule,
    "list_firewall_rules": _list_firewall_rules,
    "associate_firewall_rule_group": _associate_firewall_rule_group,
    "list_firewall_rule_group_associations": _list_firewall_rule_group_associations,
    "update_firewall_config": _update_firewall_config,
    "get_firewall_config": _get_firewall_config,
    "list_firewall_configs": _list_firewall_configs,
}


# --------------------------------------------------------------------------- seeding


def managed_list_id(resolver: Any, name: str) -> str:
    """The id of an AWS-managed domain list in the client's region (ids differ from region to region)."""
    for page in resolver.get_paginator("list_firewall_domain_lists").paginate():
        for entry in page["FirewallDomainLists"]:
            if entry["Name"] == name and entry.get("ManagedOwnerName"):
                return entry["Id"]
    raise LookupError(f"no AWS-managed domain list {name}")


def rule_group(resolver: Any, name: str, rules: list[dict[str, Any]]) -> str:
    """A rule group holding `rules` (CreateFirewallRule parameters without the group); returns its id."""
    created = resolver.create_firewall_rule_group(Name=name, CreatorRequestId=f"{name}-group")
    group_id = created["FirewallRuleGroup"]["Id"]
    for rule in rules:
        resolver.create_firewall_rule(FirewallRuleGroupId=group_id, CreatorRequestId=f"{name}-{rule['Name']}", **rule)
    return group_id


def _vpcs(endpoint: str, region: str) -> list[dict[str, Any]]:
    return client("ec2", endpoint, region).describe_vpcs()["Vpcs"]


def _seed_eu(endpoint: str) -> None:
    resolver = client("route53resolver", endpoint, EU)
    partners = resolver.create_firewall_domain_list(Name="acme-partners", CreatorRequestId="acme-partners")
    denylist = resolver.create_firewall_domain_list(Name="acme-denylist", CreatorRequestId="acme-denylist")
    group = rule_group(resolver, "acme-dns-protection", [
        {"Name": "allow-partners", "Priority": 100, "Action": "ALLOW",
         "FirewallDomainListId": partners["FirewallDomainList"]["Id"]},
        {"Name": "block-aws-threats", "Priority": 200, "Action": "BLOCK", "BlockResponse": "NXDOMAIN",
         "FirewallDomainListId": managed_list_id(resolver, "AWSManagedDomainsAggregateThreatList")},
        {"Name": "block-acme-denylist", "Priority": 300, "Action": "BLOCK", "BlockResponse": "NODATA",
         "FirewallDomainListId": denylist["FirewallDomainList"]["Id"]},
    ])  # fmt: skip
    for vpc in _vpcs(endpoint, EU):
        resolver.associate_firewall_rule_group(
            FirewallRuleGroupId=group, VpcId=vpc["VpcId"], Priority=101, Name="acme-dns-protection",
            MutationProtection="ENABLED", CreatorRequestId=f"associate-{vpc['VpcId']}",
        )  # fmt: skip
        resolver.update_firewall_config(ResourceId=vpc["VpcId"], FirewallFailOpen="DISABLED")


def _seed_us(endpoint: str) -> None:
    ec2 = client("ec2", endpoint, US)
    default_vpc = next(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"])
    ec2.create_vpc(CidrBlock="10.40.0.0/16",
                   TagSpecifications=[{"ResourceType": "vpc", "Tags": tag_list({"Name": "legacy-batch"})}])  # fmt: skip
    resolver = client("route53resolver", endpoint, US)
    group = rule_group(resolver, "legacy-dns-monitoring", [
        {"Name": "alert-malware", "Priority": 100, "Action": "ALERT",
         "FirewallDomainListId": managed_list_id(resolver, "AWSManagedDomainsMalwareDomainList")},
    ])  # fmt: skip
    resolver.associate_firewall_rule_group(
        FirewallRuleGroupId=group, VpcId=default_vpc, Priority=101, Name="legacy-dns-monitoring",
        CreatorRequestId="legacy-monitoring",
    )  # fmt: skip
    resolver.update_firewall_config(ResourceId=default_vpc, FirewallFailOpen="ENABLED")
    # legacy-batch: no rule group and no firewall config.


def seed(endpoint: str) -> None:
    """Threat domains blocked for every EU VPC, fail closed; only alerts (failing open), or nothing, in the US."""
    install_moto_shims()
    _seed_eu(endpoint)
    _seed_us(endpoint)
