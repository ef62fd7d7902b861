"""Table tests of the AWS security-service checks (Inspector, ECR, Security Hub, Lambda code signing) and of the
IAM credential-age checks, which are judged at the time the evidence was observed: (observed, policy, time) ->
verdict and reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks
from controls.checks.aws import awslambda, ecr, inspector2, securityhub

PASS, FAIL, NA = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_APPLICABLE
CHECKS = {c.id: c for c in registered_checks()}
FIXTURES = Path(__file__).parents[1] / "fixtures" / "aws"
# When the credential report below was read: ages are measured from here, whatever the clock says.
AT = dt.datetime(2026, 11, 27, 21, 0, tzinfo=dt.UTC)


def verdict(check_id: str, observed: dict, policy: Policy | None = None, region: str = "eu-west-1",
            at: dt.datetime | None = AT) -> Verdict:  # fmt: skip
    spec = CHECKS[check_id]
    return judge(spec, Subject(spec.reads[0], "arn:aws:x", region, observed, at=at), policy or Policy())


# Observed values as the golden fixtures (tests/fixtures/aws/<kind>.json) record them.
INSPECTOR = {"status": "ENABLED", "scanning_enabled": ["EC2", "ECR", "LAMBDA"],
             "scanning_status": {"EC2": "ENABLED", "ECR": "ENABLED", "LAMBDA": "ENABLED",
                                 "LAMBDA_CODE": "DISABLED"}}  # fmt: skip
INSPECTOR_EC2 = {**INSPECTOR, "scanning_enabled": ["EC2"],
                 "scanning_status": {"EC2": "ENABLED", "ECR": "DISABLED", "LAMBDA": "DISABLED",
                                     "LAMBDA_CODE": "DISABLED"}}  # fmt: skip
INSPECTOR_OFF = {"status": "DISABLED", "scanning_enabled": [],
                 "scanning_status": {"EC2": "DISABLED", "ECR": "DISABLED", "LAMBDA": "DISABLED",
                                     "LAMBDA_CODE": "DISABLED"}}  # fmt: skip
REPO = {"scan_on_push": False, "registry_scan_type": "ENHANCED", "scan_frequency": "CONTINUOUS_SCAN",
        "tag_mutability": "IMMUTABLE", "tag_mutability_exclusions": [], "encryption_type": "KMS",
        "kms_key": "arn:aws:kms:eu-west-1:123456789012:key/e18f17d2-8a8d-4b2a-921c-f879d8517775"}  # fmt: skip
LEGACY_REPO = {"scan_on_push": False, "registry_scan_type": "BASIC", "scan_frequency": "MANUAL",
               "tag_mutability": "MUTABLE", "tag_mutability_exclusions": [], "encryption_type": "AES256",
               "kms_key": None}  # fmt: skip
FSBP = "arn:aws:securityhub:eu-west-1::standards/aws-foundational-security-best-practices/v/1.0.0"
CIS = "arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0"
PCI = "arn:aws:securityhub:eu-central-1::standards/pci-dss/v/3.2.1"
HUB = {"enabled": True, "standards": {FSBP: "READY"}}
RELEASE = "arn:aws:signer:eu-west-1:123456789012:/signing-profiles/acme_release/2a330ca95f"
SIGNED = {"package_type": "Zip",
          "code_signing_config_arn": "arn:aws:lambda:eu-west-1:123456789012:code-signing-config:csc-161dbc40d99b7e726",
          "untrusted_artifact_on_deployment": "Enforce", "allowed_publishers": [RELEASE]}  # fmt: skip
UNSIGNED = {"package_type": "Zip", "code_signing_config_arn": None, "untrusted_artifact_on_deployment": None,
            "allowed_publishers": []}  # fmt: skip
NO_HUB = {"enabled": False, "standards": {}}
# As tests/fixtures/aws/aws.iam.user.credentials.json records them.
USER = {"user_name": "anna.berg", "created": "2021-03-08T09:12:44Z", "password_enabled": True,
        "password_last_used": "2026-11-26T17:02:51Z", "password_last_changed": "2026-09-01T08:30:00Z",
        "mfa_active": True, "access_key_1_active": True, "access_key_1_last_rotated": "2025-01-15T10:00:03Z",
        "access_key_1_last_used": "2026-11-27T05:58:00Z", "access_key_2_active": False,
        "access_key_2_last_rotated": "2022-06-01T12:00:00Z",
        "access_key_2_last_used": "2022-11-02T16:20:00Z"}  # fmt: skip
CI_USER = {"user_name": "ci-deployer", "created": "2026-11-27T20:33:34Z", "password_enabled": False,
           "password_last_used": None, "password_last_changed": "2026-11-27T20:33:34Z", "mfa_active": False,
           "access_key_1_active": True, "access_key_1_last_rotated": "2026-11-27T20:33:34Z",
           "access_key_1_last_used": None, "access_key_2_active": True,
           "access_key_2_last_rotated": "2026-11-27T20:33:34Z", "access_key_2_last_used": None}  # fmt: skip
NO_KEYS = {**USER, "access_key_1_active": False, "access_key_1_last_rotated": None, "access_key_1_last_used": None,
           "access_key_2_active": False, "access_key_2_last_rotated": None,
           "access_key_2_last_used": None}  # fmt: skip
NOTHING = {**NO_KEYS, "password_enabled": False, "password_last_used": None, "password_last_changed": None}
FRESH_KEY = {**USER, "access_key_1_last_rotated": "2026-10-01T10:00:00Z"}
ROTATED = Policy(max_access_key_age_days=30)

ROWS = [
    # Amazon Inspector
    ("aws.inspector2.account.scanning_enabled", INSPECTOR, None, PASS, "Inspector scans EC2, ECR, LAMBDA"),
    ("aws.inspector2.account.scanning_enabled", INSPECTOR_EC2, None, FAIL, "does not scan ECR (DISABLED)"),
    ("aws.inspector2.account.scanning_enabled", {**INSPECTOR, "scanning_enabled": ["LAMBDA"], "scanning_status":
     {"EC2": "DISABLED", "ECR": "ENABLING", "LAMBDA": "ENABLED"}}, None, FAIL,
     "does not scan EC2 (DISABLED), ECR (ENABLING)"),
    ("aws.inspector2.account.scanning_enabled", {**INSPECTOR, "scanning_enabled": ["EC2"], "scanning_status":
     {"EC2": "ENABLED"}}, None, FAIL, "does not scan ECR (not answered)"),
    ("aws.inspector2.account.scanning_enabled", INSPECTOR_OFF, None, FAIL,
     "Inspector is DISABLED in eu-west-1: not scanning EC2 (DISABLED), ECR (DISABLED)"),
    ("aws.inspector2.account.scanning_enabled", {**INSPECTOR, "status": "SUSPENDED"}, None, FAIL,
     "Inspector is SUSPENDED in eu-west-1: not scanning no resource type"),
    # ECR scanning
    ("aws.ecr.repository.scan_on_push_enabled", REPO, None, PASS,
     "images scanned on push and continuously (enhanced scanning)"),
    ("aws.ecr.repository.scan_on_push_enabled", {**REPO, "scan_frequency": "SCAN_ON_PUSH"}, None, PASS,
     "images scanned on push (enhanced scanning)"),
    ("aws.ecr.repository.scan_on_push_enabled", {**LEGACY_REPO, "scan_frequency": "SCAN_ON_PUSH"}, None, PASS,
     "images scanned on push (basic scanning)"),
    ("aws.ecr.repository.scan_on_push_enabled", {**LEGACY_REPO, "scan_on_push": True}, None, PASS,
     "scanned on push (repository setting, basic scanning)"),
    ("aws.ecr.repository.scan_on_push_enabled", LEGACY_REPO, None, FAIL,
     "scanned only when someone starts a scan"),
    ("aws.ecr.repository.scan_on_push_enabled", {**REPO, "scan_frequency": "MANUAL"}, None, FAIL,
     "no enhanced scanning rule of the registry covers this repository"),
    ("aws.ecr.repository.scan_on_push_enabled", {**REPO, "scan_frequency": "MANUAL", "scan_on_push": True}, None,
     FAIL, "(its own scan-on-push setting does not apply with enhanced scanning)"),
    ("aws.ecr.repository.scan_on_push_enabled", {**REPO, "scan_frequency": None}, None, FAIL,
     "no enhanced scanning rule"),
    # ECR tag mutability
    ("aws.ecr.repository.tags_immutable", REPO, None, PASS, "image tags are immutable"),
    ("aws.ecr.repository.tags_immutable", LEGACY_REPO, None, FAIL,
     "image tags are mutable: a tag can be pushed again with another image"),
    ("aws.ecr.repository.tags_immutable", {**REPO, "tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
     "tag_mutability_exclusions": ["dev-*", "latest"]}, None, FAIL,
     "immutable except those matching dev-*, latest, which can be overwritten"),
    ("aws.ecr.repository.tags_immutable", {**REPO, "tag_mutability": "MUTABLE_WITH_EXCLUSION",
     "tag_mutability_exclusions": ["release-*"]}, None, FAIL,
     "can be overwritten (only those matching release-* are immutable)"),
    # Security Hub
    ("aws.securityhub.hub.enabled", HUB, None, PASS, "Security Hub enabled (1 standards subscribed)"),
    ("aws.securityhub.hub.enabled", {**HUB, "standards": {}}, None, PASS, "(0 standards subscribed)"),
    ("aws.securityhub.hub.enabled", NO_HUB, None, FAIL, "Security Hub is not enabled in eu-west-1"),
    ("aws.securityhub.hub.standards_enabled", HUB, None, PASS,
     "standards evaluated: aws-foundational-security-best-practices/v/1.0.0"),
    ("aws.securityhub.hub.standards_enabled", {"enabled": True, "standards": {CIS: "READY", PCI: "INCOMPLETE"}},
     None, PASS, "standards evaluated: cis-aws-foundations-benchmark/v/1.2.0"),
    ("aws.securityhub.hub.standards_enabled", {"enabled": True, "standards": {FSBP: "PENDING", PCI: "INCOMPLETE"}},
     None, FAIL, "no enabled standard is READY: aws-foundational-security-best-practices/v/1.0.0 (PENDING), "
     "pci-dss/v/3.2.1 (INCOMPLETE)"),
    ("aws.securityhub.hub.standards_enabled", {**HUB, "standards": {}}, None, FAIL,
     "Security Hub is enabled but no standard is enabled"),
    ("aws.securityhub.hub.standards_enabled", NO_HUB, None, FAIL, "not enabled in eu-west-1: no standard is evaluated"),
    # Lambda code signing
    ("aws.lambda.function.code_signing_enforced", SIGNED, None, PASS,
     "code signing enforced: new code must be signed by one of 1 allowed signing profile version(s)"),
    ("aws.lambda.function.code_signing_enforced", {**SIGNED, "allowed_publishers": [RELEASE, RELEASE[:-1] + "0"]},
     None, PASS, "one of 2 allowed signing profile version(s)"),
    ("aws.lambda.function.code_signing_enforced", {**SIGNED, "untrusted_artifact_on_deployment": "Warn"}, None, FAIL,
     "code signing policy is Warn: code signed by a profile that is not allowed, or whose signature expired or was "
     "revoked, is still deployed"),
    ("aws.lambda.function.code_signing_enforced", UNSIGNED, None, FAIL,
     "no code signing configuration: any code package can be deployed to the function"),
    ("aws.lambda.function.code_signing_enforced", {**UNSIGNED, "package_type": "Image"}, None, NA,
     "container image function: Lambda code signing applies to .zip packages only"),
    ("aws.lambda.function.code_signing_enforced", {**SIGNED, "package_type": "Image"}, None, NA,
     "container image function"),
    # IAM access key age, at AT
    ("aws.iam.user.access_keys_rotated", FRESH_KEY, None, PASS, "access key 1 is 57 days old (max 90)"),
    ("aws.iam.user.access_keys_rotated", USER, None, FAIL, "anna.berg: access key 1 is 681 days old (max 90)"),
    ("aws.iam.user.access_keys_rotated", USER, Policy(max_access_key_age_days=700), PASS, "681 days old (max 700)"),
    ("aws.iam.user.access_keys_rotated", FRESH_KEY, ROTATED, FAIL, "access key 1 is 57 days old (max 30)"),
    ("aws.iam.user.access_keys_rotated", CI_USER, None, PASS,
     "access key 1 is 0 days old; access key 2 is 0 days old (max 90)"),
    ("aws.iam.user.access_keys_rotated", {**CI_USER, "access_key_2_last_rotated": "2026-05-01T00:00:00Z"}, None,
     FAIL, "ci-deployer: access key 2 is 210 days old (max 90)"),
    ("aws.iam.user.access_keys_rotated", {**CI_USER, "access_key_1_last_rotated": None}, None, FAIL,
     "access key 1 is active but has no creation date"),
    ("aws.iam.user.access_keys_rotated", NO_KEYS, None, NA, "no active access key"),
    # IAM credentials left unused, at AT
    ("aws.iam.user.unused_credentials_disabled", USER, None, PASS,
     "console password last used 1 days ago; access key 1 last used 0 days ago (max 90)"),
    ("aws.iam.user.unused_credentials_disabled", CI_USER, None, PASS,
     "access key 1 never used, issued 0 days ago; access key 2 never used, issued 0 days ago (max 90)"),
    ("aws.iam.user.unused_credentials_disabled", {**USER, "access_key_1_last_used": "2026-06-01T00:00:00Z"}, None,
     FAIL, "anna.berg: access key 1 last used 179 days ago (max 90)"),
    ("aws.iam.user.unused_credentials_disabled", {**USER, "access_key_1_last_used": "2026-06-01T00:00:00Z"},
     Policy(max_unused_credential_days=180), PASS, "access key 1 last used 179 days ago (max 180)"),
    ("aws.iam.user.unused_credentials_disabled", {**NO_KEYS, "password_last_used": None}, None, PASS,
     "console password never used, issued 87 days ago (max 90)"),
    ("aws.iam.user.unused_credentials_disabled", {**NO_KEYS, "password_last_used": None,
     "password_last_changed": "2026-01-01T00:00:00Z"}, None, FAIL,
     "anna.berg: console password never used, issued 330 days ago (max 90)"),
    ("aws.iam.user.unused_credentials_disabled", {**NO_KEYS, "password_last_used": "2025-01-01T00:00:00Z"}, None,
     PASS, "console password not used since it was set 87 days ago (max 90)"),
    ("aws.iam.user.unused_credentials_disabled", {**NO_KEYS, "password_last_used": "2025-01-01T00:00:00Z",
     "password_last_changed": "2026-01-01T00:00:00Z"}, None, FAIL,
     "console password not used since it was set 330 days ago"),
    ("aws.iam.user.unused_credentials_disabled", {**CI_USER, "created": "2026-01-05T00:00:00Z",
     "access_key_1_last_rotated": "2026-01-05T00:00:00Z", "access_key_2_active": False}, None, FAIL,
     "ci-deployer: access key 1 never used, issued 326 days ago (max 90)"),
    ("aws.iam.user.unused_credentials_disabled", {**USER, "access_key_2_active": True,
     "access_key_2_last_used": "2022-11-02T16:20:00Z"}, None, FAIL, "anna.berg: access key 2 last used 1486 days"),
    ("aws.iam.user.unused_credentials_disabled", NOTHING, None, NA, "no console password or active access key"),
]  # fmt: skip


@pytest.mark.parametrize(("check_id", "observed", "policy", "status", "reason"), ROWS)
def test_check_table(check_id, observed, policy, status, reason):
    result = verdict(check_id, observed, policy)
    assert result.status == status and reason in result.reason, result


def golden(kind: str) -> list[dict]:
    """The `observed` of every case of a kind's golden fixture."""
    cases = json.loads((FIXTURES / f"{kind}.json").read_text(encoding="utf-8"))["cases"]
    return [case["expected"]["observed"] for case in cases]


