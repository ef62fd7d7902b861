"""IAM: the account password policy, every user's credentials and the root user (from the credential
report), and which policies grant full administrator access and who holds them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.aws.arns import ACCOUNT_TYPE, account_arn
from connectors.aws.clients import AwsClients, get_or_absent, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import (
    GLOBAL,
    CollectionError,
    Evidence,
    GapReason,
    evidence_kind,
    redact,
    rfc3339,
    to_jsonable,
)


@evidence_kind("aws.iam.account.password_policy", regional=False, permissions=("iam:GetAccountPasswordPolicy",))
def collect_password_policy(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The account's IAM password policy (absent is a fact, not a gap)."""
    iam = aws.client("iam")
    resp, op = get_or_absent(iam.get_account_password_policy, "NoSuchEntity", {})
    yield observe_password_policy(aws.partition, aws.account_id, resp, source(aws, "iam", [op]))


def observe_password_policy(partition: str, account_id: str, response: dict | None, provenance: dict) -> Evidence:
    policy = response["PasswordPolicy"] if response else {}
    return Evidence(
        kind="aws.iam.account.password_policy",
        resource_id=account_arn(partition, account_id),
        resource_type=ACCOUNT_TYPE,
        region=GLOBAL,
        observed={
            "present": response is not None,
            "minimum_length": policy.get("MinimumPasswordLength"),
            "require_symbols": bool(policy.get("RequireSymbols", False)),
            "require_numbers": bool(policy.get("RequireNumbers", False)),
            "require_uppercase": bool(policy.get("RequireUppercaseCharacters", False)),
            "require_lowercase": bool(policy.get("RequireLowercaseCharacters", False)),
            "users_can_change": bool(policy.get("AllowUsersToChangePassword", False)),
            "max_age_days": policy.get("MaxPasswordAge"),
            "reuse_prevention": policy.get("PasswordReusePrevention"),
            "hard_expiry": bool(policy.get("HardExpiry", False)),
        },
        source=provenance,
        raw=redact(to_jsonable(strip_metadata(response or {}))),
    )


# --------------------------------------------------------------------------- credential report

USER_TYPE = "AWS::IAM::User"
ROOT_ROW = "<root_account>"
REPORT_PERMISSIONS = ("iam:GenerateCredentialReport", "iam:GetCredentialReport")
# Seconds between GenerateCredentialReport polls until the report is COMPLETE (31.5 s at most in all).
REPORT_WAITS: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0)
# What the report writes where there is no value: never used, no password, not applicable to root.
NO_VALUE = frozenset({"N/A", "no_information", "not_supported", ""})


@dataclass(frozen=True)
class CredentialReport:
    rows: tuple[dict[str, str], ...]  # one per CSV line, keyed by the header's column names
    meta: dict[str, Any]  # GeneratedTime, ReportFormat
    operations: tuple[dict[str, Any], ...]  # provenance of generating and reading it


def parse_credential_report(content: bytes | str) -> list[dict[str, str]]:
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    return list(csv.DictReader(io.StringIO(text)))


def credential_report(aws: AwsClients) -> CredentialReport:
    """The account's credential report, generated when needed; read once per run and shared by the kinds.

    IAM builds the report asynchronously (and answers COMPLETE at once while a report younger than four
    hours exists): poll with backoff, and record a timeout gap if it never completes."""

    def compute() -> CredentialReport:
        iam = aws.client("iam")
        ops: list[dict[str, Any]] = []
        for wait in (*REPORT_WAITS, None):
            generated = iam.generate_credential_report()
            ops.append(operation("GenerateCredentialReport", {}, generated))
            if generated["State"] == "COMPLETE":
                break
            if wait is None:
                raise CollectionError(
                    GapReason.TIMEOUT,
                    f"credential report still {generated['State']} after {len(ops)} polls over {sum(REPORT_WAITS):g} s",
                    operation="GenerateCredentialReport",
                )
            time.sleep(wait)
        report = iam.get_credential_report()
        ops.append(operation("GetCredentialReport", {}, report))
        return CredentialReport(
            rows=tuple(parse_credential_report(report["Content"])),
            meta=to_jsonable({"GeneratedTime": report["GeneratedTime"], "ReportFormat": report["ReportFormat"]}),
            operations=tuple(ops),
        )

    return aws.memo("iam:credential_report", compute)


def report_value(value: str) -> str | None:
    return None if value in NO_VALUE else value


def report_time(value: str) -> str | None:
    """A report timestamp (`2024-05-01T10:00:00+00:00`) as RFC 3339 UTC; None where there is none."""
    return None if value in NO_VALUE else rfc3339(dt.datetime.fromisoformat(value))


def report_flag(value: str) -> bool | None:
    if value in NO_VALUE:
        return None
    if value not in ("true", "false"):
        raise ValueError(f"credential report flag is neither true nor false: {value!r}")
    return value == "true"


