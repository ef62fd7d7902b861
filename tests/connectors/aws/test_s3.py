"""S3 versioning, access logging, bucket policy, bucket ACL, bucket tags and account Block Public Access.

Golden tests feed recorded API answers to the pure observe functions; collection tests go through
real boto3 calls against moto (in-process, and the sandbox seeder against the moto server).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from moto import mock_aws

from collector.sandbox.aws import seed_base
from collector.sandbox.aws_s3 import seed
from connectors import collect_unit
from connectors.aws import s3, s3control
from connectors.aws.clients import AwsClients, AwsTarget
from connectors.base import REDACTED, CollectionError, Evidence, GapReason, canonical_json, get_kind
from ea_testkit.golden import PROVENANCE, check_golden, golden_params

ACCOUNT = "123456789012"
S3_KINDS = ("aws.s3.bucket.versioning", "aws.s3.bucket.logging", "aws.s3.bucket.policy", "aws.s3.bucket.acl",
            "aws.s3.bucket.tags")  # fmt: skip


def _bucket(case: dict) -> s3.Bucket:
    b = case["bucket"]
    return s3.Bucket(name=b["name"], region=b["region"], listing=b["listing"], operations=())


OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.s3.bucket.versioning": lambda c: s3.observe_bucket_versioning(_bucket(c), c["response"], PROVENANCE),
    "aws.s3.bucket.logging": lambda c: s3.observe_bucket_logging(_bucket(c), c["response"], PROVENANCE),
    "aws.s3.bucket.policy": lambda c: s3.observe_bucket_policy(_bucket(c), c["response"], PROVENANCE),
    "aws.s3.bucket.acl": lambda c: s3.observe_bucket_acl(_bucket(c), c["response"], PROVENANCE),
    "aws.s3.bucket.tags": lambda c: s3.observe_bucket_tags(_bucket(c), c["response"], PROVENANCE),
    "aws.s3.account.public_access_block": lambda c: s3control.observe_account_public_access_block(
        "aws", c["account_id"], c["response"], PROVENANCE
    ),
}


def _kept_in_raw(kind: str, case: dict) -> dict:
    """The part of raw that must hold the recorded answer (the policy is kept parsed, not as a string)."""
    if kind == "aws.s3.bucket.policy":
        return {"policy": json.loads(case["response"]["Policy"]) if case["response"] else {}}
    if kind == "aws.s3.bucket.tags":  # each tag's value as observed shows it: a secret-looking one redacted
        shown = case["expected"]["observed"]["tags"]
        tag_set = [{**t, "Value": shown[t["Key"]]} for t in case["response"]["TagSet"]] if case["response"] else None
        return {"tagging": {"TagSet": tag_set} if case["response"] else {}}
    section = {"aws.s3.bucket.versioning": "versioning", "aws.s3.bucket.logging": "logging", "aws.s3.bucket.acl": "acl"}
    if kind in section:
        return {section[kind]: case["response"]}
    return case["response"] or {}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    kept = _kept_in_raw(kind, case)
    assert {k: evidence.raw[k] for k in kept} == kept
    if "bucket" in case:
        assert evidence.raw["bucket"] == case["bucket"]["listing"]
    assert "fixture-only-not-a-secret" not in canonical_json({"observed": evidence.observed, "raw": evidence.raw})


# --------------------------------------------------------------------------- policy facts, rule by rule

BUCKET = s3.Bucket(name="acme-chat-media-eu", region="eu-west-1", listing={"Name": "acme-chat-media-eu"}, operations=())
ARNS = ["arn:aws:s3:::acme-chat-media-eu", "arn:aws:s3:::acme-chat-media-eu/*"]


def _policy_facts(*statements: dict) -> dict:
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    observed = s3.observe_bucket_policy(BUCKET, {"Policy": json.dumps(document)}, PROVENANCE).observed
    return {k: observed[k] for k in ("denies_insecure_transport", "allows_public_principal")}


def _deny_http(**changes) -> dict:
    statement = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ARNS,
                 "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
    return {k: v for k, v in (statement | changes).items() if v is not None}


def _allow_all(condition: dict | None = None, **changes) -> dict:
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": ARNS[1]}
    if condition is not None:
        statement["Condition"] = condition
    return statement | changes


@pytest.mark.parametrize(
    ("statement", "denies"),
    [
        pytest.param(_deny_http(), True, id="s3:* on bucket and objects"),
        pytest.param(_deny_http(Principal={"AWS": ["*"]}, Action=["*"]), True, id="AWS * principal, * action"),
        pytest.param(_deny_http(Resource="arn:aws:s3:::acme-*"), True, id="wildcard resource covering both"),
        pytest.param(_deny_http(Resource="*"), True, id="any resource"),
        pytest.param(
            _deny_http(Resource=["arn:aws-cn:s3:::acme-chat-media-eu", "arn:aws-cn:s3:::acme-chat-media-eu/*"]),
            True,
            id="other partition",
        ),
        pytest.param(_deny_http(Condition={"BoolIfExists": {"aws:securetransport": False}}), True, id="IfExists, bool"),
        pytest.param(_deny_http(Resource=ARNS[1]), False, id="objects only"),
        pytest.param(_deny_http(Resource="arn:aws:s3:::acme-chat-media-eu/exports/*"), False, id="some objects"),
        pytest.param(_deny_http(Resource="arn:aws:s3:::other-bucket/*"), False, id="another bucket"),
        pytest.param(_deny_http(Action=["s3:GetObject", "s3:PutObject"]), False, id="some actions only"),
        pytest.param(_deny_http(Principal={"AWS": "arn:aws:iam::123456789012:root"}), False, id="one principal"),
        pytest.param(_deny_http(Condition={"Bool": {"aws:SecureTransport": "true"}}), False, id="denies HTTPS"),
        pytest.param(_deny_http(Condition=None), False, id="no condition"),
        pytest.param(
            _deny_http(
                Condition={"Bool": {"aws:SecureTransport": "false"}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
            ),
            False,
            id="narrowed by a second condition",
        ),
        pytest.param(_deny_http(Effect="Allow"), False, id="an Allow"),
    ],
)
def test_denies_insecure_transport(statement, denies):
    assert _policy_facts(statement)["denies_insecure_transport"] is denies


@pytest.mark.parametrize(
    ("statement", "public"),
    [
        pytest.param(_allow_all(), True, id="Principal *"),
        pytest.param(_allow_all(Principal={"AWS": "*"}), True, id="AWS *"),
        pytest.param(_allow_all(Principal={"AWS": ["arn:aws:iam::210987654321:root", "*"]}), True, id="* among others"),
        pytest.param(_allow_all({"StringEquals": {"aws:Referer": "https://acme.example"}}), True, id="referer"),
        pytest.param(_allow_all({"Bool": {"aws:SecureTransport": "true"}}), True, id="HTTPS only is still everyone"),
        pytest.param(_allow_all({"IpAddress": {"aws:SourceIp": ["0.0.0.0/0"]}}), True, id="any IPv4 address"),
        pytest.param(_allow_all({"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), True, id="negated"),
        pytest.param(_allow_all({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), True, id="IfExists"),
        pytest.param(_allow_all({"StringLike": {"aws:PrincipalOrgID": "o-*"}}), True, id="wildcard value"),
        pytest.param(_allow_all({"StringEquals": {"aws:userid": "${aws:userid}"}}), True, id="policy variable"),
        pytest.param(
            _allow_all(NotPrincipal={"AWS": "arn:aws:iam::123456789012:root"}, Principal=None), True, id="NotPrincipal"
        ),
        pytest.param(_allow_all({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}), False, id="VPC endpoint"),
        pytest.param(_allow_all({"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}), False, id="fixed CIDR"),
        pytest.param(_allow_all({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}), False, id="organization"),
        pytest.param(
            _allow_all({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1/r-b2/ou-c3/"}}),
            False,
            id="organization path",
        ),
        pytest.param(_allow_all({"StringEquals": {"AWS:SourceAccount": "123456789012"}}), False, id="key any case"),
        pytest.param(
            _allow_all({"ArnLike": {"aws:SourceArn": "arn:aws:cloudfront::123456789012:distribution/E1"}}),
            False,
            id="source ARN",
        ),
        pytest.param(_allow_all(Principal={"Service": "logging.s3.amazonaws.com"}), False, id="service principal"),
        pytest.param(_allow_all(Effect="Deny"), False, id="a Deny"),
    ],
)
def test_allows_public_principal(statement, public):
    if statement.get("Principal") is None:
        statement.pop("Principal", None)
    assert _policy_facts(statement)["allows_public_principal"] is public


def test_malformed_policy_fails_loudly():
    with pytest.raises(json.JSONDecodeError):
        s3.observe_bucket_policy(BUCKET, {"Policy": "{not json"}, PROVENANCE)
    with pytest.raises(KeyError):
        s3.observe_bucket_policy(BUCKET, {"Policy": json.dumps({"Version": "2012-10-17"})}, PROVENANCE)


# --------------------------------------------------------------------------- collection against moto


@pytest.fixture
def aws():
    with mock_aws():
        yield AwsClients(AwsTarget(name="prod", regions=("eu-west-1",)))


def make_bucket(name: str, region: str):
    client = boto3.client("s3", region_name=region)
    if region == "us-east-1":
        client.create_bucket(Bucket=name)
    else:
        client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return client


def collect(kind: str, aws: AwsClients) -> dict[str, Evidence]:
    return {e.resource_id.removeprefix("arn:aws:s3:::"): e for e in collect_unit(get_kind(kind), aws, "global")}


def operations(evidence: Evidence) -> list[str]:
    return [op["operation"] for op in evidence.source["operations"]]


PLANTED_TAG = "planted-tag-value-5e17c0"  # an API key someone put in a tag


def test_versioning_of_every_bucket_in_its_own_region(aws):
    make_bucket("acme-chat-media-eu", "eu-west-1").put_bucket_versioning(
        Bucket="acme-chat-media-eu", VersioningConfiguration={"Status": "Enabled"}
    )
    us = make_bucket("acme-legacy-exports", "us-east-1")
    us.put_bucket_versioning(Bucket="acme-legacy-exports", VersioningConfiguration={"Status": "Enabled"})
    us.put_bucket_versioning(Bucket="acme-legacy-exports", VersioningConfiguration={"Status": "Suspended"})
    make_bucket("acme-web-assets", "eu-central-1")
    found = collect("aws.s3.bucket.versioning", aws)
    assert {n: e.observed for n, e in found.items()} == {
        "acme-chat-media-eu": {"enabled": True, "status": "Enabled", "mfa_delete": False},
        "acme-legacy-exports": {"enabled": False, "status": "Suspended", "mfa_delete": False},
        "acme-web-assets": {"enabled": False, "status": None, "mfa_delete": False},
    }
    assert {n: e.region for n, e in found.items()} == {
        "acme-chat-media-eu": "eu-west-1", "acme-legacy-exports": "us-east-1", "acme-web-assets": "eu-central-1"
    }  # fmt: skip
    evidence = found["acme-web-assets"]
    assert evidence.resource_id == "arn:aws:s3:::acme-web-assets" and evidence.resource_type == "AWS::S3::Bucket"
    assert operations(evidence) == ["ListBuckets", "GetBucketLocation", "GetBucketVersioning"]
    last = evidence.source["operations"][-1]
    assert last["params"] == {"Bucket": "acme-web-assets"} and last["request_id"] and "error" not in last
    assert evidence.raw["versioning"] == {}


def test_access_logging_target_and_prefix(aws):
    eu = make_bucket("acme-audit-logs-eu", "eu-west-1")
    make_bucket("acme-chat-media-eu", "eu-west-1")
    make_bucket("acme-legacy-exports", "us-east-1")
    owner = eu.get_bucket_acl(Bucket="acme-audit-logs-eu")["Owner"]["ID"]
    log_delivery = 'uri="http://acs.amazonaws.com/groups/s3/LogDelivery"'
    eu.put_bucket_acl(
        Bucket="acme-audit-logs-eu",
        GrantWrite=log_delivery,
        GrantReadACP=log_delivery,
        GrantFullControl=f'id="{owner}"',
    )
    eu.put_bucket_logging(
        Bucket="acme-chat-media-eu",
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": "acme-audit-logs-eu", "TargetPrefix": "s3/media/"}},
    )
    found = collect("aws.s3.bucket.logging", aws)
    assert found["acme-chat-media-eu"].observed == {
        "enabled": True, "target_bucket": "acme-audit-logs-eu", "target_prefix": "s3/media/"
    }  # fmt: skip
    assert found["acme-legacy-exports"].observed == {"enabled": False, "target_bucket": None, "target_prefix": None}
    assert found["acme-legacy-exports"].region == "us-east-1"
    assert operations(found["acme-chat-media-eu"]) == ["ListBuckets", "GetBucketLocation", "GetBucketLogging"]


def test_bucket_policy_facts_and_absent_policy(aws):
    eu = make_bucket("acme-chat-media-eu", "eu-west-1")
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": [
            "arn:aws:s3:::acme-chat-media-eu", "arn:aws:s3:::acme-chat-media-eu/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}  # fmt: skip
    eu.put_bucket_policy(Bucket="acme-chat-media-eu", Policy=json.dumps(document))
    make_bucket("acme-web-assets", "eu-central-1").put_bucket_policy(
        Bucket="acme-web-assets",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::acme-web-assets/*",
                    }
                ],
            }
        ),
    )
    make_bucket("acme-legacy-exports", "us-east-1")
    found = collect("aws.s3.bucket.policy", aws)
    assert found["acme-chat-media-eu"].observed == {
        "present": True, "denies_insecure_transport": True, "allows_public_principal": False, "statement_count": 1
    }  # fmt: skip
    assert found["acme-chat-media-eu"].raw["policy"] == document
    assert found["acme-web-assets"].observed == {
        "present": True, "denies_insecure_transport": False, "allows_public_principal": True, "statement_count": 1
    }  # fmt: skip
    absent = found["acme-legacy-exports"]
    assert absent.observed == {
        "present": False, "denies_insecure_transport": False, "allows_public_principal": False, "statement_count": 0
    }  # fmt: skip
    assert operations(absent) == ["ListBuckets", "GetBucketLocation", "GetBucketPolicy"]
    last = absent.source["operations"][-1]
    assert last["error"] == "NoSuchBucketPolicy" and last["request_id"]


def test_bucket_acl_public_grants(aws):
    make_bucket("acme-chat-media-eu", "eu-west-1")
    make_bucket("acme-legacy-exports", "us-east-1").put_bucket_acl(Bucket="acme-legacy-exports", ACL="public-read")
    make_bucket("acme-partner-drop", "us-east-1").put_bucket_acl(Bucket="acme-partner-drop", ACL="authenticated-read")
    found = collect("aws.s3.bucket.acl", aws)
    owner = found["acme-chat-media-eu"].observed["owner_id"]
    assert len(owner) == 64
    assert {n: e.observed for n, e in found.items()} == {
        "acme-chat-media-eu": {"owner_id": owner, "all_users_permissions": [], "authenticated_users_permissions": []},
        "acme-legacy-exports": {"owner_id": owner, "all_users_permissions": ["READ"],
                                "authenticated_users_permissions": []},
        "acme-partner-drop": {"owner_id": owner, "all_users_permissions": [],
                              "authenticated_users_permissions": ["READ"]},
    }  # fmt: skip
    assert operations(found["acme-legacy-exports"]) == ["ListBuckets", "GetBucketLocation", "GetBucketAcl"]
    assert found["acme-legacy-exports"].raw["acl"]["Owner"]["DisplayName"]  # display names stay in raw only


def test_bucket_tags_in_each_buckets_own_region(aws):
    make_bucket("acme-chat-media-eu", "eu-west-1").put_bucket_tagging(
        Bucket="acme-chat-media-eu",
        Tagging={
            "TagSet": [
                {"Key": "owner", "Value": "chat-platform-team"},
                {"Key": "data-classification", "Value": "confidential"},
            ]
        },
    )
    make_bucket("acme-legacy-exports", "us-east-1")
    make_bucket("acme-web-assets", "eu-central-1").put_bucket_tagging(Bucket="acme-web-assets", Tagging={"TagSet": [
        {"Key": "Owner", "Value": "web-team"}, {"Key": "cdn-api-key", "Value": PLANTED_TAG}]})  # fmt: skip
    asked: list[tuple[str, str]] = []
    for region in ("eu-west-1", "us-east-1", "eu-central-1"):
        aws.client("s3", region).meta.events.register(
            "before-parameter-build.s3.GetBucketTagging",
            lambda params, region=region, **_: asked.append((region, params["Bucket"])),
        )

    found = collect("aws.s3.bucket.tags", aws)

    assert {n: e.observed for n, e in found.items()} == {
        "acme-chat-media-eu": {"tags": {"data-classification": "confidential", "owner": "chat-platform-team"}},
        "acme-legacy-exports": {"tags": {}},
        "acme-web-assets": {"tags": {"Owner": "web-team", "cdn-api-key": REDACTED}},
    }
    assert sorted(asked) == [("eu-central-1", "acme-web-assets"), ("eu-west-1", "acme-chat-media-eu"),
                             ("us-east-1", "acme-legacy-exports")], "each bucket asked in its own region"  # fmt: skip
    assert {n: e.region for n, e in found.items()} == {
        "acme-chat-media-eu": "eu-west-1", "acme-legacy-exports": "us-east-1", "acme-web-assets": "eu-central-1"
    }  # fmt: skip
    untagged = found["acme-legacy-exports"]
    assert operations(untagged) == ["ListBuckets", "GetBucketLocation", "GetBucketTagging"]
    assert untagged.source["operations"][-1]["error"] == "NoSuchTagSet", "no tags is a fact, not a gap"
    assert untagged.raw["tagging"] == {}
    secret = found["acme-web-assets"]
    assert secret.resource_id == "arn:aws:s3:::acme-web-assets" and secret.resource_type == "AWS::S3::Bucket"
    assert secret.raw["tagging"]["TagSet"] == [{"Key": "Owner", "Value": "web-team"},
                                               {"Key": "cdn-api-key", "Value": REDACTED}]  # fmt: skip
    assert PLANTED_TAG not in canonical_json({"observed": secret.observed, "raw": secret.raw, "source": secret.source})


def test_account_public_access_block_absent_then_configured(aws):
    (evidence,) = collect_unit(get_kind("aws.s3.account.public_access_block"), aws, "global")
    assert evidence.observed == {
        "configured": False, "block_public_acls": False, "ignore_public_acls": False,
        "block_public_policy": False, "restrict_public_buckets": False,
    }  # fmt: skip
    assert (evidence.resource_id, evidence.resource_type, evidence.region) == (
        f"arn:aws:iam::{ACCOUNT}:root",
        "AWS::::Account",
        "global",
    )
    (op,) = evidence.source["operations"]
    assert op["operation"] == "GetPublicAccessBlock" and op["params"] == {"AccountId": ACCOUNT}
    assert op["error"] == "NoSuchPublicAccessBlockConfiguration"
    assert evidence.source["service"] == "s3control"

    boto3.client("s3control", region_name="us-east-1").put_public_access_block(
        AccountId=ACCOUNT,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False,
        },
    )
    (evidence,) = collect_unit(get_kind("aws.s3.account.public_access_block"), AwsClients(aws.target), "global")
    assert evidence.observed == {
        "configured": True, "block_public_acls": True, "ignore_public_acls": True,
        "block_public_policy": False, "restrict_public_buckets": False,
    }  # fmt: skip
    assert "error" not in evidence.source["operations"][0]


def test_s3_kinds_share_one_listing_and_ask_each_bucket_once(aws):
    make_bucket("acme-chat-media-eu", "eu-west-1")
    make_bucket("acme-legacy-exports", "us-east-1")
    calls: list[str] = []
    for region in ("eu-west-1", "us-east-1"):
        aws.client("s3", region).meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    for kind in S3_KINDS:
        assert len(collect_unit(get_kind(kind), aws, "global")) == 2
    assert calls.count("ListBuckets") == 1 and calls.count("GetBucketLocation") == 2
    for operation in ("GetBucketVersioning", "GetBucketLogging", "GetBucketPolicy", "GetBucketAcl", "GetBucketTagging"):
        assert calls.count(operation) == 2, operation


def test_bucket_listing_reads_every_page_once(aws):
    """moto truncates ListBuckets at MaxBuckets but never returns a ContinuationToken, so the pages are
    answered as S3 answers them (from moto's own bucket list) and parsed by the real botocore parser."""
    names = [f"acme-shard-{i:02d}" for i in range(5)]
    for name in names:
        make_bucket(name, "eu-west-1")
    listed = boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]
    tokens: list[str | None] = []

    def page(request, **_):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
        token = query.get("continuation-token", [None])[0]
        tokens.append(token)
        start = int(token or 0)
        chunk = listed[start : start + 2]
        more = f"<ContinuationToken>{start + 2}</ContinuationToken>" if start + 2 < len(listed) else ""
        body = (
            '<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>bcaf1ffd86f4</ID>'
            "</Owner><Buckets>"
            + "".join(
                f"<Bucket><Name>{b['Name']}</Name><CreationDate>2026-11-27T20:07:37.000Z</CreationDate></Bucket>"
                for b in chunk
            )
            + f"</Buckets>{more}</ListAllMyBucketsResult>"
        )
        return AWSResponse(request.url, 200, {"x-amz-request-id": f"page-{start}"}, _Body(body.encode()))

    aws.client("s3").meta.events.register("before-send.s3.ListBuckets", page)
    found = collect_unit(get_kind("aws.s3.bucket.versioning"), aws, "global")
    assert sorted(e.resource_id for e in found) == [f"arn:aws:s3:::{n}" for n in names]
    assert len(found) == len(names)
    assert tokens == [None, "2", "4"]
    listing = found[0].source["operations"][0]
    assert listing["operation"] == "ListBuckets" and listing["request_ids"] == ["page-0", "page-2", "page-4"]


