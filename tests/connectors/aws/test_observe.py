"""Golden tests: recorded API answers -> the documented `observed` of the S3 and IAM kinds. Pure, no mocks."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.aws import iam, s3
from connectors.base import Evidence
from ea_testkit.golden import PROVENANCE, check_golden, golden_params


def _bucket(case: dict) -> s3.Bucket:
    b = case["bucket"]
    return s3.Bucket(name=b["name"], region=b["region"], listing=b["listing"], operations=())


OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.s3.bucket.encryption": lambda c: s3.observe_bucket_encryption(_bucket(c), c["response"], PROVENANCE),
    "aws.s3.bucket.public_access_block": lambda c: s3.observe_bucket_public_access_block(
        _bucket(c), c["response"], PROVENANCE
    ),
    "aws.iam.account.password_policy": lambda c: iam.observe_password_policy(
        "aws", c["account_id"], c["response"], PROVENANCE
    ),
}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    # raw keeps the API answer the observation came from (absent answers as {}).
    assert case["response"] is None or json.dumps(case["response"], sort_keys=True) in json.dumps(
        evidence.raw, sort_keys=True
    )


@pytest.mark.parametrize(
    ("constraint", "region"),
    [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("eu-central-1", "eu-central-1")],
)
def test_bucket_region_from_location_constraint(constraint, region):
    assert s3.bucket_region(constraint) == region
