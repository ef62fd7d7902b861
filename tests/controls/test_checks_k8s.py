"""Table tests of the Kubernetes checks: (observed, policy) -> verdict and reason."""

from __future__ import annotations

import pytest

from controls.base import Policy, Subject, Verdict, VerdictStatus, judge, registered_checks
from controls.checks.k8s import admission, control_plane, core, networking, rbac, residency, workloads  # noqa: F401

PASS, FAIL, NA = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.NOT_APPLICABLE
CHECKS = {c.id: c for c in registered_checks("k8s")}
EU = Policy(allowed_regions=("eu-*", "europe-*"))


def verdict(check_id: str, observed: dict, policy: Policy | None = None, region: str = "global",
            resource_id: str = "k8s://prod/web/Deployment/frontend", kind: str | None = None) -> Verdict:  # fmt: skip
    spec = CHECKS[check_id]
    return judge(spec, Subject(kind or spec.reads[0], resource_id, region, observed), policy or Policy())


# Observed values with exactly the documented keys, as in tests/fixtures/k8s/.
USER = {"kind": "User", "name": "jane.doe@acme.example", "namespace": None}
MASTERS = {"kind": "Group", "name": "system:masters", "namespace": None}
BINDING = {"role_kind": "ClusterRole", "role_name": "view", "subjects": [{"kind": "Group", "name": "acme:auditors",
           "namespace": None}], "grants_cluster_admin": False, "binds_anonymous": False,
           "binds_all_authenticated": False, "binds_default_service_account": False, "rbac_default": False}  # fmt: skip
ADMIN = {**BINDING, "role_name": "cluster-admin", "grants_cluster_admin": True, "subjects": [USER]}
ANON = {**BINDING, "role_name": "metrics-reader", "binds_anonymous": True,
        "subjects": [{"kind": "User", "name": "system:anonymous", "namespace": None}]}  # fmt: skip
PUBLIC_INFO = {**BINDING, "role_name": "system:public-info-viewer", "binds_anonymous": True,
               "binds_all_authenticated": True, "rbac_default": True,
               "subjects": [{"kind": "Group", "name": "system:authenticated", "namespace": None},
                            {"kind": "Group", "name": "system:unauthenticated", "namespace": None}]}  # fmt: skip
DEFAULT_SA = {**BINDING, "role_name": "edit", "binds_default_service_account": True,
              "subjects": [{"kind": "ServiceAccount", "name": "default", "namespace": "legacy-billing"}]}  # fmt: skip
ROLE = {"full_access": False, "wildcard_verbs": False, "wildcard_resources": False, "reads_secrets": False,
        "can_escalate": False, "can_bind": False, "can_impersonate": False, "aggregated": False,
        "rbac_default": False}  # fmt: skip
WORKLOAD = {"privileged": False, "host_network": False, "host_pid": False, "host_ipc": False, "host_path_volumes": [],
            "run_as_non_root": True, "read_only_root_filesystem": True, "allow_privilege_escalation": False,
            "added_capabilities": [], "drops_all_capabilities": True, "seccomp_profiles": ["RuntimeDefault"],
            "images": ["registry.acme.example/api:1.14.2@sha256:" + "4b" * 32], "images_latest_or_untagged": [],
            "images_not_pinned": [], "service_account": "api", "automount_token": False}  # fmt: skip
NAMESPACE = {"enforce": "restricted", "enforce_version": "v1.31", "audit": "restricted", "audit_version": "v1.31",
             "warn": "restricted", "warn_version": "v1.31", "builtin": False}  # fmt: skip
SA = {"automount_token": None, "default_account": True, "aws_role_arn": None, "gcp_service_account": None,
      "azure_client_id": None, "secret_references": 0}  # fmt: skip
PV = {"storage_class": "gp3-encrypted", "volume_source": "csi", "csi_driver": "ebs.csi.aws.com",
      "regions": ["eu-central-1"], "zones": ["eu-central-1a"], "encrypted": True,
      "kms_key": "arn:aws:kms:eu-central-1:123456789012:key/3f1c", "reclaim_policy": "Retain"}  # fmt: skip
