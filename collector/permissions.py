"""Least-privilege policies from the permissions each evidence kind declares."""

from __future__ import annotations

from typing import Any

from collector.config import Config
from connectors.aws import FRAMEWORK_PERMISSIONS, ORGANIZATION_PERMISSIONS
from connectors.base import registered_kinds


def aws_actions(config: Config | None) -> list[str]:
    """Every IAM action the enabled AWS kinds need (all AWS kinds when there is no config)."""
    targets = [t for t in config.targets if t.provider == "aws"] if config else []
    kinds = registered_kinds("aws")
    if targets:
        kinds = [k for k in kinds if any(t.wants(k) for t in targets)]
    actions = set(FRAMEWORK_PERMISSIONS)
    for kind in kinds:
        actions.update(kind.permissions)
    return sorted(actions)


def aws_policy(config: Config | None) -> dict[str, Any]:
    """The IAM policy for the identity the agent reads with (in organization mode: the member role)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EvidenceAgentReadOnly", "Effect": "Allow", "Action": aws_actions(config), "Resource": "*"}
        ],
    }


def aws_organization_policy() -> dict[str, Any]:
    """Extra policy for the management-account identity in organization mode."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "EvidenceAgentOrganization", "Effect": "Allow", "Action": sorted(ORGANIZATION_PERMISSIONS),
             "Resource": "*"}
        ],
    }  # fmt: skip
