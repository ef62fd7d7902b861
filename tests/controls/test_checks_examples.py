"""Table tests of the example AWS checks: (observed, policy) -> verdict and reason."""

from __future__ import annotations

import pytest

from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks

PASS, FAIL, NA = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_APPLICABLE
CHECKS = {c.id: c for c in registered_checks()}


def verdict(check_id: str, observed: dict, policy: Policy | None = None, region: str = "eu-west-1") -> Verdict:
    spec = CHECKS[check_id]
    return judge(spec, Subject(spec.reads[0], "arn:aws:s3:::x", region, observed), policy or Policy())


ENC = {
    "encrypted": True,
    "algorithm": "aws:kms",
    "kms_key_id": "arn:aws:kms:eu-west-1:1:key/k",
    "bucket_key_enabled": True,
}
PAB = {"configured": True, "block_public_acls": True, "ignore_public_acls": True, "block_public_policy": True,
       "restrict_public_buckets": True}  # fmt: skip
PWD = {"present": True, "minimum_length": 14, "require_symbols": True, "require_numbers": True,
       "require_uppercase": True, "require_lowercase": True, "users_can_change": True, "max_age_days": 90,
       "reuse_prevention": 24, "hard_expiry": False}  # fmt: skip


@pytest.mark.parametrize(
    ("check_id", "observed", "policy", "region", "status", "reason"),
    [
        ("aws.s3.bucket.encryption_enabled", ENC, None, "eu-west-1", PASS, "aws:kms"),
        ("aws.s3.bucket.encryption_enabled", {**ENC, "encrypted": False, "algorithm": None, "kms_key_id": None},
         None, "eu-west-1", FAIL, "no default encryption"),
        ("aws.s3.bucket.public_access_blocked", PAB, None, "eu-west-1", PASS, "all four"),
        ("aws.s3.bucket.public_access_blocked", {**PAB, "block_public_policy": False}, None, "eu-west-1", FAIL,
         "block_public_policy"),
        ("aws.s3.bucket.public_access_blocked", {**PAB, "configured": False}, None, "eu-west-1", FAIL, "no bucket"),
        ("aws.iam.account.password_policy_strong", PWD, None, "global", PASS, "met"),
        ("aws.iam.account.password_policy_strong", {**PWD, "minimum_length": 8}, None, "global", FAIL, "8 < 14"),
        ("aws.iam.account.password_policy_strong", {**PWD, "minimum_length": 8}, Policy(min_password_length=8),
         "global", PASS, "met"),
        ("aws.iam.account.password_policy_strong", {**PWD, "require_symbols": False}, None, "global", FAIL, "symbols"),
        ("aws.iam.account.password_policy_strong", {**PWD, "present": False}, None, "global", FAIL, "no password"),
        ("aws.residency.resource.in_allowed_regions", ENC, Policy(allowed_regions=("eu-*",)), "eu-west-1", PASS,
         "eu-west-1 is allowed"),
        ("aws.residency.resource.in_allowed_regions", ENC, Policy(allowed_regions=("eu-*",)), "us-east-1", FAIL,
         "region us-east-1 is outside"),
        ("aws.residency.resource.in_allowed_regions", ENC, Policy(), "us-east-1", NA, "no allowed regions"),
        ("aws.residency.resource.in_allowed_regions", ENC, Policy(allowed_regions=("EU",)), "global", NA, "not a"),
    ],
)  # fmt: skip
def test_check_table(check_id, observed, policy, region, status, reason):
    result = verdict(check_id, observed, policy, region)
    assert result.status == status and reason in result.reason, result