NODE = {"region": "eu-central-1", "zone": "eu-central-1a", "instance_type": "m6i.xlarge", "kubelet_version": "v1.31.4",
        "container_runtime": "containerd://1.7.24", "os_image": "Debian GNU/Linux 12 (bookworm)",
        "kernel_version": "6.1.0-28-cloud-amd64", "architecture": "amd64"}  # fmt: skip
APISERVER = {"component": "kube-apiserver", "node": "cp-1", "audit_log_path": "/var/log/kubernetes/audit/audit.log",
             "audit_policy_file": "/etc/kubernetes/audit-policy.yaml", "audit_log_maxage": 30,
             "encryption_provider_config": "/etc/kubernetes/enc/encryption-config.yaml", "anonymous_auth": False,
             "authorization_modes": ["Node", "RBAC"], "enable_admission_plugins": ["NodeRestriction"],
             "profiling": False, "tls_min_version": "VersionTLS12"}  # fmt: skip
POLICIES = {"policy_count": 3, "policy_names": ["allow-dns-egress", "allow-web-to-api", "default-deny-all"],
            "default_deny_ingress": True, "default_deny_egress": True, "builtin": False}  # fmt: skip
INGRESS = {"ingress_class": "nginx", "tls_configured": True, "tls_hosts": ["*.pay.acme.example"],
           "rule_hosts": ["api.pay.acme.example"], "hosts_without_tls": [], "catch_all": False}  # fmt: skip
WEBHOOKS = {"validating_configurations": ["gatekeeper"], "mutating_configurations": [],
            "validating_webhooks": ["gatekeeper/validation.gatekeeper.sh"], "mutating_webhooks": [],
            "fail_open_webhooks": []}  # fmt: skip

NS = "k8s://prod//Namespace/"
CRB = "k8s.rbac.cluster_role_binding.subjects"
RB = "k8s.rbac.role_binding.subjects"
NODES, VOLUMES = "k8s.core.node.topology", "k8s.core.persistent_volume.topology"

