"""GCP checks, one module per client library; importing a module registers its checks."""

from controls.checks.gcp import container, kms, orgpolicy, residency, resourcemanager, storage

MODULES = (container, kms, orgpolicy, residency, resourcemanager, storage)