class _Body:
    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_):
        yield self._data


def test_could_not_look_is_a_typed_error_not_an_empty_result(aws):
    make_bucket("acme-chat-media-eu", "eu-west-1")

    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetBucketPolicy")

    aws.client("s3", "eu-west-1").meta.events.register("before-call.s3.GetBucketPolicy", deny)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.s3.bucket.policy"), aws, "global")
    assert info.value.reason == GapReason.DENIED and info.value.operation == "GetBucketPolicy"


def test_kinds_declare_the_permissions_they_use():
    listing = {"s3:ListAllMyBuckets", "s3:GetBucketLocation"}
    expected = {
        "aws.s3.bucket.versioning": listing | {"s3:GetBucketVersioning"},
        "aws.s3.bucket.logging": listing | {"s3:GetBucketLogging"},
        "aws.s3.bucket.policy": listing | {"s3:GetBucketPolicy"},
        "aws.s3.bucket.acl": listing | {"s3:GetBucketAcl"},
        "aws.s3.bucket.tags": listing | {"s3:GetBucketTagging"},
        "aws.s3.account.public_access_block": {"s3:GetAccountPublicAccessBlock"},
    }
    for kind, permissions in expected.items():
        spec = get_kind(kind)
        assert set(spec.permissions) == permissions and not spec.regional, kind


