"""Golden tests: recorded API responses -> the documented `observed` of each kind. Pure, no mocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.aws import iam, s3
from connectors.base import Evidence

FIXTURES = Path(__file__).parents[2] / "fixtures" / "aws"
PROVENANCE = {"provider": "aws", "operations": [{"operation": "Recorded", "params": {}}]}


def _bucket(case: dict) -> s3.Bucket:
    b = case["bucket"]
    return s3.Bucket(name=b["name"], region=b["region"], listing=b["listing"], operations=())


OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.s3.bucket.encryption": lambda c: s3.observe_bucket_encryption(_bucket(c), c["response"], PROVENANCE),
    "aws.s3.bucket.public_access_block": lambda c: s3.observe_bucket_public_access_block(
        _bucket(c), c["response"], PROVENANCE
    ),
    "aws.iam.account.password_policy": lambda c: iam.observe_password_policy(
        c["account_id"], c["response"], PROVENANCE
    ),
}


def golden_cases() -> list[tuple[str, dict]]:
    cases = []
    for path in sorted(FIXTURES.glob("*.json")):
        doc = json.loads(path.read_text())
        cases.extend((doc["kind"], case) for case in doc["cases"])
    return cases


@pytest.mark.parametrize(("kind", "case"), golden_cases(), ids=lambda v: v["name"] if isinstance(v, dict) else v)
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    expected = case["expected"]
    assert evidence.kind == kind
    assert evidence.resource_id == expected["resource_id"]
    assert evidence.resource_type == expected["resource_type"]
    assert evidence.region == expected["region"]
    assert evidence.observed == expected["observed"]
    assert list(evidence.observed) == list(expected["observed"]), "documented key order"
    assert evidence.source is PROVENANCE
    # raw keeps the API answer the observation came from (absent answers as {}).
    assert case["response"] is None or json.dumps(case["response"], sort_keys=True) in json.dumps(
        evidence.raw, sort_keys=True
    )


@pytest.mark.parametrize(("kind", "case"), golden_cases(), ids=lambda v: v["name"] if isinstance(v, dict) else v)
def test_state_identity_is_stable_and_ignores_provenance(kind, case):
    a = OBSERVERS[kind](case)
    b = OBSERVERS[kind](case)
    assert a.state_sha() == b.state_sha()
    assert a.collected_at <= b.collected_at


def test_every_aws_kind_has_an_observer_under_golden_test():
    from connectors.base import registered_kinds

    assert {k.name for k in registered_kinds("aws")} == set(OBSERVERS)


@pytest.mark.parametrize(
    ("constraint", "region"),
    [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"), ("eu-central-1", "eu-central-1")],
)
def test_bucket_region_from_location_constraint(constraint, region):
    assert s3.bucket_region(constraint) == region
