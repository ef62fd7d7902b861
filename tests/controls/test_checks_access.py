"""Table tests of the AWS access, network, compute and logging checks: (observed, policy) -> verdict and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks
from controls.checks.aws import cloudtrail, configservice, ec2, eks, elbv2, guardduty, iam, logs, organizations

PASS, FAIL, NA = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_APPLICABLE
CHECKS = {c.id: c for c in registered_checks()}
KEY = "arn:aws:kms:eu-west-1:123456789012:key/8ad7b84d-1e30-488c-b8d7-37dc446bbd55"
EU = Policy(allowed_regions=("eu-*",))
FIXTURES = Path(__file__).parents[1] / "fixtures" / "aws"


def verdict(check_id: str, observed: dict, policy: Policy | None = None, region: str = "eu-west-1") -> Verdict:
    spec = CHECKS[check_id]
    return judge(spec, Subject(spec.reads[0], "arn:aws:x", region, observed), policy or Policy())


# Observed values as the golden fixtures (tests/fixtures/aws/<kind>.json) record them.
PWD = {"present": True, "minimum_length": 14, "require_symbols": True, "require_numbers": True,
       "require_uppercase": True, "require_lowercase": True, "users_can_change": True, "max_age_days": 90,
       "reuse_prevention": 24, "hard_expiry": False}  # fmt: skip
NO_PWD = {"present": False, "minimum_length": None, "require_symbols": False, "require_numbers": False,
          "require_uppercase": False, "require_lowercase": False, "users_can_change": False, "max_age_days": None,
          "reuse_prevention": None, "hard_expiry": False}  # fmt: skip
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
ROOT = {"mfa_active": True, "account_mfa_enabled": True, "active_access_keys": 0,
        "account_access_keys_present": False, "password_last_used": "2026-10-02T08:41:07Z",
        "access_key_last_used": None}  # fmt: skip
ADMIN = {"policy_name": "ops-full-admin", "policy_type": "customer_managed", "grants_full_admin": True,
         "attachment_count": 2, "users": ["legacy-export"], "groups": ["ops-admins"], "roles": []}  # fmt: skip
READ = {"policy_name": "chat-media-read", "policy_type": "customer_managed", "grants_full_admin": False,
        "attachment_count": 2, "users": ["ci-deployer"], "groups": [], "roles": ["message-store-writer"]}  # fmt: skip
INLINE = {"policy_name": "debug-everything", "policy_type": "inline", "grants_full_admin": True,
          "attachment_count": 1, "users": [], "groups": [], "roles": ["message-store-writer"]}  # fmt: skip
AWS_ADMIN = {"policy_name": "AdministratorAccess", "policy_type": "aws_managed", "grants_full_admin": True,
             "attachment_count": 0, "users": [], "groups": [], "roles": []}  # fmt: skip
SCP = {"organization": True, "policy_name": "eu-regions-only", "aws_managed": False, "restricts_regions": True,
       "allowed_regions": ["eu-central-1", "eu-west-1"], "restricted_actions": [],
       "exempted_actions": ["cloudfront:*", "iam:*", "organizations:*", "route53:*", "sts:*", "support:*"],
       "exempted_principals": ["arn:aws:iam::*:role/break-glass"],
       "targets": [{"type": "ORGANIZATIONAL_UNIT", "id": "ou-om7y-tohvvcg9"}]}  # fmt: skip
SCP_PARTIAL = {**SCP, "policy_name": "data-stays-in-eu", "allowed_regions": ["eu-*"],
               "restricted_actions": ["ec2:*", "rds:*", "s3:CreateBucket"], "exempted_actions": [],
               "exempted_principals": [], "targets": [{"type": "ACCOUNT", "id": "210987654321"}]}  # fmt: skip
SCP_OTHER = {**SCP, "policy_name": "deny-leave-organization", "restricts_regions": False, "allowed_regions": [],
             "exempted_actions": [], "exempted_principals": [],
             "targets": [{"type": "ROOT", "id": "r-om7y"}]}  # fmt: skip
NO_ORG = {"organization": False, "policy_name": None, "aws_managed": False, "restricts_regions": False,
          "allowed_regions": [], "restricted_actions": [], "exempted_actions": [], "exempted_principals": [],
          "targets": []}  # fmt: skip
EBS_DEFAULT = {"enabled": True, "default_kms_key_id": KEY}
VOLUME = {"encrypted": True, "kms_key_id": KEY, "attached_instances": ["i-96a15bb72ff13fc3a"]}
SG = {"open_to_world_ipv4": ["80", "443", "3478-3481", "icmp"], "open_to_world_ipv6": ["80", "443", "3478-3481"],
      "group_name": "chat-edge", "vpc_id": "vpc-2819b8804cb3c33da", "is_default": False}  # fmt: skip
SG_ADMIN = {**SG, "open_to_world_ipv4": ["22", "3389"], "open_to_world_ipv6": ["all"], "group_name": "legacy-admin"}
SG_WIDE = {**SG, "open_to_world_ipv4": ["0-65535", "protocol-50"], "open_to_world_ipv6": ["icmpv6"],
           "group_name": "batch-workers", "vpc_id": "vpc-0e1d2c3b4a5968778"}  # fmt: skip
SG_CLOSED = {**SG, "open_to_world_ipv4": [], "open_to_world_ipv6": [], "group_name": "default", "is_default": True}
FLOW = {"flow_logs_active": True, "traffic_types": ["ALL", "REJECT"], "destination_types": ["cloud-watch-logs", "s3"],
        "is_default": False}  # fmt: skip
NO_FLOW = {"flow_logs_active": False, "traffic_types": [], "destination_types": [], "is_default": True}
HTTPS = {"protocol": "HTTPS", "port": 443, "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
         "certificate_arns": ["arn:aws:acm:eu-west-1:123456789012:certificate/c21385a8-0759-42df-bc0d-1ae3d4d2260e"],
         "redirects_to_https": False, "scheme": "internet-facing"}  # fmt: skip
HTTP = {"protocol": "HTTP", "port": 80, "ssl_policy": None, "certificate_arns": [], "redirects_to_https": True,
        "scheme": "internet-facing"}  # fmt: skip
TCP = {"protocol": "TCP", "port": 9000, "ssl_policy": None, "certificate_arns": [], "redirects_to_https": False,
       "scheme": "internal"}  # fmt: skip
TLS10 = {"protocol": "TLS", "port": 8883, "ssl_policy": "ELBSecurityPolicy-TLS-1-0-2015-04",
         "certificate_arns": ["arn:aws:acm:eu-west-1:123456789012:certificate/0b7d2f1e-6c4a-4e59-9a3d-81f0c2b5e7a6"],
         "redirects_to_https": False, "scheme": "internal"}  # fmt: skip
GATEWAY = {**TCP, "protocol": None, "port": 6081}
ENDPOINT = {"endpoint_public_access": True, "endpoint_private_access": True,
            "public_access_cidrs": ["198.51.100.16/28", "203.0.113.0/24"]}  # fmt: skip
SECRETS = {"secrets_encrypted": True, "kms_key_arn": KEY}
EKS_LOGS = {"enabled_log_types": ["api", "audit", "authenticator"]}
TRAIL = {"multi_region": True, "organization_trail": False, "include_global_service_events": True,
         "is_logging": True, "log_file_validation": True,
         "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/ec0d7f73-98bf-4188-a00e-f1d2dfb6abaa",
         "s3_bucket": "acme-audit-trail-eu",
         "cloudwatch_log_group_arn": "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/cloudtrail/acme-audit",
         "advanced_event_selectors": False, "management_events": "All", "data_events": True}  # fmt: skip
LEGACY_TRAIL = {"multi_region": False, "organization_trail": False, "include_global_service_events": False,
                "is_logging": False, "log_file_validation": False, "kms_key_id": None,
                "s3_bucket": "acme-legacy-trail", "cloudwatch_log_group_arn": None, "advanced_event_selectors": True,
                "management_events": None, "data_events": False}  # fmt: skip
SCRATCH = {**LEGACY_TRAIL, "include_global_service_events": True, "is_logging": True,
           "advanced_event_selectors": False, "management_events": "WriteOnly"}  # fmt: skip
TRAILS = {"trail_count": 3, "multi_region_logging_count": 1,
          "trail_arns": ["arn:aws:cloudtrail:eu-west-1:123456789012:trail/acme-audit",
                         "arn:aws:cloudtrail:us-east-1:123456789012:trail/acme-legacy",
                         "arn:aws:cloudtrail:us-east-1:123456789012:trail/acme-scratch"]}  # fmt: skip
LOG_GROUP = {"retention_days": 365, "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/ec0d7f73",
             "deletion_protection": False}  # fmt: skip
MASKED = {"group_policy": False, "account_policy": True,
          "masked_identifiers": ["EmailAddress", "IpAddress", "PhoneNumber-DE", "PhoneNumber-FR"],
          "audited_identifiers": ["EmailAddress", "IpAddress", "PhoneNumber-DE", "PhoneNumber-FR"],
          "findings_destination": False}  # fmt: skip
AUDIT_ONLY = {"group_policy": True, "account_policy": False, "masked_identifiers": [],
              "audited_identifiers": ["EmailAddress", "PhoneNumber-US"], "findings_destination": True}  # fmt: skip
UNPROTECTED = {"group_policy": False, "account_policy": False, "masked_identifiers": [], "audited_identifiers": [],
               "findings_destination": False}  # fmt: skip
RECORDER = {"recorder_present": True, "recording": True, "all_supported": True,
            "include_global_resource_types": True, "recording_strategy": "ALL_SUPPORTED_RESOURCE_TYPES"}  # fmt: skip
NO_RECORDER = {"recorder_present": False, "recording": False, "all_supported": False,
               "include_global_resource_types": False, "recording_strategy": None}  # fmt: skip
DETECTOR = {"detector_present": True, "status": "ENABLED", "finding_publishing_frequency": "FIFTEEN_MINUTES",
            "data_sources_enabled": ["S3Logs"], "features_enabled": []}  # fmt: skip
NO_DETECTOR = {"detector_present": False, "status": None, "finding_publishing_frequency": None,
               "data_sources_enabled": [], "features_enabled": []}  # fmt: skip


ROWS = [
    # IAM account password policy
    ("aws.iam.account.password_reuse_prevented", PWD, None, "global", PASS, "remembers 24 previous passwords"),
    ("aws.iam.account.password_reuse_prevented", {**PWD, "reuse_prevention": 5}, None, "global", FAIL,
     "remembers 5 previous passwords (min 24)"),
    ("aws.iam.account.password_reuse_prevented", {**PWD, "reuse_prevention": 5},
     Policy(min_password_reuse_prevention=5), "global", PASS, "(min 5)"),
    ("aws.iam.account.password_reuse_prevented", {**PWD, "reuse_prevention": None}, None, "global", FAIL,
     "remembers 0 previous"),
    ("aws.iam.account.password_reuse_prevented", NO_PWD, None, "global", FAIL, "no password policy"),
    # IAM users
    ("aws.iam.user.console_mfa_enabled", USER, None, "global", PASS, "with MFA"),
    ("aws.iam.user.console_mfa_enabled", {**USER, "user_name": "legacy-export", "mfa_active": False}, None,
     "global", FAIL, "legacy-export has a console password without MFA"),
    ("aws.iam.user.console_mfa_enabled", CI_USER, None, "global", NA, "no console password"),
    ("aws.iam.user.active_access_keys_limited", USER, None, "global", PASS, "one active access key (key 1)"),
    ("aws.iam.user.active_access_keys_limited", CI_USER, None, "global", FAIL, "access keys 1 and 2 both active"),
    ("aws.iam.user.active_access_keys_limited", NO_KEYS, None, "global", NA, "no active access key"),
    ("aws.iam.user.access_keys_used", USER, None, "global", PASS, "access key 1 used"),
    ("aws.iam.user.access_keys_used", {**CI_USER, "access_key_2_last_used": "2026-11-27T21:00:00Z"}, None,
     "global", FAIL, "access key 1 is active but was never used (issued 2026-11-27T20:33:34Z)"),
    ("aws.iam.user.access_keys_used", CI_USER, None, "global", FAIL, "; access key 2 is active but was never used"),
    ("aws.iam.user.access_keys_used", NO_KEYS, None, "global", NA, "no active access key"),
    # IAM root user
    ("aws.iam.account.root_mfa_enabled", ROOT, None, "global", PASS, "root MFA on"),
    ("aws.iam.account.root_mfa_enabled", {**ROOT, "mfa_active": False}, None, "global", PASS,
     "credential report, up to 4 h old, shows none yet"),
    ("aws.iam.account.root_mfa_enabled", {**ROOT, "account_mfa_enabled": False}, None, "global", FAIL,
     "root user has no MFA device"),
    ("aws.iam.account.root_access_keys_absent", ROOT, None, "global", PASS, "no root access keys"),
    ("aws.iam.account.root_access_keys_absent", {**ROOT, "active_access_keys": 1,
     "account_access_keys_present": True, "access_key_last_used": "2026-11-26T22:10:00Z"}, None, "global", FAIL,
     "root user has 1 active access key"),
    ("aws.iam.account.root_access_keys_absent", {**ROOT, "account_access_keys_present": True}, None, "global",
     FAIL, "inactive in the credential report"),
    ("aws.iam.account.root_access_keys_absent", {**ROOT, "active_access_keys": 2}, None, "global", PASS,
     "still shows 2 active"),
    # IAM policies granting full administrator access
    ("aws.iam.policy.custom_admin_unattached", READ, None, "global", PASS, "does not grant full administrator"),
    ("aws.iam.policy.custom_admin_unattached", {**ADMIN, "attachment_count": 0, "users": [], "groups": []}, None,
     "global", PASS, "attached to no principal"),
    ("aws.iam.policy.custom_admin_unattached", ADMIN, None, "global", FAIL,
     "customer-managed policy ops-full-admin grants *:* to users legacy-export; groups ops-admins"),
    ("aws.iam.policy.custom_admin_unattached", INLINE, None, "global", FAIL,
     "inline policy debug-everything grants *:* to roles message-store-writer"),
    ("aws.iam.policy.custom_admin_unattached", AWS_ADMIN, None, "global", NA, "AWS-managed AdministratorAccess"),
    ("aws.iam.policy.admin_not_on_users", {**AWS_ADMIN, "attachment_count": 1, "groups": ["ops-admins"]}, None,
     "global", PASS, "held only through groups ops-admins"),
    ("aws.iam.policy.admin_not_on_users", AWS_ADMIN, None, "global", PASS, "attached to no user"),
    ("aws.iam.policy.admin_not_on_users", ADMIN, None, "global", FAIL,
     "ops-full-admin (full admin) attached directly to users legacy-export"),
    ("aws.iam.policy.admin_not_on_users", READ, None, "global", NA, "does not grant full administrator"),
    # Organizations service control policies
    ("aws.organizations.policy.regions_in_allowed_regions", SCP, EU, "global", PASS,
     "eu-regions-only allows only eu-central-1, eu-west-1 (eu-*)"),
    ("aws.organizations.policy.regions_in_allowed_regions", SCP_PARTIAL, EU, "global", PASS,
     "allows only eu-* (eu-*); denies only ec2:*, rds:*, s3:CreateBucket elsewhere"),
    ("aws.organizations.policy.regions_in_allowed_regions", SCP_PARTIAL, Policy(allowed_regions=("eu-west-*",)),
     "global", FAIL, "data-stays-in-eu allows eu-*, outside the allowed regions (eu-west-*)"),
    ("aws.organizations.policy.regions_in_allowed_regions", {**SCP, "allowed_regions": ["eu-west-1", "us-east-1"]},
     EU, "global", FAIL, "allows us-east-1, outside"),
    ("aws.organizations.policy.regions_in_allowed_regions", SCP, Policy(allowed_regions=("eu-central-1",)),
     "global", FAIL, "allows eu-west-1, outside the allowed regions (eu-central-1)"),
    ("aws.organizations.policy.regions_in_allowed_regions", SCP, None, "global", NA, "no allowed regions"),
    ("aws.organizations.policy.regions_in_allowed_regions", SCP_OTHER, EU, "global", NA,
     "deny-leave-organization does not restrict regions"),
    ("aws.organizations.policy.regions_in_allowed_regions", {**SCP, "targets": []}, EU, "global", NA,
     "attached to nothing"),
    ("aws.organizations.policy.regions_in_allowed_regions", NO_ORG, EU, "global", NA, "in no organization"),
    # EC2: EBS encryption
    ("aws.ec2.region.ebs_encryption_default_enabled", EBS_DEFAULT, None, "eu-west-1", PASS, f"(key {KEY})"),
    ("aws.ec2.region.ebs_encryption_default_enabled", {"enabled": False, "default_kms_key_id": "alias/aws/ebs"},
     None, "us-east-1", FAIL, "off in us-east-1"),
    ("aws.ec2.volume.encrypted", VOLUME, None, "eu-west-1", PASS, KEY),
    ("aws.ec2.volume.encrypted", {"encrypted": False, "kms_key_id": None, "attached_instances": []}, None,
     "eu-west-1", FAIL, "unencrypted (detached)"),
    ("aws.ec2.volume.encrypted", {**VOLUME, "encrypted": False, "kms_key_id": None}, None, "eu-west-1", FAIL,
     "unencrypted (attached to i-96a15bb72ff13fc3a)"),
    # EC2: security groups
    ("aws.ec2.security_group.admin_ports_restricted", SG, None, "eu-west-1", PASS, "no admin port open"),
    ("aws.ec2.security_group.admin_ports_restricted", SG_ADMIN, None, "eu-west-1", FAIL,
     "port 22 open to 0.0.0.0/0; port 3389 open to 0.0.0.0/0; all traffic open to ::/0"),
    ("aws.ec2.security_group.admin_ports_restricted", SG_WIDE, None, "eu-west-1", FAIL,
     "ports 0-65535 open to 0.0.0.0/0 (admin ports 22, 23, 3389, 1433, ... 11 in all)"),
    ("aws.ec2.security_group.admin_ports_restricted", {**SG, "open_to_world_ipv4": ["3478-3481"]},
     Policy(admin_ports=(3479,)), "eu-west-1", FAIL, "ports 3478-3481 open to 0.0.0.0/0 (admin ports 3479)"),
    ("aws.ec2.security_group.admin_ports_restricted", SG_ADMIN, Policy(admin_ports=()), "eu-west-1", NA,
     "no admin ports configured"),
    ("aws.ec2.security_group.admin_ports_restricted", {**SG_ADMIN, "open_to_world_ipv6": []},
     Policy(admin_ports=(5432,)), "eu-west-1", PASS, "no admin port"),
    ("aws.ec2.security_group.all_ports_restricted", SG, None, "eu-west-1", PASS, "no rule opens every port"),
    ("aws.ec2.security_group.all_ports_restricted", SG_CLOSED, None, "eu-west-1", PASS, "no rule opens every port"),
    ("aws.ec2.security_group.all_ports_restricted", SG_ADMIN, None, "eu-west-1", FAIL, "all traffic open to ::/0"),
    ("aws.ec2.security_group.all_ports_restricted", SG_WIDE, None, "eu-west-1", FAIL,
     "ports 0-65535 open to 0.0.0.0/0"),
    # EC2: VPC flow logs
    ("aws.ec2.vpc.flow_logs_enabled", FLOW, None, "eu-west-1", PASS,
     "flow log active (ALL, REJECT traffic to cloud-watch-logs, s3)"),
    ("aws.ec2.vpc.flow_logs_enabled", NO_FLOW, None, "eu-west-1", FAIL, "no active flow log (default VPC)"),
    ("aws.ec2.vpc.flow_logs_enabled", {**NO_FLOW, "is_default": False}, None, "eu-west-1", FAIL,
     "no active flow log"),
    # ELBv2 listeners
    ("aws.elbv2.listener.tls_enforced", HTTPS, None, "eu-west-1", PASS, "HTTPS on port 443"),
    ("aws.elbv2.listener.tls_enforced", HTTP, None, "eu-west-1", PASS, "redirects to HTTPS"),
    ("aws.elbv2.listener.tls_enforced", TLS10, None, "eu-west-1", PASS, "TLS on port 8883"),
    ("aws.elbv2.listener.tls_enforced", {**HTTP, "redirects_to_https": False}, None, "us-east-1", FAIL,
     "plain HTTP on port 80 (internet-facing), no redirect"),
    ("aws.elbv2.listener.tls_enforced", TCP, None, "eu-west-1", NA, "TCP listener passes traffic through"),
    ("aws.elbv2.listener.tls_enforced", GATEWAY, None, "eu-west-1", NA, "gateway load balancer"),
    ("aws.elbv2.listener.tls_policy_strong", HTTPS, None, "eu-west-1", PASS,
     "ELBSecurityPolicy-TLS13-1-2-2021-06 requires TLS 1.2"),
    ("aws.elbv2.listener.tls_policy_strong", {**HTTPS, "ssl_policy": "ELBSecurityPolicy-FS-1-2-Res-2020-10"},
     None, "eu-west-1", PASS, "requires TLS 1.2"),
    ("aws.elbv2.listener.tls_policy_strong", {**TLS10, "ssl_policy": "ELBSecurityPolicy-TLS13-1-3-2021-06"},
     None, "eu-west-1", PASS, "requires TLS 1.3"),
    ("aws.elbv2.listener.tls_policy_strong", TLS10, None, "eu-west-1", FAIL,
     "ELBSecurityPolicy-TLS-1-0-2015-04 accepts TLS 1.0"),
    ("aws.elbv2.listener.tls_policy_strong", {**HTTPS, "ssl_policy": "ELBSecurityPolicy-2016-08"}, None,
     "eu-west-1", FAIL, "ELBSecurityPolicy-2016-08 accepts TLS 1.0"),
    ("aws.elbv2.listener.tls_policy_strong", {**HTTPS, "ssl_policy": "ELBSecurityPolicy-TLS13-1-1-2021-06"},
     None, "eu-west-1", FAIL, "accepts TLS 1.1"),
    ("aws.elbv2.listener.tls_policy_strong", {**HTTPS, "ssl_policy": "custom-policy"}, None, "eu-west-1", FAIL,
     "lowest TLS version unknown"),
    ("aws.elbv2.listener.tls_policy_strong", HTTP, None, "eu-west-1", NA, "HTTP listener terminates no TLS"),
    ("aws.elbv2.listener.tls_policy_strong", GATEWAY, None, "eu-west-1", NA, "gateway listener"),
    # EKS clusters
    ("aws.eks.cluster.endpoint_access_restricted", ENDPOINT, None, "eu-west-1", PASS,
     "public endpoint limited to 198.51.100.16/28, 203.0.113.0/24"),
    ("aws.eks.cluster.endpoint_access_restricted", {"endpoint_public_access": False, "endpoint_private_access": True,
     "public_access_cidrs": ["0.0.0.0/0"]}, None, "eu-west-1", PASS, "public endpoint off"),
    ("aws.eks.cluster.endpoint_access_restricted", {"endpoint_public_access": True,
     "endpoint_private_access": False, "public_access_cidrs": ["0.0.0.0/0"]}, None, "us-east-1", FAIL,
     "public endpoint open to 0.0.0.0/0"),
    ("aws.eks.cluster.endpoint_access_restricted", {**ENDPOINT, "public_access_cidrs": None}, None, "eu-west-1",
     FAIL, "no CIDR list"),
    ("aws.eks.cluster.endpoint_access_restricted", {"endpoint_public_access": None, "endpoint_private_access": None,
     "public_access_cidrs": None}, None, "eu-west-1", NA, "not in the DescribeCluster answer"),
    ("aws.eks.cluster.secrets_encrypted", SECRETS, None, "eu-west-1", PASS, KEY),
    ("aws.eks.cluster.secrets_encrypted", {"secrets_encrypted": False, "kms_key_arn": None}, None, "eu-west-1",
     FAIL, "not envelope-encrypted"),
    ("aws.eks.cluster.audit_logging_enabled", EKS_LOGS, None, "eu-west-1", PASS,
     "control-plane logs on: api, audit, authenticator"),
    ("aws.eks.cluster.audit_logging_enabled", {"enabled_log_types": []}, None, "eu-west-1", FAIL,
     "log types off: audit, authenticator"),
    ("aws.eks.cluster.audit_logging_enabled", {"enabled_log_types": ["api", "audit"]}, None, "eu-west-1", FAIL,
     "log types off: authenticator"),
    # CloudTrail trails
    ("aws.cloudtrail.trail.logging_enabled", TRAIL, None, "eu-west-1", PASS, "trail is logging"),
    ("aws.cloudtrail.trail.logging_enabled", LEGACY_TRAIL, None, "us-east-1", FAIL, "trail is stopped"),
    ("aws.cloudtrail.trail.log_file_validation_enabled", TRAIL, None, "eu-west-1", PASS, "validation on"),
    ("aws.cloudtrail.trail.log_file_validation_enabled", LEGACY_TRAIL, None, "us-east-1", FAIL, "validation off"),
    ("aws.cloudtrail.trail.kms_encryption_enabled", TRAIL, None, "eu-west-1", PASS, "ec0d7f73"),
    ("aws.cloudtrail.trail.kms_encryption_enabled", LEGACY_TRAIL, None, "us-east-1", FAIL,
     "log files in acme-legacy-trail use S3-managed encryption, no KMS key"),
    ("aws.cloudtrail.trail.management_events_logged", TRAIL, None, "eu-west-1", PASS, "all management events"),
    ("aws.cloudtrail.trail.management_events_logged", SCRATCH, None, "us-east-1", FAIL,
     "logs only WriteOnly management events"),
    ("aws.cloudtrail.trail.management_events_logged", {**SCRATCH, "management_events": "None"}, None, "us-east-1",
     FAIL, "neither management nor data events"),
    ("aws.cloudtrail.trail.management_events_logged", {**SCRATCH, "management_events": "None",
     "data_events": True}, None, "us-east-1", NA, "data-event trail"),
    ("aws.cloudtrail.trail.management_events_logged", LEGACY_TRAIL, None, "us-east-1", NA,
     "advanced event selectors"),
    ("aws.cloudtrail.trail.cloudwatch_logs_enabled", TRAIL, None, "eu-west-1", PASS,
     "delivered to arn:aws:logs:eu-west-1:123456789012:log-group:/aws/cloudtrail/acme-audit"),
    ("aws.cloudtrail.trail.cloudwatch_logs_enabled", LEGACY_TRAIL, None, "us-east-1", FAIL,
     "no CloudWatch Logs group"),
    ("aws.cloudtrail.account.multi_region_trail_enabled", TRAILS, None, "global", PASS,
     "1 multi-region trail logging"),
    ("aws.cloudtrail.account.multi_region_trail_enabled", {**TRAILS, "multi_region_logging_count": 0}, None,
     "global", FAIL, "no multi-region trail is logging (3 trails in all)"),
    ("aws.cloudtrail.account.multi_region_trail_enabled", {"trail_count": 0, "multi_region_logging_count": 0,
     "trail_arns": []}, None, "global", FAIL, "no CloudTrail trail at all"),
    # CloudWatch Logs log groups
    ("aws.logs.log_group.retention_sufficient", LOG_GROUP, None, "eu-west-1", PASS, "retention 365 days (min 365)"),
    ("aws.logs.log_group.retention_sufficient", {**LOG_GROUP, "retention_days": None}, None, "eu-west-1", PASS,
     "never expire"),
    ("aws.logs.log_group.retention_sufficient", {**LOG_GROUP, "retention_days": 90}, None, "us-east-1", FAIL,
     "retention 90 days (min 365)"),
    ("aws.logs.log_group.retention_sufficient", {**LOG_GROUP, "retention_days": 90},
     Policy(min_log_retention_days=90), "us-east-1", PASS, "retention 90 days (min 90)"),
    ("aws.logs.log_group.kms_encrypted", LOG_GROUP, None, "eu-west-1", PASS, "encrypted with arn:aws:kms:"),
    ("aws.logs.log_group.kms_encrypted", {**LOG_GROUP, "kms_key_id": None}, None, "eu-west-1", FAIL, "no KMS key"),
    ("aws.logs.log_group.deletion_protection_enabled", {**LOG_GROUP, "deletion_protection": True}, None,
     "us-east-1", PASS, "deletion protection on"),
    ("aws.logs.log_group.deletion_protection_enabled", LOG_GROUP, None, "eu-west-1", FAIL,
     "deletion protection off"),
    ("aws.logs.log_group.sensitive_data_masked", MASKED, None, "eu-west-1", PASS,
     "masks 4 data identifiers (EmailAddress, IpAddress, PhoneNumber-DE, PhoneNumber-FR) via the account policy"),
    ("aws.logs.log_group.sensitive_data_masked", {**MASKED, "group_policy": True, "account_policy": False,
     "masked_identifiers": ["EmailAddress"]}, None, "eu-west-1", PASS,
     "masks 1 data identifier (EmailAddress) via the group's policy"),
    ("aws.logs.log_group.sensitive_data_masked", {**MASKED, "group_policy": True, "masked_identifiers":
     ["ChatUserId", "EmailAddress", "IpAddress", "PhoneNumber-DE", "PhoneNumber-GB"]}, None, "eu-west-1", PASS,
     "masks 5 data identifiers (ChatUserId, EmailAddress, IpAddress, PhoneNumber-DE, ...) via the group's and the "
     "account's policies"),
    ("aws.logs.log_group.sensitive_data_masked", UNPROTECTED, None, "us-east-1", FAIL,
     "no data protection policy: sensitive data in log events is stored and shown in clear"),
    ("aws.logs.log_group.sensitive_data_masked", AUDIT_ONLY, None, "us-east-1", FAIL,
     "data protection policy only audits 2 data identifiers (EmailAddress, PhoneNumber-US): nothing is masked"),
    ("aws.logs.log_group.sensitive_data_masked", {**AUDIT_ONLY, "audited_identifiers": []}, None, "us-east-1",
     FAIL, "data protection policy names no data identifier: nothing is masked"),
    # AWS Config
    ("aws.config.recorder.recording_enabled", RECORDER, None, "eu-west-1", PASS, "is recording"),
    ("aws.config.recorder.recording_enabled", NO_RECORDER, None, "eu-central-1", FAIL,
     "no configuration recorder in eu-central-1"),
    ("aws.config.recorder.recording_enabled", {**RECORDER, "recording": False, "all_supported": False,
     "include_global_resource_types": False, "recording_strategy": "INCLUSION_BY_RESOURCE_TYPES"}, None,
     "us-east-1", FAIL, "recorder is stopped"),
    ("aws.config.recorder.all_resources_recorded", RECORDER, None, "eu-west-1", PASS, "all supported"),
    ("aws.config.recorder.all_resources_recorded", {**RECORDER, "all_supported": False,
     "include_global_resource_types": False, "recording_strategy": "EXCLUSION_BY_RESOURCE_TYPES"}, None,
     "eu-central-1", FAIL, "only selected resource types (EXCLUSION_BY_RESOURCE_TYPES)"),
    ("aws.config.recorder.all_resources_recorded", NO_RECORDER, None, "eu-central-1", NA,
     "no configuration recorder"),
    # GuardDuty
    ("aws.guardduty.detector.enabled", DETECTOR, None, "eu-west-1", PASS, "enabled (findings every FIFTEEN_MINUTES)"),
    ("aws.guardduty.detector.enabled", {**DETECTOR, "status": "DISABLED", "finding_publishing_frequency":
     "SIX_HOURS", "data_sources_enabled": [], "features_enabled": ["S3_DATA_EVENTS"]}, None, "us-east-1", FAIL,
     "detector suspended"),
    ("aws.guardduty.detector.enabled", NO_DETECTOR, None, "us-east-1", FAIL, "no GuardDuty detector in us-east-1"),
    ("aws.guardduty.detector.malware_protection_enabled", {**DETECTOR, "features_enabled": ["EBS_MALWARE_PROTECTION"]},
     None, "eu-west-1", PASS, "EBS malware protection on"),
    ("aws.guardduty.detector.malware_protection_enabled", {**DETECTOR, "data_sources_enabled":
     ["MalwareProtection.ScanEc2InstanceWithFindings.EbsVolumes", "S3Logs"]}, None, "eu-west-1", PASS,
     "EBS malware protection on"),
    ("aws.guardduty.detector.malware_protection_enabled", {**DETECTOR, "features_enabled": ["EKS_RUNTIME_MONITORING",
     "RUNTIME_MONITORING.EC2_AGENT_MANAGEMENT"]}, None, "eu-west-1", FAIL,
     "enabled, but EBS malware protection is off"),
    ("aws.guardduty.detector.malware_protection_enabled", {**DETECTOR, "status": "DISABLED",
     "features_enabled": ["EBS_MALWARE_PROTECTION"]}, None, "us-east-1", FAIL,
     "detector suspended: no malware scanning"),
    ("aws.guardduty.detector.malware_protection_enabled", NO_DETECTOR, None, "us-east-1", FAIL,
     "no GuardDuty detector in us-east-1"),
]  # fmt: skip


@pytest.mark.parametrize(("check_id", "observed", "policy", "region", "status", "reason"), ROWS)
def test_check_table(check_id, observed, policy, region, status, reason):
    result = verdict(check_id, observed, policy, region)
    assert result.status == status and reason in result.reason, result


def golden(kind: str) -> list[dict]:
    """The `observed` of every case of a kind's golden fixture."""
    cases = json.loads((FIXTURES / f"{kind}.json").read_text(encoding="utf-8"))["cases"]
    return [case["expected"]["observed"] for case in cases]


def test_rows_use_exactly_the_documented_keys():
    for check_id, observed, *_ in ROWS:
        kind = CHECKS[check_id].reads[0]
        assert set(observed) == set(golden(kind)[0]), check_id


@pytest.mark.parametrize("check_id", sorted({row[0] for row in ROWS}))
def test_check_judges_every_golden_observation(check_id):
    spec = CHECKS[check_id]
    for observed in golden(spec.reads[0]):
        result = verdict(check_id, observed, EU)
        assert result.reason and "\n" not in result.reason, result


def test_every_access_check_has_a_pass_and_a_fail_row():
    modules = {m.__name__ for m in (cloudtrail, configservice, ec2, eks, elbv2, guardduty, iam, logs, organizations)}
    examples = {"aws.iam.account.password_policy_strong"}  # test_checks_examples
    aged = {"aws.iam.user.access_keys_rotated", "aws.iam.user.unused_credentials_disabled"}  # test_checks_security
    mine = {c.id for c in CHECKS.values() if c.judge.__module__ in modules} - examples - aged
    assert len(mine) == 33, sorted(mine)
    for status in (PASS, FAIL):
        assert mine <= {row[0] for row in ROWS if row[4] == status}, status
