"""Sandbox IAM and Organizations for the messaging company: people with and without MFA, a CI user with two
keys, an admin policy held too widely next to a scoped one, and an organization whose SCP keeps it in the EU.

IAM and Organizations are global services: their records carry region `global` whatever regions are collected.
"""

from __future__ import annotations

import json
from typing import Any

from collector.sandbox.base import client

PASSWORD = "Sandbox-not-a-secret-1"  # a moto login profile needs one; it is never read back

ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
CHAT_MEDIA_READ = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::acme-chat-media-eu", "arn:aws:s3:::acme-chat-media-eu/*"],
        }
    ],
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
EU_REGIONS_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyOutsideEU",
            "Effect": "Deny",
            "NotAction": ["cloudfront:*", "iam:*", "organizations:*", "route53:*", "sts:*", "support:*"],
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}},
        }
    ],
}
DENY_LEAVE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
}


def _users(iam: Any) -> None:
    """An engineer with MFA, a CI user with two programmatic keys, a legacy console user without MFA."""
    iam.create_user(UserName="maria.silva")
    iam.create_login_profile(UserName="maria.silva", Password=PASSWORD)
    mfa = iam.create_virtual_mfa_device(VirtualMFADeviceName="maria.silva")["VirtualMFADevice"]
    iam.enable_mfa_device(
        UserName="maria.silva",
        SerialNumber=mfa["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    iam.create_user(UserName="ci-deployer", Path="/automation/")
    iam.create_access_key(UserName="ci-deployer")
    iam.create_access_key(UserName="ci-deployer")
    iam.create_user(UserName="legacy-export")
    iam.create_login_profile(UserName="legacy-export", Password=PASSWORD)
    iam.create_access_key(UserName="legacy-export")


def _policies(iam: Any) -> None:
    """Full admin for the ops group (and, wrongly, a legacy user); the message store's role reads chat media
    only, but someone left an inline allow-everything policy on it while debugging."""
    admin = iam.create_policy(PolicyName="ops-full-admin", PolicyDocument=json.dumps(ADMIN))["Policy"]["Arn"]
    media = iam.create_policy(PolicyName="chat-media-read", Path="/app/", PolicyDocument=json.dumps(CHAT_MEDIA_READ))
    iam.create_group(GroupName="ops-admins")
    iam.add_user_to_group(GroupName="ops-admins", UserName="maria.silva")
    iam.attach_group_policy(GroupName="ops-admins", PolicyArn=admin)
    iam.attach_user_policy(UserName="legacy-export", PolicyArn=admin)
    iam.create_role(
        RoleName="message-store-writer", Path="/service-role/", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )
    iam.attach_role_policy(RoleName="message-store-writer", PolicyArn=media["Policy"]["Arn"])
    iam.put_role_policy(
        RoleName="message-store-writer", PolicyName="debug-everything", PolicyDocument=json.dumps(ADMIN)
    )


def _organization(org: Any) -> None:
    """The account manages an organization: an SCP on the root keeps everything but global services in the EU."""
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    for name, document, description in (
        ("eu-regions-only", EU_REGIONS_ONLY, "Deny requests outside eu-west-1 and eu-central-1"),
        ("deny-leave-organization", DENY_LEAVE, "Member accounts may not leave the organization"),
    ):
        policy = org.create_policy(
            Content=json.dumps(document), Description=description, Name=name, Type="SERVICE_CONTROL_POLICY"
        )
        org.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=root)


def seed(endpoint: str) -> None:
    iam = client("iam", endpoint, "us-east-1")
    _users(iam)
    _policies(iam)
    _organization(client("organizations", endpoint, "us-east-1"))
