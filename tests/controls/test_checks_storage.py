"""Table tests of the AWS storage and data-service checks: (observed, policy) -> verdict and reason."""

from __future__ import annotations

import pytest

from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks
from controls.checks.aws import dynamodb, kms, rds, s3, secretsmanager, sns, sqs

PASS, FAIL, NA = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_APPLICABLE
CHECKS = {c.id: c for c in registered_checks()}
KEY = "arn:aws:kms:eu-west-1:123456789012:key/f7cdcdb1-30a3-4747-957a-2527a8be6587"


def verdict(check_id: str, observed: dict, policy: Policy | None = None) -> Verdict:
    spec = CHECKS[check_id]
    return judge(spec, Subject(spec.reads[0], "arn:aws:x", "eu-west-1", observed), policy or Policy())


# Observed values as the golden fixtures (tests/fixtures/aws/<kind>.json) record them.
ACCOUNT_PAB = {"configured": True, "block_public_acls": True, "ignore_public_acls": True, "block_public_policy": True,
               "restrict_public_buckets": True}  # fmt: skip
VERSIONING = {"enabled": True, "status": "Enabled", "mfa_delete": False}
LOGGING = {"enabled": True, "target_bucket": "acme-audit-logs-eu", "target_prefix": "s3-access/acme-chat-media-eu/"}
POLICY = {"present": True, "denies_insecure_transport": True, "allows_public_principal": False, "statement_count": 2}
NO_POLICY = {"present": False, "denies_insecure_transport": False, "allows_public_principal": False,
             "statement_count": 0}  # fmt: skip
ACL = {"owner_id": "75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a", "all_users_permissions": [],
       "authenticated_users_permissions": []}  # fmt: skip
KMS = {"enabled": True, "key_state": "Enabled", "rotation_supported": True, "rotation_enabled": True,
       "rotation_period_days": 180, "key_spec": "SYMMETRIC_DEFAULT", "key_usage": "ENCRYPT_DECRYPT",
       "origin": "AWS_KMS", "multi_region": False}  # fmt: skip
RDS_ENC = {"storage_encrypted": True, "kms_key_id": KEY, "engine": "postgres"}
RDS_PUBLIC = {"publicly_accessible": False, "db_subnet_group": "message-store-private",
              "vpc_id": "vpc-28694cd1cb1825085", "iam_auth_enabled": True}  # fmt: skip
RDS_BACKUP = {"backup_retention_days": 14, "multi_az": True, "deletion_protection": True, "db_cluster_id": None}
CLUSTER_BACKUP = {"backup_retention_days": 7, "multi_az": True, "deletion_protection": True}
DDB_ENC = {"sse_type": "KMS", "sse_status": "ENABLED", "kms_key_arn": KEY}
DDB_BACKUP = {"pitr_enabled": True, "recovery_period_days": 35}
SNS = {"encrypted": True, "kms_master_key_id": KEY}
SQS = {"encrypted": True, "sqs_managed_sse": False, "kms_master_key_id": "alias/aws/sqs"}
SECRET = {"rotation_enabled": True, "rotation_days": 30, "rotation_schedule": None,
          "last_rotated": "2026-11-27T20:32:55Z", "next_rotation": "2026-12-27T20:32:55Z",
          "kms_key_id": KEY}  # fmt: skip
MEMBER = {**RDS_BACKUP, "multi_az": False, "deletion_protection": False, "db_cluster_id": "chat-history"}
LIFECYCLE = {"configured": True, "enabled_rules": [{"id": "expire-old-versions", "prefix": None,
             "tag_or_size_filter": False, "expiration_days": None, "expiration_date": None,
             "noncurrent_expiration_days": 30, "transitions": [], "noncurrent_transitions": []}],
             "disabled_rule_count": 0}  # fmt: skip


