"""IAM and Organizations kinds: users' credentials and the root user (credential report), policies granting
full admin (account authorization details), SCP region restrictions. Golden fixtures, then real boto3 on moto."""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from collector.sandbox import aws_iam
from connectors import collect_unit
from connectors.aws import AwsClients, AwsTarget, iam, organizations
from connectors.base import CollectionError, Evidence, GapReason, get_kind
from ea_testkit.golden import PROVENANCE, check_golden, golden_params


def _policy(case: dict) -> iam.IamPolicy:
    (policy,) = [p for p in iam.iam_policies(case["details"], "aws") if p.resource_id == case["policy"]]
    return policy


OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.iam.user.credentials": lambda c: iam.observe_user_credentials(c["row"], c["report"], PROVENANCE),
    "aws.iam.account.root": lambda c: iam.observe_root(c["row"], c["summary"], c["report"], PROVENANCE),
    "aws.iam.policy.admin_access": lambda c: iam.observe_admin_access(_policy(c), PROVENANCE),
    "aws.organizations.policy.region_restriction": lambda c: organizations.observe_region_restriction(
        "aws", c["account_id"], c["policy"], c["targets"], PROVENANCE
    ),
}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE


# --------------------------------------------------------------------------- pure helpers

REAL_REPORT = (
    b"user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,"
    b"mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
    b"access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
    b"access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    b"cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
    b"<root_account>,arn:aws:iam::123456789012:root,2019-03-05T10:12:22+00:00,not_supported,"
    b"2026-10-02T08:41:07+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,"
    b"false,N/A,false,N/A\n"
    b"maria.silva,arn:aws:iam::123456789012:user/maria.silva,2021-03-08T09:12:44+00:00,true,"
    b"2026-11-26T17:02:51+00:00,2026-09-01T08:30:00+00:00,2026-11-30T08:30:00+00:00,true,true,"
    b"2025-01-15T10:00:03+00:00,2026-11-27T05:58:00+00:00,eu-west-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
)


def test_credential_report_parses_into_one_row_per_line_with_root_first():
    rows = iam.parse_credential_report(REAL_REPORT)
    assert [r["user"] for r in rows] == ["<root_account>", "maria.silva"]
    assert rows[1]["access_key_1_last_used_service"] == "s3" and len(rows[1]) == 22


@pytest.mark.parametrize(
    ("value", "flag", "time"),
    [
        ("N/A", None, None),
        ("no_information", None, None),
        ("not_supported", None, None),
        ("", None, None),
        ("true", True, ValueError),
        ("false", False, ValueError),
        ("2026-10-02T08:41:07+00:00", ValueError, "2026-10-02T08:41:07Z"),
        ("2026-10-02T10:41:07+02:00", ValueError, "2026-10-02T08:41:07Z"),
    ],
)
def test_report_values_are_normalized_and_garbage_fails_loudly(value, flag, time):
    for parse, expected in ((iam.report_flag, flag), (iam.report_time, time)):
        if expected is ValueError:
            with pytest.raises(ValueError):
                parse(value)
        else:
            assert parse(value) == expected


