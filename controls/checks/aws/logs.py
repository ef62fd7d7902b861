"""CloudWatch Logs checks: log groups keep events long enough, encrypt them with KMS, resist deletion and mask
sensitive data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controls.base import Policy, Subject, Verdict, check

LOG_GROUP = "aws.logs.log_group.settings"
DATA_PROTECTION = "aws.logs.log_group.data_protection"


@check("aws.logs.log_group.retention_sufficient", reads=LOG_GROUP)
def log_group_retention_sufficient(subject: Subject, policy: Policy) -> Verdict:
    """Every log group keeps its events at least the configured minimum number of days."""
    days, minimum = subject.observed["retention_days"], policy.min_log_retention_days
    if days is None:
        return Verdict.passed("events never expire")
    if days < minimum:
        return Verdict.failed(f"retention {days} days (min {minimum})")
    return Verdict.passed(f"retention {days} days (min {minimum})")


@check("aws.logs.log_group.kms_encrypted", reads=LOG_GROUP)
def log_group_kms_encrypted(subject: Subject, policy: Policy) -> Verdict:
    """Every log group is encrypted with a KMS key of the account."""
    key = subject.observed["kms_key_id"]
    if key:
        return Verdict.passed(f"encrypted with {key}")
    return Verdict.failed("no KMS key: only CloudWatch Logs' own encryption")


@check("aws.logs.log_group.deletion_protection_enabled", reads=LOG_GROUP)
def log_group_deletion_protection_enabled(subject: Subject, policy: Policy) -> Verdict:
    """Every log group has deletion protection on."""
    if subject.observed["deletion_protection"]:
        return Verdict.passed("deletion protection on")
    return Verdict.failed("deletion protection off: the group and its events can be deleted")


def _identifiers(names: list[str], most: int = 4) -> str:
    """`3 data identifiers (EmailAddress, IpAddress, PhoneNumber-GB)`, the list cut after `most` names."""
    shown = ", ".join(names[:most]) + (", ..." if len(names) > most else "")
    return f"{len(names)} data identifier{'s' if len(names) != 1 else ''} ({shown})"


def _masking_policies(observed: Mapping[str, Any]) -> str:
    if observed["group_policy"] and observed["account_policy"]:
        return "the group's and the account's policies"
    return "the group's policy" if observed["group_policy"] else "the account policy"


@check("aws.logs.log_group.sensitive_data_masked", reads=DATA_PROTECTION)
def log_group_sensitive_data_masked(subject: Subject, policy: Policy) -> Verdict:
    """Every log group masks sensitive data (data identifiers) through its own or the account's data protection
    policy, for every reader without `logs:Unmask`."""
    o = subject.observed
    if o["masked_identifiers"]:
        return Verdict.passed(f"masks {_identifiers(o['masked_identifiers'])} via {_masking_policies(o)}")
    if not (o["group_policy"] or o["account_policy"]):
        return Verdict.failed("no data protection policy: sensitive data in log events is stored and shown in clear")
    if o["audited_identifiers"]:
        audited = _identifiers(o["audited_identifiers"])
        return Verdict.failed(f"data protection policy only audits {audited}: nothing is masked")
    return Verdict.failed("data protection policy names no data identifier: nothing is masked")
