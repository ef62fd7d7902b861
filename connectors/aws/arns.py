"""Resource ids for things AWS gives no ARN of its own."""

from __future__ import annotations

ACCOUNT_TYPE = "AWS::::Account"


def account_arn(partition: str, account_id: str) -> str:
    """The account itself (account-wide settings such as the password policy)."""
    return f"arn:{partition}:iam::{account_id}:root"


def account_setting_arn(partition: str, service: str, region: str, account_id: str) -> str:
    """An account's setting of one service in one region (EBS default encryption, GuardDuty, Config).

    Not an AWS ARN, but of ARN shape and stable: `arn:aws:guardduty:eu-west-1:123456789012:account`.
    """
    return f"arn:{partition}:{service}:{region}:{account_id}:account"
