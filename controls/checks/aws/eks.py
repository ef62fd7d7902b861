"""EKS cluster checks: API endpoint exposure, envelope encryption of secrets, control-plane audit logs."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
AUDIT_LOG_TYPES = ("audit", "authenticator")


@check("aws.eks.cluster.endpoint_access_restricted", reads="aws.eks.cluster.endpoint_access")
def cluster_endpoint_access_restricted(subject: Subject, policy: Policy) -> Verdict:
    """An EKS cluster's Kubernetes API endpoint is private, or public only to listed CIDR ranges."""
    o = subject.observed
    public, cidrs = o["endpoint_public_access"], o["public_access_cidrs"]
    if public is None:
        return Verdict.not_applicable("endpoint access not in the DescribeCluster answer")
    if not public:
        return Verdict.passed("public endpoint off")
    if cidrs is None:
        return Verdict.failed("public endpoint with no CIDR list in the answer (AWS default: 0.0.0.0/0)")
    open_to = sorted(WORLD_CIDRS.intersection(cidrs))
    if open_to:
        return Verdict.failed(f"public endpoint open to {', '.join(open_to)}")
    return Verdict.passed(f"public endpoint limited to {', '.join(cidrs)}")


@check("aws.eks.cluster.secrets_encrypted", reads="aws.eks.cluster.secrets_encryption")
def cluster_secrets_encrypted(subject: Subject, policy: Policy) -> Verdict:
    """An EKS cluster envelope-encrypts Kubernetes secrets with a KMS key of the account."""
    o = subject.observed
    if o["secrets_encrypted"]:
        return Verdict.passed(f"secrets envelope-encrypted with {o['kms_key_arn']}")
    return Verdict.failed("Kubernetes secrets not envelope-encrypted with a KMS key")


@check("aws.eks.cluster.audit_logging_enabled", reads="aws.eks.cluster.logging")
def cluster_audit_logging_enabled(subject: Subject, policy: Policy) -> Verdict:
    """An EKS cluster sends its audit and authenticator control-plane logs to CloudWatch Logs."""
    enabled = subject.observed["enabled_log_types"]
    missing = [t for t in AUDIT_LOG_TYPES if t not in enabled]
    if missing:
        return Verdict.failed(f"control-plane log types off: {', '.join(missing)}")
    return Verdict.passed(f"control-plane logs on: {', '.join(enabled)}")
