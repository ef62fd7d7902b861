"""SQS queue checks."""

from __future__ import annotations

from controls.base import Policy, Subject, Verdict, check


@check("aws.sqs.queue.encryption_enabled", reads="aws.sqs.queue.encryption")
def queue_encryption_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every queue encrypts the messages it stores (SSE-SQS or SSE-KMS)."""
    o = subject.observed
    if not o["encrypted"]:
        return Verdict.failed("server-side encryption off (neither SSE-SQS nor SSE-KMS)")
    if o["kms_master_key_id"]:
        return Verdict.passed(f"SSE-KMS with key {o['kms_master_key_id']}")
    return Verdict.passed("SSE-SQS (keys SQS manages)")
