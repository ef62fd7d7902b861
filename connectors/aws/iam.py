"""IAM account settings: the account password policy."""

from __future__ import annotations

from collections.abc import Iterator

from connectors.aws.arns import ACCOUNT_TYPE, account_arn
from connectors.aws.clients import AwsClients, get_or_absent, strip_metadata
from connectors.aws.provenance import source
from connectors.base import GLOBAL, Evidence, evidence_kind, redact, to_jsonable


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
