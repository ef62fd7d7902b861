"""Cloud Storage bucket checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check

SETTINGS = "gcp.storage.bucket.settings"


@check("gcp.storage.bucket.not_public", reads="gcp.storage.bucket.iam_public")
def bucket_not_public(subject: Subject, policy: Policy) -> Verdict:
    """No bucket grants a role to allUsers or allAuthenticatedUsers, unless public access prevention blocks it."""
    o = subject.observed
    grants = ", ".join(f"{g['role']} to {g['member']}" for g in o["public_grants"])
    if not grants:
        return Verdict.passed("no role granted to allUsers or allAuthenticatedUsers")
    if o["public_access_prevention"] == "enforced":
        return Verdict.passed(f"public access prevention enforced: {grants} gives no access")
    return Verdict.failed(f"public: {grants} (public access prevention {o['public_access_prevention']})")


@check("gcp.storage.bucket.uniform_access_enabled", reads=SETTINGS)
def bucket_uniform_access_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Uniform bucket-level access is on: access is decided by IAM alone, no object ACLs."""
    if subject.observed["uniform_bucket_level_access"]:
        return Verdict.passed("uniform bucket-level access on")
    return Verdict.failed("fine-grained access: object ACLs can grant access outside IAM")


@check("gcp.storage.bucket.versioning_enabled", reads=SETTINGS)
def bucket_versioning_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Object versioning keeps prior versions of overwritten and deleted objects."""
    if subject.observed["versioning_enabled"]:
        return Verdict.passed("object versioning on")
    return Verdict.failed("object versioning off")


@check("gcp.storage.bucket.cmek_encryption_enabled", reads=SETTINGS)
def bucket_cmek_encryption_enabled(subject: Subject, policy: Policy) -> Verdict:
    """New objects are encrypted with a customer-managed Cloud KMS key by default."""
    key = subject.observed["default_kms_key_name"]
    if key:
        return Verdict.passed(f"default key {key}")
    return Verdict.failed("no default Cloud KMS key: Google-managed encryption keys only")


@check("gcp.storage.bucket.access_logging_enabled", reads=SETTINGS)
def bucket_access_logging_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Usage and storage logs of the bucket are delivered to a log bucket."""
    target = subject.observed["logging_bucket"]
    if target:
        return Verdict.passed(f"usage logs to gs://{target}")
    return Verdict.failed("usage and storage logging off")