ROWS = [
    # S3 account and buckets
    ("aws.s3.account.public_access_blocked", ACCOUNT_PAB, None, PASS, "all four"),
    ("aws.s3.account.public_access_blocked", {**ACCOUNT_PAB, "ignore_public_acls": False,
     "restrict_public_buckets": False}, None, FAIL, "off: ignore_public_acls, restrict_public_buckets"),
    ("aws.s3.account.public_access_blocked", {**ACCOUNT_PAB, "configured": False, "block_public_acls": False,
     "ignore_public_acls": False, "block_public_policy": False, "restrict_public_buckets": False}, None, FAIL,
     "no account-level"),
    ("aws.s3.bucket.versioning_enabled", VERSIONING, None, PASS, "versioning Enabled"),
    ("aws.s3.bucket.versioning_enabled", {**VERSIONING, "mfa_delete": True}, None, PASS, "MFA delete on"),
    ("aws.s3.bucket.versioning_enabled", {**VERSIONING, "enabled": False, "status": "Suspended"}, None, FAIL,
     "Suspended"),
    ("aws.s3.bucket.versioning_enabled", {**VERSIONING, "enabled": False, "status": None}, None, FAIL,
     "never enabled"),
    ("aws.s3.bucket.access_logging_enabled", LOGGING, None, PASS,
     "s3://acme-audit-logs-eu/s3-access/acme-chat-media-eu/"),
    ("aws.s3.bucket.access_logging_enabled", {**LOGGING, "target_prefix": ""}, None, PASS,
     "s3://acme-audit-logs-eu/"),
    ("aws.s3.bucket.access_logging_enabled", {"enabled": False, "target_bucket": None, "target_prefix": None},
         None, FAIL, "logging off"),
    ("aws.s3.bucket.insecure_transport_denied", POLICY, None, PASS, "without TLS"),
    ("aws.s3.bucket.insecure_transport_denied", {**POLICY, "denies_insecure_transport": False}, None, FAIL,
     "no deny"),
    ("aws.s3.bucket.insecure_transport_denied", NO_POLICY, None, FAIL, "no bucket policy"),
    ("aws.s3.bucket.policy_not_public", POLICY, None, PASS, "no public Allow in 2 statement(s)"),
    ("aws.s3.bucket.policy_not_public", NO_POLICY, None, PASS, "no bucket policy"),
    ("aws.s3.bucket.policy_not_public", {**POLICY, "denies_insecure_transport": False,
     "allows_public_principal": True, "statement_count": 1}, None, FAIL, "Principal *"),
    ("aws.s3.bucket.acl_not_public", ACL, None, PASS, "no ACL grants"),
    ("aws.s3.bucket.acl_not_public", {**ACL, "all_users_permissions": ["READ", "WRITE"]}, None, FAIL,
     "READ, WRITE to AllUsers"),
    ("aws.s3.bucket.acl_not_public", {**ACL, "authenticated_users_permissions": ["READ"]}, None, FAIL,
     "READ to AuthenticatedUsers"),
    ("aws.s3.bucket.lifecycle_expiration_configured", LIFECYCLE, None, PASS, "expire-old-versions expires noncurrent"),
    ("aws.s3.bucket.lifecycle_expiration_configured", {"configured": False, "enabled_rules": [],
     "disabled_rule_count": 0}, None, FAIL, "no lifecycle configuration"),
    # KMS
    ("aws.kms.key.rotation_enabled", KMS, None, PASS, "every 180 days"),
    ("aws.kms.key.rotation_enabled", {**KMS, "rotation_period_days": None}, None, PASS,
     "365 days (AWS default)"),
    ("aws.kms.key.rotation_enabled", KMS, Policy(max_key_rotation_days=90), FAIL, "every 180 days (max 90)"),
    ("aws.kms.key.rotation_enabled", {**KMS, "rotation_period_days": None}, Policy(max_key_rotation_days=180),
         FAIL, "365 days (AWS default) (max 180)"),
    ("aws.kms.key.rotation_enabled", {**KMS, "rotation_enabled": False, "rotation_period_days": None,
     "key_usage": None}, None, FAIL, "rotation off"),
    ("aws.kms.key.rotation_enabled", {**KMS, "enabled": False, "key_state": "Disabled", "rotation_enabled": False},
         None, NA, "key state Disabled"),
    ("aws.kms.key.rotation_enabled", {**KMS, "enabled": False, "key_state": "PendingDeletion"}, None, NA,
     "PendingDeletion"),
    ("aws.kms.key.rotation_enabled", {**KMS, "rotation_supported": False, "rotation_enabled": None,
     "rotation_period_days": None, "key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY"}, None, NA,
     "not supported for RSA_2048"),
    ("aws.kms.key.rotation_enabled", {**KMS, "rotation_supported": False, "rotation_enabled": None,
     "rotation_period_days": None, "origin": "EXTERNAL"}, None, NA, "origin EXTERNAL"),
    # RDS DB instances
    ("aws.rds.db_instance.storage_encrypted", RDS_ENC, None, PASS, KEY),
    ("aws.rds.db_instance.storage_encrypted", {"storage_encrypted": False, "kms_key_id": None, "engine": "mysql"},
         None, FAIL, "mysql storage not encrypted"),
    ("aws.rds.db_instance.public_access_disabled", RDS_PUBLIC, None, PASS, "not publicly accessible"),
    ("aws.rds.db_instance.public_access_disabled", {**RDS_PUBLIC, "publicly_accessible": True,
     "db_subnet_group": "default", "iam_auth_enabled": False}, None, FAIL,
     "publicly accessible (subnet group default)"),
    ("aws.rds.db_instance.public_access_disabled", {**RDS_PUBLIC, "publicly_accessible": True,
     "db_subnet_group": None, "vpc_id": None}, None, FAIL, "no subnet group"),
    ("aws.rds.db_instance.public_access_disabled", {"publicly_accessible": None, "db_subnet_group": None,
     "vpc_id": None, "iam_auth_enabled": False}, None, NA, "did not report PubliclyAccessible"),
    ("aws.rds.db_instance.backup_retention_sufficient", RDS_BACKUP, None, PASS, "kept 14 days (min 7)"),
    ("aws.rds.db_instance.backup_retention_sufficient", RDS_BACKUP, Policy(min_backup_retention_days=30), FAIL,
     "kept 14 days (min 30)"),
    ("aws.rds.db_instance.backup_retention_sufficient", {**RDS_BACKUP, "backup_retention_days": 0}, None, FAIL,
     "automated backups off"),
    ("aws.rds.db_instance.backup_retention_sufficient", MEMBER, None, NA, "member of DB cluster chat-history"),
    ("aws.rds.db_instance.deletion_protection_enabled", RDS_BACKUP, None, PASS, "protection on"),
    ("aws.rds.db_instance.deletion_protection_enabled", {**RDS_BACKUP, "deletion_protection": False}, None, FAIL,
     "protection off"),
    ("aws.rds.db_instance.deletion_protection_enabled", MEMBER, None, NA, "chat-history"),
    ("aws.rds.db_instance.multi_az_enabled", RDS_BACKUP, None, PASS, "Multi-AZ"),
    ("aws.rds.db_instance.multi_az_enabled", {**RDS_BACKUP, "multi_az": False}, None, FAIL, "single-AZ"),
    ("aws.rds.db_instance.multi_az_enabled", MEMBER, None, NA, "chat-history"),
    # RDS DB clusters
    ("aws.rds.db_cluster.storage_encrypted", {**RDS_ENC, "engine": "aurora-postgresql"}, None, PASS, KEY),
    ("aws.rds.db_cluster.storage_encrypted", {"storage_encrypted": False, "kms_key_id": None,
     "engine": "aurora-mysql"}, None, FAIL, "aurora-mysql storage not encrypted"),
    ("aws.rds.db_cluster.backup_retention_sufficient", CLUSTER_BACKUP, None, PASS, "kept 7 days (min 7)"),
    ("aws.rds.db_cluster.backup_retention_sufficient", {**CLUSTER_BACKUP, "backup_retention_days": 1}, None, FAIL,
     "kept 1 day (min 7)"),
    ("aws.rds.db_cluster.backup_retention_sufficient", {**CLUSTER_BACKUP, "backup_retention_days": 1},
     Policy(min_backup_retention_days=1), PASS, "kept 1 day (min 1)"),
    ("aws.rds.db_cluster.deletion_protection_enabled", CLUSTER_BACKUP, None, PASS, "protection on"),
    ("aws.rds.db_cluster.deletion_protection_enabled", {**CLUSTER_BACKUP, "deletion_protection": False}, None,
         FAIL, "protection off"),
    ("aws.rds.db_cluster.multi_az_enabled", CLUSTER_BACKUP, None, PASS, "several AZs"),
    ("aws.rds.db_cluster.multi_az_enabled", {**CLUSTER_BACKUP, "multi_az": False}, None, FAIL, "one AZ"),
    # DynamoDB
    ("aws.dynamodb.table.encryption_enabled", DDB_ENC, None, PASS, f"KMS key {KEY} (ENABLED)"),
    ("aws.dynamodb.table.encryption_enabled", {"sse_type": "AWS_OWNED", "sse_status": None, "kms_key_arn": None},
         None, PASS, "owned by DynamoDB"),
    ("aws.dynamodb.table.encryption_enabled", {**DDB_ENC, "sse_status": "INACCESSIBLE_ENCRYPTION_CREDENTIALS"},
         None, FAIL, "inaccessible"),
    ("aws.dynamodb.table.point_in_time_recovery_enabled", DDB_BACKUP, None, PASS, "35 days back"),
    ("aws.dynamodb.table.point_in_time_recovery_enabled", {**DDB_BACKUP, "recovery_period_days": None}, None,
     PASS, "35 days (AWS default)"),
    ("aws.dynamodb.table.point_in_time_recovery_enabled", {**DDB_BACKUP, "recovery_period_days": 7},
     Policy(min_backup_retention_days=14), FAIL, "recovery period 7 days (min 14)"),
    ("aws.dynamodb.table.point_in_time_recovery_enabled", {"pitr_enabled": False, "recovery_period_days": None},
         None, FAIL, "recovery off"),
    # SNS, SQS, Secrets Manager
    ("aws.sns.topic.encryption_enabled", SNS, None, PASS, KEY),
    ("aws.sns.topic.encryption_enabled", {**SNS, "kms_master_key_id": "alias/aws/sns"}, None, PASS,
     "alias/aws/sns"),
    ("aws.sns.topic.encryption_enabled", {"encrypted": False, "kms_master_key_id": None}, None, FAIL,
     "encryption off"),
    ("aws.sqs.queue.encryption_enabled", SQS, None, PASS, "SSE-KMS with key alias/aws/sqs"),
    ("aws.sqs.queue.encryption_enabled", {**SQS, "sqs_managed_sse": True, "kms_master_key_id": None}, None, PASS,
     "SSE-SQS"),
    ("aws.sqs.queue.encryption_enabled", {**SQS, "encrypted": False, "kms_master_key_id": None}, None, FAIL,
     "encryption off"),
    ("aws.secretsmanager.secret.rotation_enabled", SECRET, None, PASS, "every 30 days"),
    ("aws.secretsmanager.secret.rotation_enabled", {**SECRET, "rotation_days": None,
     "rotation_schedule": "rate(10 days)"}, None, PASS, "schedule rate(10 days)"),
    ("aws.secretsmanager.secret.rotation_enabled", {**SECRET, "rotation_enabled": False, "rotation_days": None,
     "last_rotated": None, "next_rotation": None, "kms_key_id": None}, None, FAIL, "rotation off"),
    ("aws.secretsmanager.secret.rotation_enabled", {**SECRET, "rotation_enabled": False, "rotation_days": 0,
     "next_rotation": None}, None, FAIL, "rotation off"),
]  # fmt: skip


@pytest.mark.parametrize(("check_id", "observed", "policy", "status", "reason"), ROWS)
def test_check_table(check_id, observed, policy, status, reason):
    result = verdict(check_id, observed, policy)
    assert result.status == status and reason in result.reason, result


def test_every_storage_check_has_a_pass_and_a_fail_row():
    modules = {m.__name__ for m in (dynamodb, kms, rds, s3, secretsmanager, sns, sqs)}
    examples = {"aws.s3.bucket.encryption_enabled", "aws.s3.bucket.public_access_blocked"}  # test_checks_examples
    mine = {c.id for c in CHECKS.values() if c.judge.__module__ in modules} - examples
    assert mine, "no storage checks registered"
    for status in (PASS, FAIL):
        assert mine <= {row[0] for row in ROWS if row[3] == status}, status