ROWS = [
    # ------------------------------------------------------------------ bindings
    ("k8s.rbac.binding.cluster_admin_restricted", ADMIN, {}, FAIL, "granted directly to User jane.doe@acme.example"),
    ("k8s.rbac.binding.cluster_admin_restricted", {**ADMIN, "rbac_default": True, "subjects": [MASTERS]}, {}, PASS,
     "built-in cluster-admin binding to Group system:masters"),
    ("k8s.rbac.binding.cluster_admin_restricted", {**ADMIN, "subjects": [
        {"kind": "ServiceAccount", "name": "argocd", "namespace": "argocd"}]}, {"kind": RB}, FAIL,
     "ServiceAccount argocd/argocd"),
    ("k8s.rbac.binding.cluster_admin_restricted", {**ADMIN, "subjects": [
        {"kind": "Group", "name": "system:authenticated", "namespace": None}]}, {}, FAIL, "system:authenticated"),
    ("k8s.rbac.binding.cluster_admin_restricted", {**ADMIN, "subjects": [
        {"kind": "Group", "name": "acme:platform-admins", "namespace": None}]}, {}, PASS, "group(s) only"),
    ("k8s.rbac.binding.cluster_admin_restricted", BINDING, {}, NA, "not cluster-admin"),
    ("k8s.rbac.binding.anonymous_not_bound", ANON, {}, FAIL, "metrics-reader granted to unauthenticated User"),
    ("k8s.rbac.binding.anonymous_not_bound", {**ANON, "rbac_default": True}, {}, FAIL, "system:anonymous"),
    ("k8s.rbac.binding.anonymous_not_bound", PUBLIC_INFO, {}, PASS, "public-info viewer only"),
    ("k8s.rbac.binding.anonymous_not_bound", BINDING, {"kind": RB}, PASS, "no anonymous subject"),
    ("k8s.rbac.binding.all_authenticated_not_bound", {**BINDING, "binds_all_authenticated": True}, {}, FAIL,
     "view granted to every authenticated identity"),
    ("k8s.rbac.binding.all_authenticated_not_bound", PUBLIC_INFO, {}, PASS, "built-in binding"),
    ("k8s.rbac.binding.all_authenticated_not_bound", BINDING, {}, PASS, "not granted"),
    ("k8s.rbac.binding.default_service_account_not_bound", DEFAULT_SA, {"kind": RB}, FAIL,
     "edit granted to ServiceAccount legacy-billing/default"),
    ("k8s.rbac.binding.default_service_account_not_bound", BINDING, {}, PASS, "no default service account"),
    # ------------------------------------------------------------------ cluster roles
    ("k8s.rbac.cluster_role.wildcards_restricted", ROLE, {}, PASS, "no wildcard"),
    ("k8s.rbac.cluster_role.wildcards_restricted", {**ROLE, "wildcard_verbs": True}, {}, FAIL, "verb *"),
    ("k8s.rbac.cluster_role.wildcards_restricted", {**ROLE, "full_access": True, "wildcard_verbs": True,
     "wildcard_resources": True}, {}, FAIL, "every API group, resource and verb"),
    ("k8s.rbac.cluster_role.wildcards_restricted", {**ROLE, "full_access": True, "rbac_default": True}, {}, NA,
     "built-in role"),
    ("k8s.rbac.cluster_role.privilege_escalation_restricted", {**ROLE, "can_escalate": True, "can_bind": True}, {},
     FAIL, "allows escalate, bind"),
    ("k8s.rbac.cluster_role.privilege_escalation_restricted", {**ROLE, "can_impersonate": True}, {}, FAIL,
     "impersonate"),
    ("k8s.rbac.cluster_role.privilege_escalation_restricted", ROLE, {}, PASS, "no escalate"),
    ("k8s.rbac.cluster_role.privilege_escalation_restricted", {**ROLE, "can_bind": True, "rbac_default": True}, {},
     NA, "built-in role"),
    ("k8s.rbac.cluster_role.secrets_read_restricted", {**ROLE, "reads_secrets": True}, {}, FAIL, "reading Secrets"),
    ("k8s.rbac.cluster_role.secrets_read_restricted", ROLE, {}, PASS, "cannot read"),
    ("k8s.rbac.cluster_role.secrets_read_restricted", {**ROLE, "reads_secrets": True, "rbac_default": True}, {}, NA,
     "built-in role"),
    # ------------------------------------------------------------------ workloads
    ("k8s.apps.workload.privileged_disabled", WORKLOAD, {}, PASS, "no privileged"),
    ("k8s.apps.workload.privileged_disabled", {**WORKLOAD, "privileged": True}, {}, FAIL, "runs privileged"),
    ("k8s.apps.workload.host_namespaces_restricted", WORKLOAD, {}, PASS, "no host namespace"),
    ("k8s.apps.workload.host_namespaces_restricted", {**WORKLOAD, "host_network": True, "host_pid": True}, {}, FAIL,
     "network, pid namespaces"),
    ("k8s.apps.workload.host_path_restricted", {**WORKLOAD, "host_path_volumes": ["/var/log"]}, {}, FAIL, "/var/log"),
    ("k8s.apps.workload.host_path_restricted", WORKLOAD, {}, PASS, "no hostPath"),
    ("k8s.apps.workload.privilege_escalation_disabled", {**WORKLOAD, "allow_privilege_escalation": True}, {}, FAIL,
     "allows privilege escalation"),
    ("k8s.apps.workload.privilege_escalation_disabled", WORKLOAD, {}, PASS, "off in every container"),
    ("k8s.apps.workload.non_root_enforced", {**WORKLOAD, "run_as_non_root": False}, {}, FAIL, "may run as root"),
    ("k8s.apps.workload.non_root_enforced", WORKLOAD, {}, PASS, "runAsNonRoot"),
    ("k8s.apps.workload.root_filesystem_read_only", {**WORKLOAD, "read_only_root_filesystem": False}, {}, FAIL,
     "writable root filesystem"),
    ("k8s.apps.workload.root_filesystem_read_only", WORKLOAD, {}, PASS, "read-only"),
    ("k8s.apps.workload.capabilities_restricted", WORKLOAD, {}, PASS, "drops ALL"),
    ("k8s.apps.workload.capabilities_restricted", {**WORKLOAD, "added_capabilities": ["NET_BIND_SERVICE"]}, {}, PASS,
     "adds NET_BIND_SERVICE"),
    ("k8s.apps.workload.capabilities_restricted", {**WORKLOAD, "added_capabilities": ["NET_ADMIN", "SYS_ADMIN"]}, {},
     FAIL, "adds NET_ADMIN, SYS_ADMIN"),
    ("k8s.apps.workload.capabilities_restricted", {**WORKLOAD, "drops_all_capabilities": False}, {}, FAIL,
     "does not drop ALL"),
    ("k8s.apps.workload.seccomp_enabled", WORKLOAD, {}, PASS, "RuntimeDefault"),
    ("k8s.apps.workload.seccomp_enabled", {**WORKLOAD, "seccomp_profiles": ["Localhost", "RuntimeDefault"]}, {}, PASS,
     "Localhost"),
    ("k8s.apps.workload.seccomp_enabled", {**WORKLOAD, "seccomp_profiles": ["RuntimeDefault", "Unset"]}, {}, FAIL,
     "seccomp Unset"),
    ("k8s.apps.workload.seccomp_enabled", {**WORKLOAD, "seccomp_profiles": ["Unconfined"]}, {}, FAIL, "Unconfined"),
    ("k8s.apps.workload.image_tags_pinned", {**WORKLOAD, "images": ["nginx:latest"],
     "images_latest_or_untagged": ["nginx:latest"], "images_not_pinned": ["nginx:latest"]}, {}, FAIL, "nginx:latest"),
    ("k8s.apps.workload.image_tags_pinned", {**WORKLOAD, "images": ["nginx:1.27"],
     "images_not_pinned": ["nginx:1.27"]}, {}, PASS, "version tag or digest"),
    ("k8s.apps.workload.images_pinned_by_digest", {**WORKLOAD, "images": ["nginx:1.27"],
     "images_not_pinned": ["nginx:1.27"]}, {}, FAIL, "not pinned by digest: nginx:1.27"),
    ("k8s.apps.workload.images_pinned_by_digest", WORKLOAD, {}, PASS, "pinned by digest"),
    # ------------------------------------------------------------------ namespaces, service accounts, volumes
    ("k8s.core.namespace.pod_security_enforced", NAMESPACE, {"resource_id": NS + "payments"}, PASS,
     "enforces restricted (v1.31)"),
    ("k8s.core.namespace.pod_security_enforced", {**NAMESPACE, "enforce": None, "enforce_version": None},
     {"resource_id": NS + "legacy-billing"}, FAIL, "no pod-security enforce label (required restricted)"),
    ("k8s.core.namespace.pod_security_enforced", {**NAMESPACE, "enforce": "baseline"}, {"resource_id": NS + "web"},
     FAIL, "enforces baseline (required restricted)"),
    ("k8s.core.namespace.pod_security_enforced", {**NAMESPACE, "enforce": "baseline"},
     {"resource_id": NS + "web", "policy": Policy(required_pod_security_level="baseline")}, PASS, "enforces baseline"),
    ("k8s.core.namespace.pod_security_enforced", {**NAMESPACE, "enforce": "privileged"},
     {"resource_id": NS + "web", "policy": Policy(required_pod_security_level="baseline")}, FAIL,
     "enforces privileged (required baseline)"),
    ("k8s.core.namespace.pod_security_enforced", {**NAMESPACE, "enforce": "privileged", "builtin": True},
     {"resource_id": NS + "kube-system"}, NA, "system namespace"),
    ("k8s.core.namespace.pod_security_enforced", {**NAMESPACE, "enforce": None, "builtin": True},
     {"resource_id": NS + "default"}, FAIL, "no pod-security enforce label"),
    ("k8s.core.service_account.default_automount_disabled", SA, {}, FAIL, "automountServiceAccountToken unset"),
    ("k8s.core.service_account.default_automount_disabled", {**SA, "automount_token": True}, {}, FAIL, ": true"),
    ("k8s.core.service_account.default_automount_disabled", {**SA, "automount_token": False}, {}, PASS, ": false"),
    ("k8s.core.service_account.default_automount_disabled", {**SA, "default_account": False}, {}, NA,
     "not a default service account"),
    ("k8s.core.service_account.legacy_token_secrets_absent", {**SA, "secret_references": 1}, {}, FAIL,
     "references 1 secret (long-lived"),
    ("k8s.core.service_account.legacy_token_secrets_absent", SA, {}, PASS, "no secret references"),
    ("k8s.core.persistent_volume.encrypted", PV, {}, PASS, "encrypted with arn:aws:kms"),
    ("k8s.core.persistent_volume.encrypted", {**PV, "storage_class": "gp3-plain", "encrypted": False, "kms_key": None},
     {}, FAIL, "gp3-plain sets encrypted: false"),
    ("k8s.core.persistent_volume.encrypted", {**PV, "storage_class": "gp2", "volume_source": "awsElasticBlockStore",
     "csi_driver": None, "encrypted": None, "kms_key": None}, {}, NA, "not stated for awsElasticBlockStore"),
    # ------------------------------------------------------------------ API server
    ("k8s.core.control_plane.audit_logging_enabled", APISERVER, {}, PASS, "audit log /var/log/kubernetes/audit"),
    ("k8s.core.control_plane.audit_logging_enabled", {**APISERVER, "audit_log_path": None, "audit_policy_file": None},
     {}, FAIL, "--audit-log-path and --audit-policy-file not set"),
    ("k8s.core.control_plane.audit_logging_enabled", {**APISERVER, "audit_policy_file": None}, {}, FAIL,
     "--audit-policy-file not set"),
    ("k8s.core.control_plane.secrets_encryption_enabled", APISERVER, {}, PASS, "encryption-config.yaml"),
    ("k8s.core.control_plane.secrets_encryption_enabled", {**APISERVER, "encryption_provider_config": None}, {}, FAIL,
     "stored unencrypted"),
    ("k8s.core.control_plane.anonymous_auth_disabled", APISERVER, {}, PASS, "--anonymous-auth=false"),
    ("k8s.core.control_plane.anonymous_auth_disabled", {**APISERVER, "anonymous_auth": None}, {}, FAIL, "unset"),
    ("k8s.core.control_plane.anonymous_auth_disabled", {**APISERVER, "anonymous_auth": True}, {}, FAIL, "true"),
    ("k8s.core.control_plane.authorization_restricted", APISERVER, {}, PASS, "Node,RBAC"),
    ("k8s.core.control_plane.authorization_restricted", {**APISERVER, "authorization_modes": ["AlwaysAllow"]}, {}, FAIL,
     "every request is allowed"),
    ("k8s.core.control_plane.authorization_restricted", {**APISERVER, "authorization_modes": []}, {}, FAIL, "unset"),
    ("k8s.core.control_plane.authorization_restricted", {**APISERVER, "authorization_modes": ["Node"]}, {}, FAIL,
     "no RBAC or webhook"),
    ("k8s.core.control_plane.profiling_disabled", APISERVER, {}, PASS, "--profiling=false"),
    ("k8s.core.control_plane.profiling_disabled", {**APISERVER, "profiling": None}, {}, FAIL, "unset"),
    # ------------------------------------------------------------------ networking
    ("k8s.networking.namespace.default_deny_ingress_enabled", POLICIES, {"resource_id": NS + "payments"}, PASS,
     "ingress denied by default"),
    ("k8s.networking.namespace.default_deny_ingress_enabled", {**POLICIES, "policy_count": 0, "policy_names": [],
     "default_deny_ingress": False, "default_deny_egress": False}, {"resource_id": NS + "legacy-billing"}, FAIL,
     "no NetworkPolicy: all ingress allowed"),
    ("k8s.networking.namespace.default_deny_ingress_enabled", {**POLICIES, "policy_count": 1,
     "policy_names": ["allow-prometheus-scrape"], "default_deny_ingress": False}, {"resource_id": NS + "monitoring"},
     FAIL, "no default-deny ingress policy among allow-prometheus-scrape"),
    ("k8s.networking.namespace.default_deny_ingress_enabled", {**POLICIES, "policy_count": 0, "policy_names": [],
     "default_deny_ingress": False, "builtin": True}, {"resource_id": NS + "kube-system"}, NA, "system namespace"),
    ("k8s.networking.namespace.default_deny_egress_enabled", POLICIES, {"resource_id": NS + "payments"}, PASS,
     "egress denied by default"),
    ("k8s.networking.namespace.default_deny_egress_enabled", {**POLICIES, "policy_count": 1,
     "policy_names": ["default-deny-ingress"], "default_deny_egress": False}, {"resource_id": NS + "web"}, FAIL,
     "no default-deny egress policy"),
    ("k8s.networking.ingress.tls_enabled", INGRESS, {}, PASS, "TLS for api.pay.acme.example"),
    ("k8s.networking.ingress.tls_enabled", {**INGRESS, "tls_hosts": ["www.acme.example"],
     "rule_hosts": ["status.acme.example", "www.acme.example"], "hosts_without_tls": ["status.acme.example"]}, {},
     FAIL, "hosts without TLS: status.acme.example"),
    ("k8s.networking.ingress.tls_enabled", {**INGRESS, "tls_configured": False, "tls_hosts": [], "rule_hosts": [],
     "hosts_without_tls": [], "catch_all": True}, {}, FAIL, "no TLS: any host served over plain HTTP"),
    # ------------------------------------------------------------------ admission
    ("k8s.admission.webhook.validation_enabled", WEBHOOKS, {}, PASS, "gatekeeper/validation.gatekeeper.sh"),
    ("k8s.admission.webhook.validation_enabled", {**WEBHOOKS, "validating_configurations": [],
     "validating_webhooks": []}, {}, FAIL, "no validating admission webhook"),
    ("k8s.admission.webhook.fail_closed", WEBHOOKS, {}, PASS, "fails closed"),
    ("k8s.admission.webhook.fail_closed", {**WEBHOOKS, "fail_open_webhooks": ["gatekeeper/validation.gatekeeper.sh"]},
     {}, FAIL, "failurePolicy Ignore): gatekeeper/validation.gatekeeper.sh"),
    ("k8s.admission.webhook.fail_closed", {**WEBHOOKS, "validating_configurations": [], "validating_webhooks": []}, {},
     NA, "no admission webhook"),
    # ------------------------------------------------------------------ residency
    ("k8s.residency.resource.in_allowed_regions", NODE, {"policy": EU, "region": "eu-central-1", "kind": NODES}, PASS,
     "eu-central-1 is allowed"),
    ("k8s.residency.resource.in_allowed_regions", {**NODE, "region": "us-east-1", "zone": "us-east-1a"},
     {"policy": EU, "region": "us-east-1", "kind": NODES}, FAIL, "region us-east-1 is outside the allowed regions"),
    ("k8s.residency.resource.in_allowed_regions", {**NODE, "region": "us-east-1"},
     {"policy": Policy(allowed_regions=("us-*",)), "region": "us-east-1", "kind": NODES}, PASS, "us-east-1 is allowed"),
    ("k8s.residency.resource.in_allowed_regions", {**NODE, "region": None, "zone": None},
     {"policy": EU, "kind": NODES}, NA, "location not stated"),
    ("k8s.residency.resource.in_allowed_regions", NODE, {"region": "eu-central-1", "kind": NODES}, NA,
     "no allowed regions"),
    ("k8s.residency.resource.in_allowed_regions", PV, {"policy": EU, "region": "eu-central-1", "kind": VOLUMES}, PASS,
     "eu-central-1 is allowed"),
    ("k8s.residency.resource.in_allowed_regions", {**PV, "regions": ["europe-west3"], "zones": ["europe-west3-a"]},
     {"policy": Policy(allowed_regions=("EUROPE-*",)), "region": "europe-west3", "kind": VOLUMES}, PASS,
     "europe-west3 is allowed"),
    ("k8s.residency.resource.in_allowed_regions", {**PV, "regions": ["eu-west-1", "us-east-1"]},
     {"policy": EU, "kind": VOLUMES}, FAIL, "region us-east-1 is outside"),
    ("k8s.residency.resource.in_allowed_regions", {**PV, "regions": [], "zones": [], "volume_source": "nfs"},
     {"policy": EU, "kind": VOLUMES}, NA, "location not stated"),
]  # fmt: skip


@pytest.mark.parametrize(("check_id", "observed", "options", "status", "reason"), ROWS)
def test_check_table(check_id, observed, options, status, reason):
    result = verdict(check_id, observed, **options)
    assert result.status == status and reason in result.reason, result


def test_every_k8s_check_has_a_pass_and_a_fail_row():
    seen = {(row[0], row[3]) for row in ROWS}
    for check_id in CHECKS:
        assert (check_id, PASS) in seen and (check_id, FAIL) in seen, check_id


def test_an_unknown_required_level_is_a_configuration_error():
    with pytest.raises(ValueError, match="required_pod_security_level"):
        verdict("k8s.core.namespace.pod_security_enforced", NAMESPACE,
                Policy(required_pod_security_level="strict"), resource_id=NS + "payments")  # fmt: skip
