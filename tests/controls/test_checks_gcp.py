"""Table tests of the GCP checks: (observed, policy, region) -> verdict and reason. Observed dicts carry
exactly the documented keys (taken from tests/fixtures/gcp/)."""

from __future__ import annotations

import pytest

import controls.checks.gcp.container
import controls.checks.gcp.kms
import controls.checks.gcp.orgpolicy
import controls.checks.gcp.residency
import controls.checks.gcp.resourcemanager
import controls.checks.gcp.storage  # noqa: F401  (importing registers the checks)
from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks

PASS, FAIL, NA = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_APPLICABLE
CHECKS = {c.id: c for c in registered_checks("gcp")}
EU = Policy(allowed_regions=("eu-*", "europe-*", "EU"))


def verdict(check_id: str, observed: dict, policy: Policy | None, region: str, kind: str | None = None) -> Verdict:
    spec = CHECKS[check_id]
    subject = Subject(kind or spec.reads[0], "//x.googleapis.com/projects/p", region, observed)
    return judge(spec, subject, policy or Policy())


IAM = {"primitive_role_grants": [{"member": "group:platform-admins@example.com", "role": "roles/owner"},
                                 {"member": "serviceAccount:415104041262@cloudservices.gserviceaccount.com",
                                  "role": "roles/editor"}],
       "public_grants": [], "member_domains": ["example.com"], "service_account_user_grants": [],
       "audit_log_configs": {"allServices": ["ADMIN_READ", "DATA_READ", "DATA_WRITE"]}}  # fmt: skip
LIST_RULE = {"configured": True, "allow_all": False, "deny_all": False, "allowed_values": ["in:eu-locations"],
             "denied_values": []}  # fmt: skip
CONSTRAINTS = {"resource_locations": LIST_RULE,
               "allowed_policy_member_domains": {**LIST_RULE, "allowed_values": ["C03k8s2xy"]},
               "disable_service_account_key_creation": True, "uniform_bucket_level_access": True,
               "public_access_prevention": True, "require_os_login": True, "sql_restrict_public_ip": True}  # fmt: skip
UNSET = {"configured": False, "allow_all": False, "deny_all": False, "allowed_values": [], "denied_values": []}
BUCKET = {"location": "europe-west3", "location_type": "region",
          "default_kms_key_name": "projects/acme-prod/locations/europe-west3/keyRings/storage/cryptoKeys/customer-data",
          "uniform_bucket_level_access": True, "public_access_prevention": "enforced", "versioning_enabled": True,
          "retention_period_seconds": 2592000, "retention_locked": False,
          "logging_bucket": "acme-prod-access-logs"}  # fmt: skip
PUBLIC = {"public_grants": [{"member": "allUsers", "role": "roles/storage.objectViewer"}],
          "public_access_prevention": "inherited"}  # fmt: skip
KEY = {"location": "europe-west3", "purpose": "ENCRYPT_DECRYPT", "algorithm": "GOOGLE_SYMMETRIC_ENCRYPTION",
       "protection_level": "SOFTWARE", "primary_state": "ENABLED", "rotation_period_seconds": 7776000}  # fmt: skip
CLUSTER = {"location": "europe-west3", "database_encryption_state": "ENCRYPTED",
           "database_encryption_key": "projects/acme-prod/locations/europe-west3/keyRings/gke/cryptoKeys/etcd",
           "private_nodes": True, "private_endpoint": True, "master_authorized_networks_enabled": True,
           "master_authorized_networks": ["10.20.4.0/24", "10.8.0.0/16"],
           "logging_components": ["APISERVER", "SYSTEM_COMPONENTS", "WORKLOADS"],
           "workload_identity_pool": "acme-prod.svc.id.goog"}  # fmt: skip
