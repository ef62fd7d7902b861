"""What every sandbox seeder shares: throwaway credentials and a client for the fake endpoint."""

from __future__ import annotations

from typing import Any

import boto3

SANDBOX_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox", "AWS_SECRET_ACCESS_KEY": "sandbox-not-a-secret"}
ACCOUNT_ID = "123456789012"  # moto's default account


def client(service: str, endpoint: str, region: str = "us-east-1") -> Any:
    """A boto3 client for the sandbox endpoint (never the real AWS)."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=SANDBOX_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=SANDBOX_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


# The data stores' tags: the EU ones name an owner and a valid classification level.
EU_OWNER_TAGS = {"owner": "chat-platform-team", "data-classification": "confidential"}
SECURITY_OWNER_TAGS = {"owner": "security-team", "data-classification": "internal"}  # audit and log buckets


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """Tags as AWS takes them (`[{"Key": k, "Value": v}]`), in the order given."""
    return [{"Key": key, "Value": value} for key, value in tags.items()]
