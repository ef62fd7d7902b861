"""SNS topic checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check


@check("aws.sns.topic.encryption_enabled", reads="aws.sns.topic.encryption")
def topic_encryption_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every topic encrypts the messages it stores with a KMS key."""
    o = subject.observed
    if not o["encrypted"]:
        return Verdict.failed("server-side encryption off: no KMS key set")
    return Verdict.passed(f"encrypted with KMS key {o['kms_master_key_id']}")
