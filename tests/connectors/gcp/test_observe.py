"""Golden tests: recorded GCP API answers -> the documented `observed` of every GCP kind. Pure, no mocks."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.base import REDACTED, Evidence
from connectors.gcp import container, kms, orgpolicy, resourcemanager, storage
from ea_testkit.golden import PROVENANCE, check_golden, golden_params, load_cases

IAM_TYPES = {
    "gcp.resourcemanager.organization.iam_policy": resourcemanager.ORGANIZATION_TYPE,
    "gcp.resourcemanager.folder.iam_policy": resourcemanager.FOLDER_TYPE,
    "gcp.resourcemanager.project.iam_policy": resourcemanager.PROJECT_TYPE,
}


def _iam(kind: str) -> Callable[[dict], Evidence]:
    return lambda c: resourcemanager.observe_iam_policy(kind, c["resource"], IAM_TYPES[kind], c["policy"], PROVENANCE)


OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "gcp.resourcemanager.project.inventory": lambda c: resourcemanager.observe_project_inventory(
        c["project"], PROVENANCE
    ),
    "gcp.resourcemanager.organization.iam_policy": _iam("gcp.resourcemanager.organization.iam_policy"),
    "gcp.resourcemanager.folder.iam_policy": _iam("gcp.resourcemanager.folder.iam_policy"),
    "gcp.resourcemanager.project.iam_policy": _iam("gcp.resourcemanager.project.iam_policy"),
    "gcp.orgpolicy.project.constraints": lambda c: orgpolicy.observe_project_constraints(
        c["project_id"], c["policies"], PROVENANCE
    ),
    "gcp.storage.bucket.settings": lambda c: storage.observe_bucket_settings(c["bucket"], PROVENANCE),
    "gcp.storage.bucket.iam_public": lambda c: storage.observe_bucket_iam_public(c["bucket"], c["policy"], PROVENANCE),
    "gcp.kms.crypto_key.rotation": lambda c: kms.observe_crypto_key_rotation(c["crypto_key"], PROVENANCE),
    "gcp.container.cluster.security": lambda c: container.observe_cluster_security(
        c["project_id"], c["cluster"], PROVENANCE
    ),
}
# The answer each kind's raw keeps whole (bucket IAM keeps the policy, and of the bucket only its IAM settings).
RAW_INPUT = {
    "gcp.resourcemanager.project.inventory": "project",
    "gcp.resourcemanager.organization.iam_policy": "policy",
    "gcp.resourcemanager.folder.iam_policy": "policy",
    "gcp.resourcemanager.project.iam_policy": "policy",
    "gcp.orgpolicy.project.constraints": "policies",
    "gcp.storage.bucket.settings": "bucket",
    "gcp.storage.bucket.iam_public": "policy",
    "gcp.kms.crypto_key.rotation": "crypto_key",
    "gcp.container.cluster.security": "cluster",
}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    # raw keeps the API answers the observation came from.
    answer = case[RAW_INPUT[kind]]
    if "client_key" not in json.dumps(answer):  # key material is redacted (tested below)
        assert json.dumps(answer, sort_keys=True) in json.dumps(evidence.raw, sort_keys=True)


def test_observe_is_deterministic_whatever_the_answer_order():
    """Members, roles and values come back in any order; the state must not change with it."""
    (case,) = [c for c in load_cases("gcp.resourcemanager.project.iam_policy") if "acme-web" in c["name"]]
    shuffled = json.loads(json.dumps(case["policy"]))
    shuffled["bindings"].reverse()
    for binding in shuffled["bindings"]:
        binding["members"].reverse()
    kind = "gcp.resourcemanager.project.iam_policy"
    assert _iam(kind)({**case, "policy": shuffled}).state_sha() == _iam(kind)(case).state_sha()


def test_next_rotation_time_is_not_part_of_the_state():
    (case,) = [c for c in load_cases("gcp.kms.crypto_key.rotation") if "customer-data" in c["name"]]
    later = {**case["crypto_key"], "next_rotation_time": "2027-03-01T00:00:00Z"}
    assert (
        kms.observe_crypto_key_rotation(later, PROVENANCE).state_sha()
        == OBSERVERS["gcp.kms.crypto_key.rotation"](case).state_sha()
    )


def test_cluster_client_key_is_redacted_from_raw():
    (case,) = [c for c in load_cases("gcp.container.cluster.security") if "web-eu" in c["name"]]
    assert case["cluster"]["master_auth"]["client_key"]  # the recorded answer carries key material
    evidence = OBSERVERS["gcp.container.cluster.security"](case)
    assert evidence.raw["cluster"]["master_auth"]["client_key"] == REDACTED
    assert case["cluster"]["master_auth"]["client_key"] not in json.dumps(evidence.raw)


@pytest.mark.parametrize(
    ("member", "domain"),
    [
        ("user:alice@example.com", "example.com"),
        ("group:Ops@Sub.Example.org", "sub.example.org"),
        ("domain:example.com", "example.com"),
        ("serviceAccount:ci@p.iam.gserviceaccount.com", None),
        ("deleted:user:bob@example.com?uid=1", None),
        ("allUsers", None),
        ("projectOwner:acme-prod", None),
    ],
)
def test_member_domain(member, domain):
    assert resourcemanager.member_domain(member) == domain


@pytest.mark.parametrize(("value", "seconds"), [("7776000s", 7776000), ("0.5s", 0), (None, None), ("", None)])
def test_duration_seconds(value, seconds):
    assert kms.duration_seconds(value) == seconds
