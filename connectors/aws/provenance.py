"""Provenance shared by every AWS kind: who asked, with which calls, from which agent."""

from __future__ import annotations

from typing import Any

from connectors.aws.clients import AwsClients
from connectors.base import agent_version


def source(aws: AwsClients, service: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
    identity = aws.identity()
    return {
        "provider": "aws",
        "service": service,
        "account": identity["account"],
        "identity": identity["arn"],
        "operations": operations,
        "agent_version": agent_version(),
    }
