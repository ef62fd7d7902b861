"""Kubernetes core checks: Pod Security Admission per namespace, service account tokens, volume encryption."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

LEVELS = ("privileged", "baseline", "restricted")  # Pod Security Standards, least to most restrictive
# Namespaces Kubernetes creates for itself and runs its own components in; `default` holds user workloads.
SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})


def namespace_of(subject: Subject) -> str:
    """The NAME of a `k8s://CLUSTER//Namespace/NAME` id, or the NAMESPACE segment of a namespaced object's id."""
    parts = subject.resource_id.removeprefix("k8s://").split("/")
    return parts[3] if parts[2] == "Namespace" else parts[1]


@check("k8s.core.namespace.pod_security_enforced", reads="k8s.core.namespace.pod_security")
def pod_security_enforced(subject: Subject, policy: Policy) -> Verdict:
    """A namespace enforces at least the required Pod Security Standard level (policy: required_pod_security_level)."""
    o = subject.observed
    required = policy.required_pod_security_level
    if required not in LEVELS:
        raise ValueError(f"required_pod_security_level {required!r} is not one of {', '.join(LEVELS)}")
    if namespace_of(subject) in SYSTEM_NAMESPACES:
        return Verdict.not_applicable("Kubernetes system namespace (its components need host access)")
    enforced = o["enforce"]
    if enforced is None:
        return Verdict.failed(f"no pod-security enforce label (required {required})")
    if enforced not in LEVELS:
        return Verdict.failed(f"enforces unknown level {enforced!r} (required {required})")
    if LEVELS.index(enforced) < LEVELS.index(required):
        return Verdict.failed(f"enforces {enforced} (required {required})")
    return Verdict.passed(f"enforces {enforced} ({o['enforce_version'] or 'latest'})")


@check("k8s.core.service_account.default_automount_disabled", reads="k8s.core.service_account.token")
def default_automount_disabled(subject: Subject, policy: Policy) -> Verdict:
    """A namespace's default service account does not mount its API token into pods."""
    o = subject.observed
    if not o["default_account"]:
        return Verdict.not_applicable("not a default service account")
    if o["automount_token"] is False:
        return Verdict.passed("automountServiceAccountToken: false")
    if o["automount_token"] is None:
        return Verdict.failed("token mounted into every pod that does not opt out (automountServiceAccountToken unset)")
    return Verdict.failed("automountServiceAccountToken: true")


@check("k8s.core.service_account.legacy_token_secrets_absent", reads="k8s.core.service_account.token")
def legacy_token_secrets_absent(subject: Subject, policy: Policy) -> Verdict:
    """A service account references no Secrets (long-lived tokens), only short-lived projected tokens."""
    count = subject.observed["secret_references"]
    if count:
        return Verdict.failed(f"references {count} secret{'s' if count > 1 else ''} (long-lived token secrets)")
    return Verdict.passed("no secret references")


@check("k8s.core.persistent_volume.encrypted", reads="k8s.core.persistent_volume.topology")
def persistent_volume_encrypted(subject: Subject, policy: Policy) -> Verdict:
    """A persistent volume's storage class or CSI attributes do not turn encryption off."""
    o = subject.observed
    if o["encrypted"] is None:
        return Verdict.not_applicable(
            f"encryption not stated for {o['csi_driver'] or o['volume_source'] or 'this volume'}: "
            "the storage provider's default applies, shown by the provider's own evidence"
        )
    if o["encrypted"]:
        return Verdict.passed(f"encrypted{' with ' + o['kms_key'] if o['kms_key'] else ''}")
    return Verdict.failed(f"storage class {o['storage_class']} sets encrypted: false")
