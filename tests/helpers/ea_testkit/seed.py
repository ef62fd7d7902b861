"""Small realistic AWS state for connector and runner tests (through real boto3 calls)."""

from __future__ import annotations

import boto3

from collector.sandbox import seed_aws


def seed(endpoint: str) -> None:
    seed_aws(endpoint)


def client(service: str, endpoint: str, region: str = "us-east-1"):
    return boto3.client(service, region_name=region, endpoint_url=endpoint)