# --------------------------------------------------------------------------- sandbox seeder (moto server)


def test_sandbox_seed_shows_good_and_bad_examples(moto_endpoint):
    seed_base(moto_endpoint)
    seed(moto_endpoint)
    aws = AwsClients(AwsTarget(name="prod", regions=("eu-west-1", "us-east-1"), endpoint_url=moto_endpoint))
    try:
        versioning = collect("aws.s3.bucket.versioning", aws)
        logging_ = collect("aws.s3.bucket.logging", aws)
        policy = collect("aws.s3.bucket.policy", aws)
        acl = collect("aws.s3.bucket.acl", aws)
        tags = collect("aws.s3.bucket.tags", aws)
        (account,) = collect_unit(get_kind("aws.s3.account.public_access_block"), aws, "global")
    finally:
        aws.close()
    assert versioning["acme-chat-media-eu"].observed["enabled"] is True
    assert versioning["acme-legacy-exports"].observed["status"] == "Suspended"
    assert versioning["acme-web-assets"].observed["status"] is None
    assert versioning["acme-web-assets"].region == "eu-central-1"
    assert logging_["acme-chat-media-eu"].observed == {
        "enabled": True, "target_bucket": "acme-audit-logs-eu", "target_prefix": "s3-access/acme-chat-media-eu/"
    }  # fmt: skip
    assert logging_["acme-legacy-exports"].observed["enabled"] is False
    assert policy["acme-chat-media-eu"].observed["denies_insecure_transport"] is True
    assert policy["acme-audit-logs-eu"].observed["denies_insecure_transport"] is True
    assert policy["acme-web-assets"].observed["allows_public_principal"] is True
    assert policy["acme-legacy-exports"].observed["present"] is False
    assert acl["acme-legacy-exports"].observed["all_users_permissions"] == ["READ"]
    assert acl["acme-chat-media-eu"].observed["all_users_permissions"] == []
    assert account.observed == {
        "configured": True, "block_public_acls": True, "ignore_public_acls": False,
        "block_public_policy": True, "restrict_public_buckets": False,
    }  # fmt: skip
    assert tags["acme-chat-media-eu"].observed == {
        "tags": {"data-classification": "confidential", "owner": "chat-platform-team"}
    }
    assert tags["acme-audit-logs-eu"].observed == {
        "tags": {"data-classification": "internal", "owner": "security-team"}
    }
    assert tags["acme-web-assets"].observed == {"tags": {"Classification": "public", "Owner": "web-team"}}
    assert tags["acme-legacy-exports"].observed == {"tags": {}}
