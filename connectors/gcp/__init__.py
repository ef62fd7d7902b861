"""GCP connector: read-only Google Cloud client libraries over REST, one client factory, typed collection errors."""

from __future__ import annotations

from connectors.gcp import container, kms, orgpolicy, resourcemanager, storage
from connectors.gcp.clients import GcpClients, GcpTarget, open_target, translate_error
from connectors.gcp.targets import units

# Explicit registration: importing a module registers its kinds.
MODULES = (container, kms, orgpolicy, resourcemanager, storage)

# Calls the connector makes for an organization target whatever kinds run: finding its projects.
ORGANIZATION_PERMISSIONS = ("resourcemanager.folders.list", "resourcemanager.projects.list")

__all__ = [
    "ORGANIZATION_PERMISSIONS",
    "GcpClients",
    "GcpTarget",
    "open_target",
    "translate_error",
    "units",
]