@evidence_kind("aws.iam.user.credentials", regional=False, permissions=REPORT_PERMISSIONS)
def collect_user_credentials(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Every IAM user's password, MFA and access keys with their last use, from the credential report."""
    report = credential_report(aws)
    provenance = source(aws, "iam", list(report.operations))
    for row in report.rows:
        if row["user"] != ROOT_ROW:
            yield observe_user_credentials(row, report.meta, provenance)


def observe_user_credentials(row: dict[str, str], report_meta: dict[str, Any], provenance: dict) -> Evidence:
    return Evidence(
        kind="aws.iam.user.credentials",
        resource_id=row["arn"],
        resource_type=USER_TYPE,
        region=GLOBAL,
        observed={
            "user_name": row["user"],
            "created": report_time(row["user_creation_time"]),
            "password_enabled": report_flag(row["password_enabled"]),
            "password_last_used": report_time(row["password_last_used"]),
            "password_last_changed": report_time(row["password_last_changed"]),
            "mfa_active": report_flag(row["mfa_active"]),
            "access_key_1_active": report_flag(row["access_key_1_active"]),
            "access_key_1_last_rotated": report_time(row["access_key_1_last_rotated"]),
            "access_key_1_last_used": report_time(row["access_key_1_last_used_date"]),
            "access_key_2_active": report_flag(row["access_key_2_active"]),
            "access_key_2_last_rotated": report_time(row["access_key_2_last_rotated"]),
            "access_key_2_last_used": report_time(row["access_key_2_last_used_date"]),
        },
        source=provenance,
        raw=redact(to_jsonable({"report": report_meta, "row": row})),
    )


@evidence_kind("aws.iam.account.root", regional=False, permissions=(*REPORT_PERMISSIONS, "iam:GetAccountSummary"))
def collect_root(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The root user's MFA, access keys and last use (credential report, cross-checked with the account summary)."""
    report = credential_report(aws)
    root = next((row for row in report.rows if row["user"] == ROOT_ROW), None)
    if root is None:  # AWS always writes one: without it the root user's state is unknown, never "fine"
        raise CollectionError(
            GapReason.ERROR, f"credential report has no {ROOT_ROW} row", operation="GetCredentialReport"
        )
    summary = aws.client("iam").get_account_summary()
    ops = [*report.operations, operation("GetAccountSummary", {}, summary)]
    yield observe_root(root, summary, report.meta, source(aws, "iam", ops))


def observe_root(row: dict[str, str], summary: dict, report_meta: dict[str, Any], provenance: dict) -> Evidence:
    summary_map = summary["SummaryMap"]
    keys = (1, 2)
    last_used = [t for n in keys if (t := report_time(row[f"access_key_{n}_last_used_date"]))]
    return Evidence(
        kind="aws.iam.account.root",
        resource_id=row["arn"],
        resource_type=ACCOUNT_TYPE,
        region=GLOBAL,
        observed={
            "mfa_active": report_flag(row["mfa_active"]),
            "account_mfa_enabled": summary_map["AccountMFAEnabled"] == 1,
            "active_access_keys": sum(report_flag(row[f"access_key_{n}_active"]) is True for n in keys),
            "account_access_keys_present": summary_map["AccountAccessKeysPresent"] == 1,
            "password_last_used": report_time(row["password_last_used"]),
            "access_key_last_used": max(last_used) if last_used else None,
        },
        source=provenance,
        raw=redact(to_jsonable({"report": report_meta, "row": row, "summary": strip_metadata(summary)})),
    )


# --------------------------------------------------------------------------- policies granting full admin

MANAGED_POLICY_TYPE = "AWS::IAM::ManagedPolicy"
AUTH_FILTER = ["User", "Group", "Role", "LocalManagedPolicy"]
AUTH_LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
# (holder list, answer list, name field, inline policy list, CloudFormation type of an inline policy)
PRINCIPALS = (
    ("users", "UserDetailList", "UserName", "UserPolicyList", "AWS::IAM::UserPolicy"),
    ("groups", "GroupDetailList", "GroupName", "GroupPolicyList", "AWS::IAM::GroupPolicy"),
    ("roles", "RoleDetailList", "RoleName", "RolePolicyList", "AWS::IAM::RolePolicy"),
)
ADMINISTRATOR_ACCESS = "AdministratorAccess"
# The AWS-managed AdministratorAccess document as AWS publishes it. It is not read: listing AWS-managed
# policies would return ~1,300 documents, and who holds it is known from the principals' attachments.
ADMINISTRATOR_ACCESS_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
FULL_ACTIONS = frozenset({"*", "*:*"})


@dataclass(frozen=True)
class IamPolicy:
    """One permissions policy: customer-managed, inline (embedded in one principal) or AWS-managed."""

    resource_id: str  # the policy's ARN; an inline policy: its principal's ARN + /inline-policy/NAME
    resource_type: str
    policy_type: str  # customer_managed, aws_managed, inline
    name: str
    document: dict[str, Any]  # the default version's document
    attachment_count: int
    holders: dict[str, list[str]]  # names of the users / groups / roles it is attached to or embedded in
    listing: dict[str, Any]  # the part of the answer it was read from


def authorization_details(iam: Any) -> tuple[dict[str, list[dict]], dict[str, Any]]:
    """Users, groups, roles (with inline and attached policies) and customer-managed policies (with their
    documents) in one paginated call: no per-policy calls against IAM's low rate limits."""
    details: dict[str, list[dict]] = {key: [] for key in AUTH_LISTS}
    request_ids: list[str | None] = []
    for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=AUTH_FILTER):
        for key in AUTH_LISTS:
            details[key].extend(page.get(key, []))
        request_ids.append(page.get("ResponseMetadata", {}).get("RequestId"))
    provenance = {"operation": "GetAccountAuthorizationDetails", "params": {"Filter": AUTH_FILTER},
                  "request_ids": request_ids}  # fmt: skip
    return details, provenance


def iam_policies(details: dict[str, list[dict]], partition: str) -> list[IamPolicy]:
    """Every customer-managed and inline policy of the account, and the AWS-managed AdministratorAccess,
    each with the principals holding it; sorted by resource id."""
    holders: dict[str, dict[str, list[str]]] = {}
    found: list[IamPolicy] = []
    for holder_key, list_key, name_key, inline_key, inline_type in PRINCIPALS:
        for principal in details[list_key]:
            name = principal[name_key]
            for attached in principal.get("AttachedManagedPolicies", []):
                by_kind = holders.setdefault(attached["PolicyArn"], {"users": [], "groups": [], "roles": []})
                by_kind[holder_key].append(name)
            for inline in principal.get(inline_key, []):
                found.append(
                    IamPolicy(
                        resource_id=f"{principal['Arn']}/inline-policy/{inline['PolicyName']}",
                        resource_type=inline_type,
                        policy_type="inline",
                        name=inline["PolicyName"],
                        document=inline["PolicyDocument"],
                        attachment_count=1,
                        holders={"users": [], "groups": [], "roles": [], holder_key: [name]},
                        listing={"principal": {"Arn": principal["Arn"], name_key: name}, "policy": inline},
                    )
                )
    for policy in details["Policies"]:
        arn = policy["Arn"]
        (default,) = [v for v in policy["PolicyVersionList"] if v["VersionId"] == policy["DefaultVersionId"]]
        found.append(
            IamPolicy(
                resource_id=arn,
                resource_type=MANAGED_POLICY_TYPE,
                policy_type="customer_managed",
                name=arn.rsplit("/", 1)[1],  # ARN: ...:policy/PATH/NAME (moto leaves PolicyName out here)
                document=default["Document"],
                attachment_count=policy["AttachmentCount"],
                holders=holders.get(arn, {"users": [], "groups": [], "roles": []}),
                listing={"policy": policy},
            )
        )
    admin_arn = f"arn:{partition}:iam::aws:policy/{ADMINISTRATOR_ACCESS}"
    admin_holders = holders.get(admin_arn, {"users": [], "groups": [], "roles": []})
    found.append(
        IamPolicy(
            resource_id=admin_arn,
            resource_type=MANAGED_POLICY_TYPE,
            policy_type="aws_managed",
            name=ADMINISTRATOR_ACCESS,
            document=ADMINISTRATOR_ACCESS_DOCUMENT,
            attachment_count=sum(len(names) for names in admin_holders.values()),
            holders=admin_holders,
            listing={"policy": {"Arn": admin_arn, "PolicyName": ADMINISTRATOR_ACCESS}},
        )
    )
    return sorted(found, key=lambda p: p.resource_id)


def _strings(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def grants_full_admin(document: dict[str, Any]) -> bool:
    """An Allow statement with Action `*` (or `*:*`) on Resource `*` and no condition."""
    statements = document["Statement"]
    return any(
        s["Effect"] == "Allow"
        and not s.get("Condition")
        and FULL_ACTIONS & set(_strings(s.get("Action")))
        and "*" in _strings(s.get("Resource"))
        for s in ([statements] if isinstance(statements, dict) else statements)
    )


@evidence_kind("aws.iam.policy.admin_access", regional=False, permissions=("iam:GetAccountAuthorizationDetails",))
def collect_admin_access(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Customer-managed and inline IAM policies and AWS AdministratorAccess: full admin or not, and who holds them."""
    details, op = authorization_details(aws.client("iam"))
    provenance = source(aws, "iam", [op])
    for policy in iam_policies(details, aws.partition):
        yield observe_admin_access(policy, provenance)


def observe_admin_access(policy: IamPolicy, provenance: dict) -> Evidence:
    holders = {key: sorted(policy.holders[key]) for key in ("users", "groups", "roles")}
    return Evidence(
        kind="aws.iam.policy.admin_access",
        resource_id=policy.resource_id,
        resource_type=policy.resource_type,
        region=GLOBAL,
        observed={
            "policy_name": policy.name,
            "policy_type": policy.policy_type,
            "grants_full_admin": grants_full_admin(policy.document),
            "attachment_count": policy.attachment_count,
            **holders,
        },
        source=provenance,
        raw=redact(to_jsonable({**policy.listing, "holders": holders})),
    )
