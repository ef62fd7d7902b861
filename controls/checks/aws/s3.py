"""S3 bucket and account checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check


@check("aws.s3.bucket.encryption_enabled", reads="aws.s3.bucket.encryption")
def bucket_encryption_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every bucket encrypts new objects by default."""
    o = subject.observed
    if not o["encrypted"]:
        return Verdict.failed("no default encryption configured")
    key = f" with key {o['kms_key_id']}" if o["kms_key_id"] else ""
    return Verdict.passed(f"default encryption {o['algorithm']}{key}")


@check("aws.s3.bucket.public_access_blocked", reads="aws.s3.bucket.public_access_block")
def bucket_public_access_blocked(subject: Subject, policy: Policy) -> Verdict:
    """All four bucket-level Block Public Access settings are on."""
    o = subject.observed
    flags = ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets")
    off = [f for f in flags if not o[f]]
    if not o["configured"]:
        return Verdict.failed("no bucket-level public access block")
    return Verdict.failed(f"off: {', '.join(off)}") if off else Verdict.passed("all four settings on")


@check("aws.s3.account.public_access_blocked", reads="aws.s3.account.public_access_block")
def account_public_access_blocked(subject: Subject, policy: Policy) -> Verdict:
    """All four account-level Block Public Access settings are on."""
    o = subject.observed
    if not o["configured"]:
        return Verdict.failed("no account-level public access block")
    flags = ("block_public_acls", "ignore_public_acls", "block_public_policy", "restrict_public_buckets")
    off = [f for f in flags if not o[f]]
    return Verdict.failed(f"off: {', '.join(off)}") if off else Verdict.passed("all four settings on")


@check("aws.s3.bucket.versioning_enabled", reads="aws.s3.bucket.versioning")
def bucket_versioning_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every bucket keeps prior object versions (versioning Enabled)."""
    o = subject.observed
    if o["enabled"]:
        return Verdict.passed("versioning Enabled" + (", MFA delete on" if o["mfa_delete"] else ""))
    if o["status"] == "Suspended":
        return Verdict.failed("versioning Suspended: new writes keep no prior version")
    return Verdict.failed("versioning never enabled")


@check("aws.s3.bucket.access_logging_enabled", reads="aws.s3.bucket.logging")
def bucket_access_logging_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every bucket delivers server access logs."""
    o = subject.observed
    if not o["enabled"]:
        return Verdict.failed("server access logging off")
    return Verdict.passed(f"access logs to s3://{o['target_bucket']}/{o['target_prefix'] or ''}")


@check("aws.s3.bucket.insecure_transport_denied", reads="aws.s3.bucket.policy")
def bucket_insecure_transport_denied(subject: Subject, policy: Policy) -> Verdict:
    """The bucket policy denies every request not made over TLS (aws:SecureTransport false)."""
    o = subject.observed
    if not o["present"]:
        return Verdict.failed("no bucket policy: requests over plain HTTP are not denied")
    if o["denies_insecure_transport"]:
        return Verdict.passed("policy denies s3:* on the bucket and all objects without TLS")
    return Verdict.failed("policy has no deny of all S3 actions on the bucket and all objects without TLS")


@check("aws.s3.bucket.policy_not_public", reads="aws.s3.bucket.policy")
def bucket_policy_not_public(subject: Subject, policy: Policy) -> Verdict:
    """No bucket policy statement allows all principals without a narrowing condition."""
    o = subject.observed
    if not o["present"]:
        return Verdict.passed("no bucket policy")
    if o["allows_public_principal"]:
        return Verdict.failed("policy allows Principal * with no narrowing condition")
    return Verdict.passed(f"no public Allow in {o['statement_count']} statement(s)")


@check("aws.s3.bucket.acl_not_public", reads="aws.s3.bucket.acl")
def bucket_acl_not_public(subject: Subject, policy: Policy) -> Verdict:
    """The bucket ACL grants nothing to AllUsers (anyone) or AuthenticatedUsers (any AWS account)."""
    o = subject.observed
    grants = []
    if o["all_users_permissions"]:
        grants.append(f"{', '.join(o['all_users_permissions'])} to AllUsers (anyone)")
    if o["authenticated_users_permissions"]:
        grants.append(f"{', '.join(o['authenticated_users_permissions'])} to AuthenticatedUsers (any AWS account)")
    if grants:
        return Verdict.failed(f"ACL grants {'; '.join(grants)}")
    return Verdict.passed("no ACL grants to AllUsers or AuthenticatedUsers")


@check("aws.s3.bucket.lifecycle_expiration_configured", reads="aws.s3.bucket.lifecycle")
def bucket_lifecycle_expiration_configured(subject: Subject, policy: Policy) -> Verdict:
    """At least one enabled lifecycle rule expires current or noncurrent object versions."""
    o = subject.observed
    if not o["configured"]:
        return Verdict.failed("no lifecycle configuration: objects are kept until someone deletes them")
    expiring = [r for r in o["enabled_rules"] if r["expiration_days"] is not None or r["expiration_date"] is not None
                or r["noncurrent_expiration_days"] is not None]  # fmt: skip
    if not expiring:
        return Verdict.failed(f"{len(o['enabled_rules'])} enabled rule(s), none expires objects or old versions")
    shown = []
    for r in expiring:
        what = [f"objects after {r['expiration_days']} days" if r["expiration_days"] is not None else "",
                f"objects on {r['expiration_date']}" if r["expiration_date"] is not None else "",
                f"noncurrent versions after {r['noncurrent_expiration_days']} days"
                if r["noncurrent_expiration_days"] is not None else ""]  # fmt: skip
        scope = f" under {r['prefix']}" if r["prefix"] else ""
        scope += " (tag/size filtered)" if r["tag_or_size_filter"] else ""
        shown.append(f"{r['id'] or 'rule'}{scope} expires {' and '.join(w for w in what if w)}")
    return Verdict.passed("; ".join(shown))