ORG = "gcp.resourcemanager.organization.iam_policy"
FOLDER = "gcp.resourcemanager.folder.iam_policy"
DOMAINS = Policy(allowed_member_domains=("example.com",))
AGENT = "serviceAccount:service-1@gcp-sa-cloudbuild.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("check_id", "observed", "policy", "region", "status", "reason"),
    [
        # IAM policies
        ("gcp.resourcemanager.iam_policy.not_public", IAM, None, "global", PASS, "no role granted"),
        ("gcp.resourcemanager.iam_policy.not_public",
         {**IAM, "public_grants": [{"member": "allUsers", "role": "roles/storage.objectViewer"}]}, None, "global",
         FAIL, "roles/storage.objectViewer to allUsers"),
        ("gcp.resourcemanager.iam_policy.basic_roles_restricted", IAM, None, "global", PASS, "only by groups"),
        ("gcp.resourcemanager.iam_policy.basic_roles_restricted", {**IAM, "primitive_role_grants": []}, None,
         "global", PASS, "no roles/owner"),
        ("gcp.resourcemanager.iam_policy.basic_roles_restricted",
         {**IAM, "primitive_role_grants": [{"member": "user:contractor@gmail.com", "role": "roles/editor"}]}, None,
         "global", FAIL, "roles/editor to user:contractor@gmail.com"),
        ("gcp.resourcemanager.iam_policy.basic_roles_restricted",
         {**IAM, "primitive_role_grants": [{"member": "serviceAccount:1-compute@developer.gserviceaccount.com",
                                            "role": "roles/editor"}]}, None, "global", FAIL, "1-compute@developer"),
        ("gcp.resourcemanager.iam_policy.basic_roles_restricted",
         {**IAM, "primitive_role_grants": [{"member": AGENT, "role": "roles/editor"}]}, None, "global", PASS,
         "service agents"),
        ("gcp.resourcemanager.iam_policy.member_domains_allowed", IAM, DOMAINS, "global", PASS,
         "only from example.com"),
        ("gcp.resourcemanager.iam_policy.member_domains_allowed",
         {**IAM, "member_domains": ["example.com", "gmail.com"]}, DOMAINS, "global", FAIL, "members from gmail.com"),
        ("gcp.resourcemanager.iam_policy.member_domains_allowed", {**IAM, "member_domains": ["gmail.com"]},
         Policy(allowed_member_domains=("example.com", "gmail.com")), "global", PASS, "only from gmail.com"),
        ("gcp.resourcemanager.iam_policy.member_domains_allowed", {**IAM, "member_domains": []}, DOMAINS, "global",
         PASS, "no user, group"),
        ("gcp.resourcemanager.iam_policy.member_domains_allowed", IAM, None, "global", NA, "no allowed member domains"),
        ("gcp.resourcemanager.iam_policy.service_account_impersonation_restricted", IAM, None, "global", PASS,
         "no Service Account User"),
        ("gcp.resourcemanager.iam_policy.service_account_impersonation_restricted",
         {**IAM, "service_account_user_grants": [{"member": "user:dev@example.com",
                                                  "role": "roles/iam.serviceAccountTokenCreator"}]},
         None, "global", FAIL, "roles/iam.serviceAccountTokenCreator to user:dev@example.com"),
        ("gcp.resourcemanager.organization.audit_logging_enabled", IAM, None, "global", PASS, "DATA_WRITE"),
        ("gcp.resourcemanager.organization.audit_logging_enabled",
         {**IAM, "audit_log_configs": {"allServices": ["ADMIN_READ"]}}, None, "global", FAIL, "DATA_READ, DATA_WRITE"),
        ("gcp.resourcemanager.organization.audit_logging_enabled",
         {**IAM, "audit_log_configs": {"storage.googleapis.com": ["ADMIN_READ", "DATA_READ", "DATA_WRITE"]}}, None,
         "global", FAIL, "missing ADMIN_READ"),
        # Organization policy
        ("gcp.orgpolicy.project.resource_locations_in_allowed_regions", CONSTRAINTS, EU, "global", PASS,
         "allows only in:eu-locations"),
        ("gcp.orgpolicy.project.resource_locations_in_allowed_regions",
         {**CONSTRAINTS, "resource_locations": {**LIST_RULE, "allowed_values": ["in:us-locations"]}}, EU, "global",
         FAIL, "allows in:us-locations"),
        ("gcp.orgpolicy.project.resource_locations_in_allowed_regions",
         {**CONSTRAINTS, "resource_locations": {**LIST_RULE, "allowed_values": ["in:europe-west3-locations",
                                                                               "europe-west1"]}},
         EU, "global", PASS, "in:europe-west3-locations"),
        ("gcp.orgpolicy.project.resource_locations_in_allowed_regions", CONSTRAINTS,
         Policy(allowed_regions=("europe-west3",)), "global", FAIL, "allows in:eu-locations"),
        ("gcp.orgpolicy.project.resource_locations_in_allowed_regions", {**CONSTRAINTS, "resource_locations": UNSET},
         EU, "global", FAIL, "any location"),
        ("gcp.orgpolicy.project.resource_locations_in_allowed_regions",
         {**CONSTRAINTS, "resource_locations": {**UNSET, "configured": True, "allow_all": True}}, EU, "global", FAIL,
         "any location"),
        ("gcp.orgpolicy.project.resource_locations_in_allowed_regions",
         {**CONSTRAINTS, "resource_locations": {**UNSET, "configured": True, "deny_all": True}}, EU, "global", PASS,
         "denies every location"),
        ("gcp.orgpolicy.project.resource_locations_in_allowed_regions", CONSTRAINTS, None, "global", NA,
         "no allowed regions"),
        ("gcp.orgpolicy.project.member_domains_restricted", CONSTRAINTS, None, "global", PASS, "C03k8s2xy"),
        ("gcp.orgpolicy.project.member_domains_restricted",
         {**CONSTRAINTS, "allowed_policy_member_domains": {**UNSET, "configured": True, "allow_all": True}}, None,
         "global", FAIL, "any domain"),
        ("gcp.orgpolicy.project.member_domains_restricted", {**CONSTRAINTS, "allowed_policy_member_domains": UNSET},
         None, "global", FAIL, "not restricted"),
        ("gcp.orgpolicy.project.service_account_key_creation_disabled", CONSTRAINTS, None, "global", PASS, "enforced"),
        ("gcp.orgpolicy.project.service_account_key_creation_disabled",
         {**CONSTRAINTS, "disable_service_account_key_creation": False}, None, "global", FAIL, "keys can be created"),
        ("gcp.orgpolicy.project.uniform_bucket_level_access_enforced", CONSTRAINTS, None, "global", PASS, "enforced"),
        ("gcp.orgpolicy.project.uniform_bucket_level_access_enforced",
         {**CONSTRAINTS, "uniform_bucket_level_access": False}, None, "global", FAIL, "object ACLs"),
        ("gcp.orgpolicy.project.public_access_prevention_enforced", CONSTRAINTS, None, "global", PASS, "enforced"),
        ("gcp.orgpolicy.project.public_access_prevention_enforced", {**CONSTRAINTS, "public_access_prevention": False},
         None, "global", FAIL, "can be made public"),
        ("gcp.orgpolicy.project.os_login_required", CONSTRAINTS, None, "global", PASS, "compute.requireOsLogin"),
        ("gcp.orgpolicy.project.os_login_required", {**CONSTRAINTS, "require_os_login": False}, None, "global", FAIL,
         "SSH keys"),
        ("gcp.orgpolicy.project.sql_public_ip_restricted", CONSTRAINTS, None, "global", PASS, "sql.restrictPublicIp"),
        ("gcp.orgpolicy.project.sql_public_ip_restricted", {**CONSTRAINTS, "sql_restrict_public_ip": False}, None,
         "global", FAIL, "public IP"),
        # Storage
        ("gcp.storage.bucket.not_public", {"public_grants": [], "public_access_prevention": "inherited"}, None,
         "europe-west3", PASS, "no role granted"),
        ("gcp.storage.bucket.not_public", PUBLIC, None, "europe-west3", FAIL,
         "roles/storage.objectViewer to allUsers (public access prevention inherited)"),
        ("gcp.storage.bucket.not_public", {**PUBLIC, "public_access_prevention": "enforced"}, None, "europe-west3",
         PASS, "gives no access"),
        ("gcp.storage.bucket.uniform_access_enabled", BUCKET, None, "europe-west3", PASS, "on"),
        ("gcp.storage.bucket.uniform_access_enabled", {**BUCKET, "uniform_bucket_level_access": False}, None, "eu",
         FAIL, "object ACLs"),
        ("gcp.storage.bucket.versioning_enabled", BUCKET, None, "europe-west3", PASS, "versioning on"),
        ("gcp.storage.bucket.versioning_enabled", {**BUCKET, "versioning_enabled": False}, None, "eu", FAIL, "off"),
        ("gcp.storage.bucket.cmek_encryption_enabled", BUCKET, None, "europe-west3", PASS, "cryptoKeys/customer-data"),
        ("gcp.storage.bucket.cmek_encryption_enabled", {**BUCKET, "default_kms_key_name": None}, None, "eu", FAIL,
         "Google-managed"),
        ("gcp.storage.bucket.access_logging_enabled", BUCKET, None, "europe-west3", PASS, "gs://acme-prod-access-logs"),
        ("gcp.storage.bucket.access_logging_enabled", {**BUCKET, "logging_bucket": None}, None, "eu", FAIL, "off"),
        # KMS
        ("gcp.kms.crypto_key.rotation_enabled", KEY, None, "europe-west3", PASS, "every 90 days"),
        ("gcp.kms.crypto_key.rotation_enabled", {**KEY, "rotation_period_seconds": None}, None, "europe-west3", FAIL,
         "rotation off"),
        ("gcp.kms.crypto_key.rotation_enabled", KEY, Policy(max_key_rotation_days=30), "europe-west3", FAIL,
         "every 90 days (max 30)"),
        ("gcp.kms.crypto_key.rotation_enabled", {**KEY, "rotation_period_seconds": 31536000}, None, "us", PASS,
         "every 365 days"),
        ("gcp.kms.crypto_key.rotation_enabled", {**KEY, "rotation_period_seconds": 31536000},
         Policy(max_key_rotation_days=90), "us", FAIL, "(max 90)"),
        ("gcp.kms.crypto_key.rotation_enabled",
         {**KEY, "purpose": "ASYMMETRIC_SIGN", "algorithm": "EC_SIGN_P256_SHA256", "primary_state": None,
          "rotation_period_seconds": None}, None, "global", NA, "ASYMMETRIC_SIGN"),
        ("gcp.kms.crypto_key.rotation_enabled", {**KEY, "primary_state": "DISABLED", "rotation_period_seconds": None},
         None, "europe-west3", NA, "primary version DISABLED"),
        ("gcp.kms.crypto_key.rotation_enabled",
         {**KEY, "protection_level": "EXTERNAL", "rotation_period_seconds": None}, None, "europe", NA,
         "external key manager"),
        # GKE
        ("gcp.container.cluster.secrets_encryption_enabled", CLUSTER, None, "europe-west3", PASS, "cryptoKeys/etcd"),
        ("gcp.container.cluster.secrets_encryption_enabled",
         {**CLUSTER, "database_encryption_state": "DECRYPTED", "database_encryption_key": None}, None,
         "europe-west3-a", FAIL, "DECRYPTED"),
        ("gcp.container.cluster.private_nodes_enabled", CLUSTER, None, "europe-west3", PASS, "private nodes"),
        ("gcp.container.cluster.private_nodes_enabled", {**CLUSTER, "private_nodes": False}, None, "europe-west3",
         FAIL, "public IP"),
        ("gcp.container.cluster.control_plane_access_restricted", CLUSTER, None, "europe-west3", PASS,
         "private endpoint only"),
        ("gcp.container.cluster.control_plane_access_restricted", {**CLUSTER, "private_endpoint": False}, None,
         "europe-west3", PASS, "limited to 10.20.4.0/24, 10.8.0.0/16"),
        ("gcp.container.cluster.control_plane_access_restricted",
         {**CLUSTER, "private_endpoint": False, "master_authorized_networks": ["0.0.0.0/0"]}, None, "europe-west3",
         FAIL, "include 0.0.0.0/0"),
        ("gcp.container.cluster.control_plane_access_restricted",
         {**CLUSTER, "private_endpoint": False, "master_authorized_networks_enabled": False,
          "master_authorized_networks": []}, None, "europe-west3-a", FAIL, "no authorized networks"),
        ("gcp.container.cluster.workload_identity_enabled", CLUSTER, None, "europe-west3", PASS,
         "acme-prod.svc.id.goog"),
        ("gcp.container.cluster.workload_identity_enabled", {**CLUSTER, "workload_identity_pool": None}, None,
         "europe-west3", FAIL, "Workload Identity off"),
        ("gcp.container.cluster.logging_enabled", CLUSTER, None, "europe-west3", PASS, "WORKLOADS"),
        ("gcp.container.cluster.logging_enabled", {**CLUSTER, "logging_components": ["SYSTEM_COMPONENTS"]}, None,
         "europe-west3", FAIL, "missing WORKLOADS"),
        ("gcp.container.cluster.logging_enabled", {**CLUSTER, "logging_components": []}, None, "europe-west3", FAIL,
         "missing SYSTEM_COMPONENTS, WORKLOADS"),
    ],
)  # fmt: skip
def test_check_table(check_id, observed, policy, region, status, reason):
    result = verdict(check_id, observed, policy, region)
    assert result.status == status and reason in result.reason, result