@pytest.mark.parametrize(
    ("statement", "full"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": ["iam:*", "*:*"], "Resource": ["arn:aws:s3:::x", "*"]}, True),
        ({"Effect": "Deny", "Action": "*", "Resource": "*"}, False),
        ({"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::acme-chat-media-eu/*"}, False),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, False),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, False),  # near-admin, but not Action *
        ({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::x"}, False),
        ({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
         False),
    ],
)  # fmt: skip
def test_grants_full_admin_reads_allow_star_on_star_without_condition(statement, full):
    assert iam.grants_full_admin({"Version": "2012-10-17", "Statement": [statement]}) is full
    assert iam.grants_full_admin({"Version": "2012-10-17", "Statement": statement}) is full


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ({"Effect": "Deny", "Action": "*", "Resource": "*",
          "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}, ["eu-west-1"]),
        ({"Effect": "Deny", "Action": "*", "Resource": "*",  # operator prefix/suffix, key in another case
          "Condition": {"ForAnyValue:StringNotLikeIfExists": {"AWS:REQUESTEDREGION": ["eu-*"]}}}, ["eu-*"]),
        ({"Effect": "Allow", "Action": "*", "Resource": "*",  # an Allow restricts nothing
          "Condition": {"StringNotEquals": {"aws:RequestedRegion": "eu-west-1"}}}, None),
        ({"Effect": "Deny", "Action": "*", "Resource": "*",  # a deny-list of regions is not an allow-list
          "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}, None),
        ({"Effect": "Deny", "Action": "*", "Resource": "*",
          "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "123456789012"}}}, None),
    ],
)  # fmt: skip
def test_region_restriction_is_a_deny_unless_the_requested_region_is_listed(statement, allowed):
    arn = "arn:aws:organizations::123456789012:policy/o-1/service_control_policy/p-1"
    summary = {"Id": "p-1", "Arn": arn, "Name": "regions", "AwsManaged": False}
    content = json.dumps({"Version": "2012-10-17", "Statement": statement})
    scp = {"Policy": {"PolicySummary": summary, "Content": content}}
    observed = organizations.observe_region_restriction("aws", "123456789012", scp, [], PROVENANCE).observed
    assert observed["restricts_regions"] is (allowed is not None)
    assert observed["allowed_regions"] == (allowed or [])


def test_aws_managed_administrator_access_holders_come_from_the_principals_attachments():
    """Its ARN has `aws` for an account (not a 12-digit id), so it is tested here rather than in a golden case."""
    held = {"PolicyName": "AdministratorAccess", "PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    details = {
        "UserDetailList": [{"UserName": "bob", "Arn": "arn:aws:iam::123456789012:user/bob",
                            "AttachedManagedPolicies": [held]}],
        "GroupDetailList": [{"GroupName": "ops-admins", "Arn": "arn:aws:iam::123456789012:group/ops-admins",
                             "AttachedManagedPolicies": [held]}],
        "RoleDetailList": [{"RoleName": "ci", "Arn": "arn:aws:iam::123456789012:role/ci"}],  # no lists: optional
        "Policies": [],
    }  # fmt: skip
    (admin,) = [iam.observe_admin_access(p, PROVENANCE) for p in iam.iam_policies(details, "aws")]
    assert admin.resource_id == "arn:aws:iam::aws:policy/AdministratorAccess"
    assert admin.resource_type == "AWS::IAM::ManagedPolicy" and admin.region == "global"
    assert admin.observed == {
        "policy_name": "AdministratorAccess", "policy_type": "aws_managed", "grants_full_admin": True,
        "attachment_count": 2, "users": ["bob"], "groups": ["ops-admins"], "roles": [],
    }  # fmt: skip
    gov = iam.iam_policies({**details, "UserDetailList": [], "GroupDetailList": []}, "aws-us-gov")
    assert [p.resource_id for p in gov] == ["arn:aws-us-gov:iam::aws:policy/AdministratorAccess"]


def test_authorization_details_merge_every_list_of_every_page():
    """moto ignores MaxItems for GetAccountAuthorizationDetails: two pages are served by a Stubber instead."""
    client = boto3.client("iam", region_name="us-east-1")
    user = {"Path": "/", "UserName": "a", "UserId": "AIDAAAAAAAAAAAAAAAAAA", "Arn": "arn:aws:iam::123456789012:user/a",
            "CreateDate": "2026-01-01T00:00:00Z"}  # fmt: skip
    role = {"Path": "/", "RoleName": "r", "RoleId": "AROAAAAAAAAAAAAAAAAAA", "Arn": "arn:aws:iam::123456789012:role/r",
            "CreateDate": "2026-01-01T00:00:00Z"}  # fmt: skip
    with Stubber(client) as stub:
        stub.add_response(
            "get_account_authorization_details",
            {"UserDetailList": [user], "IsTruncated": True, "Marker": "page-2"},
            {"Filter": iam.AUTH_FILTER},
        )
        stub.add_response(
            "get_account_authorization_details",
            {"UserDetailList": [{**user, "UserName": "b"}], "RoleDetailList": [role], "IsTruncated": False},
            {"Filter": iam.AUTH_FILTER, "Marker": "page-2"},
        )
        details, op = iam.authorization_details(client)
        stub.assert_no_pending_responses()
    assert [u["UserName"] for u in details["UserDetailList"]] == ["a", "b"]
    assert [r["RoleName"] for r in details["RoleDetailList"]] == ["r"]
    assert details["GroupDetailList"] == [] and details["Policies"] == []
    assert op["operation"] == "GetAccountAuthorizationDetails" and len(op["request_ids"]) == 2


# --------------------------------------------------------------------------- through boto3 against moto

ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
MEDIA_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::acme-chat-media-eu/*"}],
}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}  # fmt: skip
EU_ONLY = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
           "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}}}]}  # fmt: skip


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setattr(iam, "REPORT_WAITS", (0.0,) * len(iam.REPORT_WAITS))  # moto answers STARTED once
    with mock_aws():
        yield AwsClients(AwsTarget(name="prod", regions=("eu-west-1",)))


def calls_to(aws: AwsClients, service: str) -> list[str]:
    calls: list[str] = []
    aws.client(service).meta.events.register(f"before-call.{service}.*", lambda model, **_: calls.append(model.name))
    return calls


def answer(aws: AwsClients, service: str, operation: str, parsed: dict) -> None:
    """Serve a canned successful answer for one operation instead of moto's (what moto cannot model)."""

    def handler(model, **_):
        return AWSResponse("https://example.invalid", 200, {}, None), {**parsed, "ResponseMetadata": {"RequestId": "r"}}

    aws.client(service).meta.events.register(f"before-call.{service}.{operation}", handler)


def deny(aws: AwsClients, service: str, operation: str, code: str) -> None:
    def handler(**_):
        raise ClientError({"Error": {"Code": code, "Message": "not allowed"}}, operation)

    aws.client(service).meta.events.register(f"before-call.{service}.{operation}", handler)


def test_user_credentials_one_record_per_user_from_the_report(aws):
    client = boto3.client("iam")
    client.create_user(UserName="maria.silva")
    client.create_login_profile(UserName="maria.silva", Password="Sandbox-not-a-secret-1")
    mfa = client.create_virtual_mfa_device(VirtualMFADeviceName="maria.silva")["VirtualMFADevice"]
    client.enable_mfa_device(UserName="maria.silva", SerialNumber=mfa["SerialNumber"],
                             AuthenticationCode1="123456", AuthenticationCode2="654321")  # fmt: skip
    client.create_user(UserName="ci-deployer", Path="/automation/")
    client.create_access_key(UserName="ci-deployer")
    calls = calls_to(aws, "iam")

    found = {e.resource_id: e for e in collect_unit(get_kind("aws.iam.user.credentials"), aws, "global")}

    assert set(found) == {"arn:aws:iam::123456789012:user/maria.silva",
                          "arn:aws:iam::123456789012:user/automation/ci-deployer"}  # fmt: skip
    maria = found["arn:aws:iam::123456789012:user/maria.silva"]
    ci = found["arn:aws:iam::123456789012:user/automation/ci-deployer"]
    assert maria.region == "global" and maria.resource_type == "AWS::IAM::User"
    assert maria.observed["password_enabled"] is True and maria.observed["mfa_active"] is True
    assert maria.observed["access_key_1_active"] is False and maria.observed["access_key_1_last_rotated"] is None
    assert ci.observed["password_enabled"] is False and ci.observed["mfa_active"] is False
    assert ci.observed["access_key_1_active"] is True and ci.observed["access_key_1_last_rotated"].endswith("Z")
    assert ci.observed["access_key_1_last_used"] is None and ci.observed["created"].endswith("Z")
    # moto answers STARTED, then COMPLETE: two polls, one read; no per-user call.
    assert calls == ["GenerateCredentialReport", "GenerateCredentialReport", "GetCredentialReport"]
    ops = [op["operation"] for op in ci.source["operations"]]
    assert ops == calls and all(op["request_id"] for op in ci.source["operations"])
    assert ci.raw["row"]["user"] == "ci-deployer" and "GeneratedTime" in ci.raw["report"]


def test_root_without_a_root_row_is_a_gap_never_a_pass(aws):
    """moto's report has no <root_account> row (real AWS always writes one)."""
    boto3.client("iam").create_user(UserName="maria.silva")
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.iam.account.root"), aws, "global")
    assert info.value.reason == GapReason.ERROR and "<root_account>" in info.value.message


def test_root_from_a_real_format_report_and_the_account_summary_report_read_once(aws):
    answer(aws, "iam", "GetCredentialReport",
           {"Content": REAL_REPORT, "ReportFormat": "text/csv", "GeneratedTime": "2026-11-27T06:14:09Z"})  # fmt: skip
    calls = calls_to(aws, "iam")

    (root,) = collect_unit(get_kind("aws.iam.account.root"), aws, "global")
    users = collect_unit(get_kind("aws.iam.user.credentials"), aws, "global")

    assert root.resource_id == "arn:aws:iam::123456789012:root" and root.resource_type == "AWS::::Account"
    # moto's summary always says AccountMFAEnabled 0 (root MFA cannot be modelled): both facts are kept.
    assert root.observed == {
        "mfa_active": True, "account_mfa_enabled": False, "active_access_keys": 0,
        "account_access_keys_present": False, "password_last_used": "2026-10-02T08:41:07Z",
        "access_key_last_used": None,
    }  # fmt: skip
    assert [e.resource_id for e in users] == ["arn:aws:iam::123456789012:user/maria.silva"]  # root row excluded
    assert calls.count("GetCredentialReport") == 1 and calls.count("GetAccountSummary") == 1
    assert [op["operation"] for op in root.source["operations"]][-2:] == ["GetCredentialReport", "GetAccountSummary"]


def test_credential_report_that_never_completes_is_a_timeout_gap(aws, monkeypatch):
    monkeypatch.setattr(iam, "REPORT_WAITS", (0.0, 0.0))
    answer(aws, "iam", "GenerateCredentialReport", {"State": "INPROGRESS"})
    calls = calls_to(aws, "iam")
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.iam.user.credentials"), aws, "global")
    assert info.value.reason == GapReason.TIMEOUT and info.value.operation == "GenerateCredentialReport"
    assert calls == ["GenerateCredentialReport"] * 3  # bounded: the waits, then one last look


def test_denied_credential_report_is_a_denied_gap(aws):
    deny(aws, "iam", "GenerateCredentialReport", "AccessDenied")
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.iam.user.credentials"), aws, "global")
    assert info.value.reason == GapReason.DENIED


def _iam_state() -> None:
    client = boto3.client("iam")
    client.create_user(UserName="legacy-export")
    client.create_group(GroupName="ops-admins")
    client.create_role(
        RoleName="message-store-writer", Path="/service-role/", AssumeRolePolicyDocument=json.dumps(TRUST)
    )
    admin = client.create_policy(PolicyName="ops-full-admin", PolicyDocument=json.dumps(ADMIN))["Policy"]["Arn"]
    media = client.create_policy(PolicyName="chat-media-read", Path="/app/", PolicyDocument=json.dumps(MEDIA_READ))
    client.attach_group_policy(GroupName="ops-admins", PolicyArn=admin)
    client.attach_user_policy(UserName="legacy-export", PolicyArn=admin)
    client.attach_role_policy(RoleName="message-store-writer", PolicyArn=media["Policy"]["Arn"])
    client.put_role_policy(RoleName="message-store-writer", PolicyName="debug-everything",
                           PolicyDocument=json.dumps(ADMIN))  # fmt: skip


def test_admin_access_managed_and_inline_policies_in_one_paginated_call(aws):
    _iam_state()
    calls = calls_to(aws, "iam")
    found = {e.resource_id: e for e in collect_unit(get_kind("aws.iam.policy.admin_access"), aws, "global")}
    a = "arn:aws:iam::123456789012:"
    assert set(found) == {
        f"{a}policy/ops-full-admin",
        f"{a}policy/app/chat-media-read",
        f"{a}role/service-role/message-store-writer/inline-policy/debug-everything",
        "arn:aws:iam::aws:policy/AdministratorAccess",
    }
    admin = found[f"{a}policy/ops-full-admin"].observed
    assert admin["grants_full_admin"] is True and admin["attachment_count"] == 2
    assert admin["users"] == ["legacy-export"] and admin["groups"] == ["ops-admins"] and admin["roles"] == []
    media = found[f"{a}policy/app/chat-media-read"].observed
    assert media["grants_full_admin"] is False and media["roles"] == ["message-store-writer"]
    inline = found[f"{a}role/service-role/message-store-writer/inline-policy/debug-everything"]
    assert inline.resource_type == "AWS::IAM::RolePolicy" and inline.observed["grants_full_admin"] is True
    aws_admin = found["arn:aws:iam::aws:policy/AdministratorAccess"].observed
    assert aws_admin["attachment_count"] == 0 and aws_admin["users"] == aws_admin["groups"] == aws_admin["roles"] == []
    assert calls == ["GetAccountAuthorizationDetails"]  # 0 calls per policy
    assert all(e.region == "global" for e in found.values())
    (op,) = inline.source["operations"]
    assert op["operation"] == "GetAccountAuthorizationDetails" and op["params"] == {"Filter": iam.AUTH_FILTER}


def test_admin_access_reports_who_holds_aws_managed_administrator_access(monkeypatch):
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # ~1.3 s: AWS-managed policies exist only so
    with mock_aws():
        aws = AwsClients(AwsTarget(name="prod", regions=("eu-west-1",)))
        client = boto3.client("iam")
        client.create_group(GroupName="ops-admins")
        client.create_role(RoleName="break-glass", AssumeRolePolicyDocument=json.dumps(TRUST))
        client.attach_group_policy(GroupName="ops-admins", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        client.attach_role_policy(RoleName="break-glass", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
        found = {e.resource_id: e for e in collect_unit(get_kind("aws.iam.policy.admin_access"), aws, "global")}
    # Only customer-managed documents are listed (LocalManagedPolicy): ~1,300 AWS-managed ones are not.
    assert list(found) == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    observed = found["arn:aws:iam::aws:policy/AdministratorAccess"].observed
    assert observed["groups"] == ["ops-admins"] and observed["roles"] == ["break-glass"]
    assert observed["attachment_count"] == 2 and observed["grants_full_admin"] is True


def test_not_in_an_organization_is_one_account_record_not_a_gap(aws):
    (evidence,) = collect_unit(get_kind("aws.organizations.policy.region_restriction"), aws, "global")
    assert evidence.resource_id == "arn:aws:iam::123456789012:root" and evidence.resource_type == "AWS::::Account"
    assert evidence.observed["organization"] is False and evidence.observed["restricts_regions"] is False
    (op,) = evidence.source["operations"]
    assert op["operation"] == "DescribeOrganization" and op["error"] == "AWSOrganizationsNotInUseException"


def test_scps_every_page_read_once_with_their_targets(aws):
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"]["Id"]
    names = [f"guardrail-{i}" for i in range(5)]
    for name in names:
        pid = org.create_policy(Content=json.dumps(EU_ONLY), Description="EU only", Name=name,
                                Type="SERVICE_CONTROL_POLICY")["Policy"]["PolicySummary"]["Id"]  # fmt: skip
        if name == "guardrail-0":
            org.attach_policy(PolicyId=pid, TargetId=ou)

    def page_size(params, **_):
        params["MaxResults"] = 2

    client = aws.client("organizations")
    client.meta.events.register("provide-client-params.organizations.ListPolicies", page_size)
    calls = calls_to(aws, "organizations")

    found = collect_unit(get_kind("aws.organizations.policy.region_restriction"), aws, "global")

    by_name = {e.observed["policy_name"]: e for e in found}
    assert sorted(by_name) == sorted([*names, "FullAWSAccess"]) and len(found) == 6  # each policy exactly once
    assert calls.count("ListPolicies") == 3  # 6 policies, 2 a page
    assert calls.count("DescribePolicy") == 6 and calls.count("ListTargetsForPolicy") == 6
    eu = by_name["guardrail-0"]
    assert eu.resource_id.startswith("arn:aws:organizations::123456789012:policy/o-") and eu.region == "global"
    assert eu.resource_type == "AWS::Organizations::Policy"
    assert eu.observed["restricts_regions"] is True
    assert eu.observed["allowed_regions"] == ["eu-central-1", "eu-west-1"]
    assert eu.observed["exempted_actions"] == ["iam:*", "sts:*"]
    assert eu.observed["targets"] == [{"type": "ORGANIZATIONAL_UNIT", "id": ou}]
    assert by_name["guardrail-1"].observed["targets"] == []
    full = by_name["FullAWSAccess"].observed
    assert full["aws_managed"] is True and full["restricts_regions"] is False
    assert {t["type"] for t in full["targets"]} >= {"ROOT"}
    ops = [op["operation"] for op in eu.source["operations"]]
    assert ops == ["DescribeOrganization", "ListPolicies", "DescribePolicy", "ListTargetsForPolicy"]
    assert len(eu.source["operations"][1]["request_ids"]) == 3


def test_member_account_denied_listing_scps_is_a_gap(aws):
    boto3.client("organizations", region_name="us-east-1").create_organization(FeatureSet="ALL")
    deny(aws, "organizations", "ListPolicies", "AccessDeniedException")
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.organizations.policy.region_restriction"), aws, "global")
    assert info.value.reason == GapReason.DENIED and info.value.operation == "ListPolicies"


# --------------------------------------------------------------------------- sandbox seeder


def test_sandbox_seed_gives_compliant_and_non_compliant_examples(moto_endpoint, monkeypatch):
    monkeypatch.setattr(iam, "REPORT_WAITS", (0.0,) * len(iam.REPORT_WAITS))
    aws_iam.seed(moto_endpoint)
    aws = AwsClients(AwsTarget(name="prod", regions=("eu-west-1", "us-east-1"), endpoint_url=moto_endpoint))

    users = {e.observed["user_name"]: e.observed for e in collect_unit(get_kind("aws.iam.user.credentials"), aws,
                                                                       "global")}  # fmt: skip
    assert users["maria.silva"]["mfa_active"] is True and users["maria.silva"]["password_enabled"] is True
    assert users["legacy-export"]["password_enabled"] is True and users["legacy-export"]["mfa_active"] is False
    assert users["ci-deployer"]["access_key_1_active"] is True and users["ci-deployer"]["access_key_2_active"] is True

    policies = {e.observed["policy_name"]: e.observed
                for e in collect_unit(get_kind("aws.iam.policy.admin_access"), aws, "global")}  # fmt: skip
    assert policies["chat-media-read"]["grants_full_admin"] is False
    assert policies["ops-full-admin"]["grants_full_admin"] is True and policies["ops-full-admin"]["users"]
    assert policies["debug-everything"]["grants_full_admin"] is True

    scps = {e.observed["policy_name"]: e.observed
            for e in collect_unit(get_kind("aws.organizations.policy.region_restriction"), aws, "global")}  # fmt: skip
    assert scps["eu-regions-only"]["restricts_regions"] is True
    assert scps["eu-regions-only"]["allowed_regions"] == ["eu-central-1", "eu-west-1"]
    assert scps["deny-leave-organization"]["restricts_regions"] is False

    with pytest.raises(CollectionError):  # moto writes no <root_account> row: the sandbox shows a gap here
        collect_unit(get_kind("aws.iam.account.root"), aws, "global")
