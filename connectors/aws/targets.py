"""From one configured AWS target to units: accounts (one, or every account of an organization) x regions.

- Regions: the configured list, or every region enabled for the account (`all-enabled`). A
  configured region that is not enabled for the account is skipped and recorded as such.
- Organization mode: the management account's credentials list the accounts, and each account
  is read through a role assumed in it. An account whose role cannot be assumed yields gaps for
  its own units only. Organization-wide kinds (SCPs) are read once, from the management account.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

from connectors.aws.clients import AwsClients, AwsTarget, list_all, translate_error
from connectors.base import GLOBAL, CollectionError, GapReason, KindSpec, UnitPlan

ENABLED = frozenset({"opt-in-not-required", "opted-in"})


def region_status(clients: AwsClients) -> dict[str, str]:
    """Every region AWS knows for the account, with its opt-in status (one DescribeRegions per account)."""

    def compute() -> dict[str, str]:
        resp = clients.client("ec2").describe_regions(AllRegions=True)
        return {r["RegionName"]: r.get("OptInStatus", "opt-in-not-required") for r in resp["Regions"]}

    return clients.memo("ec2:region-status", compute)


def _regional_plans(clients: AwsClients, spec: KindSpec, prefix: str) -> list[UnitPlan]:
    configured = clients.target.regions
    try:
        status = region_status(clients)
    except Exception as exc:
        error = translate_error(exc)
        if error is None:
            raise
        if configured is None:  # all-enabled: without the region list there is nothing to plan
            return [UnitPlan(scope=f"{prefix}all-enabled", context=clients, argument="", error=error)]
        status = {}  # cannot tell: collect the configured regions; a disabled one then shows as its own gap
    regions = configured if configured is not None else tuple(sorted(r for r, s in status.items() if s in ENABLED))
    plans = []
    for region in regions:
        skip = None
        if status and status.get(region) not in ENABLED:
            skip = f"region {region} is not enabled for account {clients.account_id}"
        plans.append(UnitPlan(scope=f"{prefix}{region}", context=clients, argument=region, skip=skip))
    return plans


def account_plans(clients: AwsClients, spec: KindSpec, prefix: str = "") -> list[UnitPlan]:
    if not spec.regional:
        return [UnitPlan(scope=f"{prefix}{GLOBAL}", context=clients, argument=GLOBAL)]
    try:
        return _regional_plans(clients, spec, prefix)
    except Exception as exc:  # the account itself could not be reached (its identity, say): a planning gap
        error = translate_error(exc)
        if error is None:
            raise
        return [UnitPlan(scope=f"{prefix}*", context=clients, argument="", error=error)]


@dataclass
class AwsOrganization:
    """Every active account of an AWS Organization, each read through `role_name` assumed in it."""

    management: AwsClients
    role_name: str
    external_id: str | None = None
    _accounts: dict[str, AwsClients] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def accounts(self) -> dict[str, AwsClients]:
        with self._lock:
            if not self._accounts:
                listed, _ = list_all(self.management.client("organizations"), "list_accounts", "Accounts")
                partition = self.management.partition
                for account in sorted(listed, key=lambda a: a["Id"]):
                    if account.get("Status", "ACTIVE") != "ACTIVE":
                        continue
                    role = f"arn:{partition}:iam::{account['Id']}:role/{self.role_name}"
                    target = dataclasses.replace(
                        self.management.target,
                        name=f"{self.management.target.name}/{account['Id']}",
                        assume_role_arn=role,
                        external_id=self.external_id,
                    )
                    self._accounts[account["Id"]] = AwsClients(target, base_session=self.management.session_for_roles())
            return self._accounts

    def close(self) -> None:
        for clients in self._accounts.values():
            clients.close()
        self.management.close()


def open_target(target: AwsTarget, organization_role: str | None = None, external_id: str | None = None) -> Any:
    clients = AwsClients(target)
    if organization_role:
        return AwsOrganization(clients, organization_role, external_id)
    return clients


# Kinds read from the organization's management account only (member accounts are denied them).
MANAGEMENT_ONLY_SERVICES = frozenset({"organizations"})


def units(context: AwsClients | AwsOrganization, spec: KindSpec) -> list[UnitPlan]:
    if isinstance(context, AwsClients):
        return account_plans(context, spec)
    try:
        if spec.name.split(".")[1] in MANAGEMENT_ONLY_SERVICES:
            management = context.management
            return account_plans(management, spec, prefix=f"{management.account_id}/")
        accounts = context.accounts()
    except Exception as exc:
        error = translate_error(exc)
        if error is None:
            raise
        return [UnitPlan(scope="organization", context=context, argument="", error=error)]
    if not accounts:
        error = CollectionError(GapReason.ERROR, "the organization lists no active account")
        return [UnitPlan(scope="organization", context=context, argument="", error=error)]
    plans = []
    for account_id, clients in accounts.items():
        plans.extend(account_plans(clients, spec, prefix=f"{account_id}/"))
    return plans
