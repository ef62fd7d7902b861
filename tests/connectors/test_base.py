"""The evidence contract's primitives: canonical JSON, hashing, redaction, the kind registry."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from connectors.base import (
    REDACTED,
    Evidence,
    canonical_json,
    evidence_kind,
    redact,
    state_sha,
    to_jsonable,
)


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'


def test_to_jsonable_converts_sdk_types():
    moment = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert to_jsonable({"t": moment, "d": decimal.Decimal("3"), "f": decimal.Decimal("1.5"), "b": b"\x00"}) == {
        "t": "2026-05-01T08:00:00Z",
        "d": 3,
        "f": 1.5,
        "b": "AA==",
    }
    with pytest.raises(ValueError, match="naive"):
        to_jsonable({"t": dt.datetime(2026, 5, 1)})
    with pytest.raises(TypeError, match="not JSON-safe"):
        to_jsonable({"x": object()})


def test_state_identity_covers_kind_resource_and_observed_only():
    base = state_sha("aws.s3.bucket.encryption", "arn:aws:s3:::a", {"encrypted": True})
    assert base == state_sha("aws.s3.bucket.encryption", "arn:aws:s3:::a", {"encrypted": True})
    assert base != state_sha("aws.s3.bucket.encryption", "arn:aws:s3:::a", {"encrypted": False})
    assert base != state_sha("aws.s3.bucket.encryption", "arn:aws:s3:::b", {"encrypted": True})
    ev = Evidence("aws.s3.bucket.encryption", "arn:aws:s3:::a", "AWS::S3::Bucket", "eu-west-1",
                  {"encrypted": True}, {"request": 1}, {"raw": 1})  # fmt: skip
    assert ev.state_sha() == base


def test_redaction_removes_secret_values_and_keeps_the_keys():
    raw = {
        "SecretString": "hunter2",
        "nested": [{"Password": "p@ss", "password_last_used": None}, {"client_secret": "abc"}],
        "SessionToken": "FwoGZXIvYXdzE",
        "note": "-----BEGIN RSA PRIVATE KEY-----\nMIIE...",
        "KeyId": "1234",
        "Tags": [{"Key": "token", "Value": "harmless"}],
    }
    out = redact(raw)
    assert out["SecretString"] == out["SessionToken"] == out["note"] == REDACTED
    assert out["nested"][0] == {"Password": REDACTED, "password_last_used": None}
    assert out["nested"][1] == {"client_secret": REDACTED}
    assert out["KeyId"] == "1234" and out["Tags"] == raw["Tags"]
    assert "hunter2" not in canonical_json(out) and "FwoGZXIvYXdzE" not in canonical_json(out)
    assert redact({"data": {"k": "v"}}, extra_keys=frozenset({"data"})) == {"data": REDACTED}


@pytest.mark.parametrize("name", ["s3.encryption", "aws.S3.bucket.encryption", "azure.x.y.z", "aws.s3"])
def test_kind_names_must_be_well_formed(name):
    with pytest.raises(ValueError, match="provider"):
        evidence_kind(name, regional=False, permissions=("s3:GetX",))


def test_kind_must_declare_permissions():
    with pytest.raises(ValueError, match="permissions"):
        evidence_kind("aws.s3.bucket.example", regional=False, permissions=())


def test_kind_cannot_be_registered_twice():
    from connectors.base import get_kind

    before = get_kind("aws.s3.bucket.encryption")
    with pytest.raises(ValueError, match="registered twice"):
        evidence_kind("aws.s3.bucket.encryption", regional=False, permissions=("s3:X",))(lambda aws, scope: iter(()))
    assert get_kind("aws.s3.bucket.encryption") is before