@pytest.mark.parametrize(
    ("kind", "observed", "policy", "region", "status", "reason"),
    [
        ("gcp.storage.bucket.settings", BUCKET, EU, "europe-west3", PASS, "location europe-west3 is allowed"),
        ("gcp.storage.bucket.settings", {**BUCKET, "location": "eu"}, EU, "eu", PASS, "location eu is allowed"),
        ("gcp.storage.bucket.settings", {**BUCKET, "location": "us"}, EU, "us", FAIL, "location us is outside"),
        ("gcp.storage.bucket.settings", {**BUCKET, "location": "us-central1"}, EU, "us-central1", FAIL,
         "us-central1 is outside"),
        ("gcp.storage.bucket.settings", {**BUCKET, "location": "us"}, Policy(allowed_regions=("us*",)), "us", PASS,
         "allowed"),
        ("gcp.storage.bucket.settings", BUCKET, None, "europe-west3", NA, "no allowed regions"),
        ("gcp.container.cluster.security", {**CLUSTER, "location": "europe-west3-a"},
         Policy(allowed_regions=("europe-west3",)), "europe-west3-a", PASS, "europe-west3-a is allowed"),
        ("gcp.container.cluster.security", {**CLUSTER, "location": "us-east1-b"}, EU, "us-east1-b", FAIL,
         "us-east1-b is outside"),
        ("gcp.kms.crypto_key.rotation", KEY, EU, "europe-west3", PASS, "allowed"),
        ("gcp.kms.crypto_key.rotation", {**KEY, "location": "global"}, EU, "global", NA, "not pinned"),
    ],
)  # fmt: skip
def test_residency_table(kind, observed, policy, region, status, reason):
    result = verdict("gcp.residency.resource.in_allowed_regions", observed, policy, region, kind)
    assert result.status == status and reason in result.reason, result


@pytest.mark.parametrize("kind", [ORG, FOLDER, "gcp.resourcemanager.project.iam_policy"])
def test_iam_checks_read_every_level_of_the_hierarchy(kind):
    public = {**IAM, "public_grants": [{"member": "allAuthenticatedUsers", "role": "roles/viewer"}]}
    result = verdict("gcp.resourcemanager.iam_policy.not_public", public, None, "global", kind)
    assert result.status == FAIL and "allAuthenticatedUsers" in result.reason


def test_long_offender_lists_are_shortened():
    grants = [{"member": f"user:u{i}@example.com", "role": "roles/owner"} for i in range(5)]
    result = verdict("gcp.resourcemanager.iam_policy.basic_roles_restricted", {**IAM, "primitive_role_grants": grants},
                     None, "global")  # fmt: skip
    assert result.status == FAIL and result.reason.endswith("and 2 more")
