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