def test_rows_use_exactly_the_documented_keys():
    for check_id, observed, *_ in ROWS:
        assert set(observed) == set(golden(CHECKS[check_id].reads[0])[0]), check_id


@pytest.mark.parametrize("check_id", sorted({row[0] for row in ROWS}))
def test_check_judges_every_golden_observation(check_id):
    for observed in golden(CHECKS[check_id].reads[0]):
        result = verdict(check_id, observed, Policy(allowed_regions=("eu-*",)))
        assert result.reason and "\n" not in result.reason, result


def test_every_security_check_has_a_pass_and_a_fail_row():
    modules = {m.__name__ for m in (awslambda, ecr, inspector2, securityhub)}
    mine = {c.id for c in CHECKS.values() if c.judge.__module__ in modules}
    mine |= {"aws.iam.user.access_keys_rotated", "aws.iam.user.unused_credentials_disabled"}
    assert len(mine) == 8, sorted(mine)
    for status in (PASS, FAIL):
        assert mine <= {row[0] for row in ROWS if row[3] == status}, status


@pytest.mark.parametrize("check_id", ["aws.iam.user.access_keys_rotated", "aws.iam.user.unused_credentials_disabled"])
def test_credential_ages_are_judged_when_observed_not_now(check_id):
    """The same evidence passes when judged at the time it was observed and fails a year later: never the clock."""
    assert verdict(check_id, CI_USER).status == PASS
    assert verdict(check_id, CI_USER, at=AT + dt.timedelta(days=365)).status == FAIL
    with pytest.raises(ValueError, match=r"Subject\.at"):
        verdict(check_id, CI_USER, at=None)


@pytest.mark.parametrize(
    ("check_id", "days", "status"),
    [
        ("aws.iam.user.access_keys_rotated", 89, PASS),  # younger than 90 days
        ("aws.iam.user.access_keys_rotated", 90, FAIL),
        ("aws.iam.user.unused_credentials_disabled", 90, PASS),  # unused for more than 90 days fails
        ("aws.iam.user.unused_credentials_disabled", 91, FAIL),
    ],
)
def test_age_limits_at_the_boundary(check_id, days, status):
    issued = dt.datetime.fromisoformat(CI_USER["access_key_1_last_rotated"])
    assert verdict(check_id, {**CI_USER, "access_key_2_active": False}, at=issued + dt.timedelta(days=days)).status == (
        status
    )
