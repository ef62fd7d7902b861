"""From a configured target to units: enabled regions, skipped regions, organization accounts."""

from __future__ import annotations

import boto3
import pytest
import sqlalchemy as sa
from moto import mock_aws
from sqlalchemy.orm import Session

from collector.config import Config
from collector.run import collect
from collector.store.engine import make_engine, upgrade
from collector.store.models import Gap, RunUnit
from collector.store.query import EvidenceFilter, evidence
from connectors.aws import AwsClients, AwsOrganization, AwsTarget, units
from connectors.base import KindSpec, registered_kinds

REGIONAL = KindSpec("aws.test.thing.setting", "aws", True, ("ec2:DescribeThings",), lambda aws, scope: iter(()), "")
GLOBAL_KIND = KindSpec("aws.test.account.setting", "aws", False, ("iam:GetThing",), lambda aws, scope: iter(()), "")


@pytest.fixture
def aws_mock():
    with mock_aws():
        yield


def test_configured_region_not_enabled_is_skipped_not_failed(aws_mock):
    clients = AwsClients(AwsTarget(name="prod", regions=("eu-west-1", "ap-east-1")))
    plans = {p.scope: p for p in units(clients, REGIONAL)}
    assert set(plans) == {"eu-west-1", "ap-east-1"}
    assert plans["eu-west-1"].skip is None and plans["eu-west-1"].argument == "eu-west-1"
    assert plans["ap-east-1"].skip == "region ap-east-1 is not enabled for account 123456789012"
    assert all(p.error is None for p in plans.values())


def test_all_enabled_plans_every_enabled_region_once(aws_mock):
    clients = AwsClients(AwsTarget(name="prod", regions=None))
    described = boto3.client("ec2", region_name="us-east-1").describe_regions(AllRegions=True)["Regions"]
    regions = {r["RegionName"]: r["OptInStatus"] for r in described}
    enabled = {name for name, status in regions.items() if status != "not-opted-in"}
    plans = units(clients, REGIONAL)
    assert sorted(p.scope for p in plans) == sorted(enabled)
    assert "ap-east-1" not in enabled and all(p.skip is None for p in plans)
    assert [p.scope for p in units(clients, GLOBAL_KIND)] == ["global"]


def test_region_lookup_denied_with_all_enabled_is_a_planning_gap(aws_mock):
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-call.ec2.DescribeRegions", _raise_denied)
    clients = AwsClients(AwsTarget(name="prod", regions=None), session=session)
    (plan,) = units(clients, REGIONAL)
    assert plan.scope == "all-enabled" and plan.error is not None and plan.error.reason == "denied"


def test_region_lookup_denied_with_configured_regions_still_collects_them(aws_mock):
    session = boto3.Session(region_name="us-east-1")
    session.events.register("before-call.ec2.DescribeRegions", _raise_denied)
    clients = AwsClients(AwsTarget(name="prod", regions=("eu-west-1",)), session=session)
    (plan,) = units(clients, REGIONAL)
    assert (plan.scope, plan.skip, plan.error) == ("eu-west-1", None, None)


def _raise_denied(**_):
    from botocore.exceptions import ClientError

    raise ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "denied"}}, "DescribeRegions")


def test_organization_mode_collects_each_account_and_isolates_a_role_that_cannot_be_assumed(aws_mock, tmp_path):
    org = boto3.client("organizations", region_name="us-east-1")
    org.create_organization(FeatureSet="ALL")
    good, bad = (org.create_account(AccountName=n, Email=f"{n}@acme.example")["CreateAccountStatus"]["AccountId"]
                 for n in ("chat-prod", "chat-legacy"))  # fmt: skip
    for account in (good, "123456789012"):
        creds = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/EvidenceReader", RoleSessionName="seed")["Credentials"]  # fmt: skip
        boto3.client("s3", region_name="us-east-1", aws_access_key_id=creds["AccessKeyId"],
                     aws_secret_access_key=creds["SecretAccessKey"],
                     aws_session_token=creds["SessionToken"]).create_bucket(Bucket=f"bucket-{account}")  # fmt: skip

    management = boto3.Session(region_name="us-east-1")

    def deny_bad_role(params, **_):
        if f":{bad}:role/" in params["body"].get("RoleArn", ""):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to assume"}}, "AssumeRole")

    management.events.register("before-call.sts.AssumeRole", deny_bad_role)
    cfg = Config.model_validate({
        "database_url": f"sqlite:///{tmp_path / 'e.db'}",
        "targets": [{"name": "org", "provider": "aws", "regions": ["us-east-1"], "kinds": ["aws.s3.*"],
                     "organization": {"role_name": "EvidenceReader"}}],
    })  # fmt: skip
    engine = make_engine(cfg.database_url)
    upgrade(engine)

    def open_org(target):
        return AwsOrganization(AwsClients(target.connector_target(), session=management), "EvidenceReader")

    result = collect(cfg, engine, open_target=open_org)
    assert result.status == "partial"
    with Session(engine) as s:
        gaps = s.execute(sa.select(Gap.scope, Gap.reason, Gap.operation)).all()
        collected = {u.scope for u in s.execute(sa.select(RunUnit).where(RunUnit.status == "collected")).scalars()}
    s3_kinds = [k for k in registered_kinds("aws") if k.name.startswith("aws.s3.")]
    assert sorted(gaps) == [(f"{bad}/global", "denied", "AssumeRole")] * len(s3_kinds)
    assert collected == {f"{good}/global", "123456789012/global"}
    buckets = {r["resource_id"] for r in evidence(engine, EvidenceFilter(kind="aws.s3.bucket.encryption"))}
    assert buckets == {f"arn:aws:s3:::bucket-{good}", "arn:aws:s3:::bucket-123456789012"}


def test_organization_kinds_are_read_once_from_the_management_account(aws_mock):
    boto3.client("organizations", region_name="us-east-1").create_organization(FeatureSet="ALL")
    org = AwsOrganization(AwsClients(AwsTarget(name="org", regions=("us-east-1",))), "EvidenceReader")
    scp_kind = KindSpec("aws.organizations.policy.example", "aws", False, ("organizations:ListPolicies",),
                        lambda aws, scope: iter(()), "")  # fmt: skip
    (plan,) = units(org, scp_kind)
    assert plan.scope == "123456789012/global" and plan.context is org.management
