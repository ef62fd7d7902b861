"""AWS connector: read-only boto3 calls, one client factory, typed collection errors."""

from __future__ import annotations

from connectors.aws import iam, s3
from connectors.aws.clients import AwsClients, AwsTarget, translate_error
from connectors.base import GLOBAL, KindSpec

MODULES = (iam, s3)  # explicit registration: importing a module registers its kinds


def open_target(target: AwsTarget) -> AwsClients:
    return AwsClients(target)


def scopes(clients: AwsClients, spec: KindSpec) -> list[str]:
    """The units a kind splits into for this target: one per configured region, or one global unit."""
    return list(clients.target.regions) if spec.regional else [GLOBAL]


__all__ = ["AwsClients", "AwsTarget", "open_target", "scopes", "translate_error"]
