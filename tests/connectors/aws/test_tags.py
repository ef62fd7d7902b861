"""The shared tag helpers: AWS tag lists as a sorted map, and secret-looking tags redacted wherever they sit."""

from __future__ import annotations

import json

import pytest

from connectors.aws import autoscaling, guardduty, secretsmanager
from connectors.aws.tags import redact_tags, tag_map
from connectors.base import REDACTED, names_a_secret, redact
from ea_testkit.golden import PROVENANCE, load_cases

PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIE..."


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("db-password", True),
        ("MASTER_PASSWORD", True),
        ("stripe.api_key", True),
        ("Stripe API Key", True),
        ("webhook-signing-secret", True),
        ("restore-token", True),
        ("ldap_passwd", True),
        ("aws:cloudformation:stack-id", False),
        ("owner", False),
        ("Owner", False),
        ("data-classification", False),
        ("classification", False),
        ("kms-key-id", False),
        ("Name", False),
    ],
)
def test_names_a_secret(key, secret):
    assert names_a_secret(key) is secret


def test_tag_map_sorts_keeps_keys_as_written_and_redacts_secret_values():
    tags = [
        {"Key": "owner", "Value": "chat-platform-team"},
        {"Key": "Owner", "Value": "web-team"},
        {"Key": "db-password", "Value": "hunter2"},
        {"Key": "empty-token", "Value": ""},
        {"Key": "notes", "Value": PEM},
    ]
    assert tag_map(tags) == {"Owner": "web-team", "db-password": REDACTED, "empty-token": "", "notes": REDACTED,
                             "owner": "chat-platform-team"}  # fmt: skip
    assert list(tag_map(tags)) == ["Owner", "db-password", "empty-token", "notes", "owner"]
    assert tag_map(None) == tag_map([]) == {}


def test_redact_tags_finds_aws_tags_anywhere_and_leaves_everything_else():
    raw = {
        "TagList": [{"Key": "db-password", "Value": "hunter2"}, {"Key": "owner", "Value": "data-team"}],
        "Rules": [{"Filter": {"Tag": {"Key": "api-key", "Value": "k-123"}}}],
        "Parameter": {"Name": "password", "Value": "not a tag: no Key"},
        "MasterUsername": "admin",
    }
    out = redact_tags(raw)
    assert out["TagList"] == [{"Key": "db-password", "Value": REDACTED}, {"Key": "owner", "Value": "data-team"}]
    assert out["Rules"][0]["Filter"]["Tag"] == {"Key": "api-key", "Value": REDACTED}
    assert out["Parameter"] == raw["Parameter"] and out["MasterUsername"] == "admin"
    assert raw["TagList"][0]["Value"] == "hunter2", "the input is not changed"


def test_generic_redact_alone_misses_a_secret_in_a_tag():
    """Why the tag helpers exist: the secret's name is the value of `Key`, which `redact` does not read."""
    tags = {"TagList": [{"Key": "db-password", "Value": "hunter2"}]}
    assert redact(tags) == tags
    assert "hunter2" not in str(redact(redact_tags(tags)))


def test_redact_tags_also_reads_tag_maps():
    """GuardDuty and EKS answer tags as a map: the key names the secret there too."""
    raw = {"detector": {"Tags": {"api-key": "k-123", "owner": "secops"}}, "cluster": {"tags": {"ldap_passwd": "x"}},
           "Policy": {"Tags": ["not", "a", "map"]}}  # fmt: skip
    out = redact_tags(raw)
    assert out["detector"]["Tags"] == {"api-key": REDACTED, "owner": "secops"}
    assert out["cluster"]["tags"] == {"ldap_passwd": REDACTED}
    assert out["Policy"] == raw["Policy"]


SECRET_TAG = {"Key": "webhook-secret", "Value": "whsec-do-not-store"}


def _first_case(kind: str) -> dict:
    """The first recorded case with a resource (GuardDuty's first case is a region without a detector)."""
    return next(c for c in load_cases(kind) if c.get("detector", True))


@pytest.mark.parametrize(
    ("kind", "observe"),
    [
        ("aws.secretsmanager.secret.rotation",
         lambda c: secretsmanager.observe_secret_rotation({**c["entry"], "Tags": [SECRET_TAG]}, c["region"],
                                                          PROVENANCE)),
        ("aws.autoscaling.group.configuration",
         lambda c: autoscaling.observe_group_configuration(
             {**c["group"], "Tags": [{**SECRET_TAG, "ResourceId": "chat-api", "ResourceType": "auto-scaling-group",
                                      "PropagateAtLaunch": True}]}, c["policies"], c["region"], PROVENANCE)),
        ("aws.guardduty.detector.status",
         lambda c: guardduty.observe_detector_status(
             "aws", c["account_id"], c["region"], c["detector_id"],
             {**c["detector"], "Tags": {SECRET_TAG["Key"]: SECRET_TAG["Value"]}}, PROVENANCE)),
    ],
)  # fmt: skip
def test_kinds_whose_answers_carry_tags_never_keep_a_secret_tag_value(kind, observe):
    evidence = observe(_first_case(kind))
    raw = json.dumps(evidence.raw)
    assert "whsec-do-not-store" not in raw
    assert SECRET_TAG["Key"] in raw, "the tag itself stays visible"
