"""Audit logging and monitoring kinds: CloudTrail, CloudWatch Logs, AWS Config, GuardDuty.

Golden tests feed recorded answers to the pure `observe_*` functions; collection tests go through
real boto3 calls against moto (in-process), and the sandbox seeder is collected through a moto server.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import boto3
import botocore.exceptions
import pytest
from moto import mock_aws

from collector.sandbox import aws_logging
from connectors import collect_unit
from connectors.aws import AwsClients, AwsTarget, cloudtrail, configservice, guardduty, logs
from connectors.base import CollectionError, Evidence, GapReason, get_kind
from ea_testkit.golden import PROVENANCE, check_golden, check_raw_keeps, golden_params, load_cases
from ea_testkit.iam_actions import iam_action

ACCOUNT = "123456789012"

OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.cloudtrail.trail.configuration": lambda c: cloudtrail.observe_trail_configuration(
        c["trail"], c["status"], c["selectors"], PROVENANCE
    ),
    "aws.cloudtrail.account.trails": lambda c: cloudtrail.observe_account_trails(
        "aws", c["account_id"], c["trails"], c["statuses"], PROVENANCE
    ),
    "aws.logs.log_group.settings": lambda c: logs.observe_log_group(c["group"], PROVENANCE),
    "aws.logs.log_group.data_protection": lambda c: logs.observe_log_group_data_protection(
        c["group"], c["policy"], c["account_policies"], PROVENANCE
    ),
    "aws.config.recorder.status": lambda c: configservice.observe_recorder_status(
        "aws", c["account_id"], c["region"], c["recorders"], c["statuses"], PROVENANCE
    ),
    "aws.guardduty.detector.status": lambda c: guardduty.observe_detector_status(
        "aws", c["account_id"], c["region"], c["detector_id"], c["detector"], PROVENANCE
    ),
}
# The recorded inputs each kind keeps in raw (the API answers the observation came from).
RAW_INPUTS = {
    "aws.cloudtrail.trail.configuration": ("trail", "status", "selectors"),
    "aws.cloudtrail.account.trails": ("trails", "statuses"),
    "aws.logs.log_group.settings": ("group",),
    "aws.logs.log_group.data_protection": ("group", "policy", "account_policies"),
    "aws.config.recorder.status": ("recorders", "statuses"),
    "aws.guardduty.detector.status": ("detector",),
}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    check_raw_keeps(evidence, case, RAW_INPUTS[kind])


def test_volatile_fields_stay_out_of_observed():
    """Delivery times, sizes and Config's last status change by themselves: they must not open a new state."""
    case = next(c for c in load_cases("aws.config.recorder.status") if c["statuses"]["ConfigurationRecordersStatus"])
    base = OBSERVERS["aws.config.recorder.status"](case)
    later = json.loads(json.dumps(case))
    later["statuses"]["ConfigurationRecordersStatus"][0].update(
        lastStatus="SUCCESS", lastStatusChangeTime="2030-01-01T00:00:00Z"
    )
    assert OBSERVERS["aws.config.recorder.status"](later).state_sha() == base.state_sha()

    group = load_cases("aws.logs.log_group.settings")[0]
    grown = json.loads(json.dumps(group))
    grown["group"]["storedBytes"] = 10**12
    grown["group"]["metricFilterCount"] = 7
    assert (
        logs.observe_log_group(grown["group"], PROVENANCE).state_sha()
        == logs.observe_log_group(group["group"], PROVENANCE).state_sha()
    )

    protected = load_cases("aws.logs.log_group.data_protection")[0]
    rewritten = json.loads(json.dumps(protected))
    rewritten["policy"]["lastUpdatedTime"] += 86_400_000  # the same policy put again a day later
    rewritten["group"]["storedBytes"] = 10**9
    assert (
        OBSERVERS["aws.logs.log_group.data_protection"](rewritten).state_sha()
        == OBSERVERS["aws.logs.log_group.data_protection"](protected).state_sha()
    )

    trail = load_cases("aws.cloudtrail.trail.configuration")[0]
    delivered = json.loads(json.dumps(trail))
    delivered["status"]["LatestDeliveryTime"] = "2030-01-01T00:00:00Z"
    assert (
        OBSERVERS["aws.cloudtrail.trail.configuration"](delivered).state_sha()
        == OBSERVERS["aws.cloudtrail.trail.configuration"](trail).state_sha()
    )


# --------------------------------------------------------------------------- collection against moto


@pytest.fixture
def aws():
    with mock_aws():
        yield AwsClients(AwsTarget(name="prod", regions=("eu-west-1", "us-east-1")))


def _bucket(name: str, region: str) -> None:
    s3 = boto3.client("s3", region_name=region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _calls(aws: AwsClients, service: str, regions: tuple[str, ...]) -> list[tuple[str, str]]:
    """Record (region, operation) of every call the run's clients of `service` make from now on."""
    seen: list[tuple[str, str]] = []
    for region in regions:
        hook = aws.client(service, region).meta.events
        hook.register(f"before-call.{service}", lambda model, region=region, **_: seen.append((region, model.name)))
    return seen


@pytest.fixture
def trails():
    """A multi-region trail done right (eu-west-1), a stopped single-region trail (us-east-1), a stopped
    multi-region trail homed outside the configured regions (ap-south-1) and a single-region trail there."""
    _bucket("acme-audit-trail-eu", "eu-west-1")
    _bucket("acme-legacy-trail", "us-east-1")
    _bucket("acme-trail-ap", "ap-south-1")
    key = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    group = "/aws/cloudtrail/acme-audit"
    boto3.client("logs", region_name="eu-west-1").create_log_group(logGroupName=group)
    role = boto3.client("iam").create_role(RoleName="ct", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    eu = boto3.client("cloudtrail", region_name="eu-west-1")
    eu.create_trail(
        Name="acme-audit",
        S3BucketName="acme-audit-trail-eu",
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{group}:*",
        CloudWatchLogsRoleArn=role,
    )
    eu.put_event_selectors(
        TrailName="acme-audit",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::acme-message-store/"]}],
            }
        ],
    )
    eu.start_logging(Name="acme-audit")
    boto3.client("cloudtrail", region_name="us-east-1").create_trail(Name="legacy", S3BucketName="acme-legacy-trail")
    ap = boto3.client("cloudtrail", region_name="ap-south-1")
    ap.create_trail(Name="ap-everywhere", S3BucketName="acme-trail-ap", IsMultiRegionTrail=True)
    ap.create_trail(Name="ap-local", S3BucketName="acme-trail-ap")
    return {"key": key}


AUDIT_ARN = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/acme-audit"
LEGACY_ARN = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/legacy"
AP_ARN = f"arn:aws:cloudtrail:ap-south-1:{ACCOUNT}:trail/ap-everywhere"


def test_trail_configuration_reads_every_trail_logging_a_configured_region(aws, trails):
    calls = _calls(aws, "cloudtrail", ("eu-west-1", "us-east-1", "ap-south-1"))
    found = {e.resource_id: e for e in collect_unit(get_kind("aws.cloudtrail.trail.configuration"), aws, "global")}
    # ap-local logs only ap-south-1, which is not configured: not listed by DescribeTrails in eu-west-1/us-east-1.
    assert set(found) == {AUDIT_ARN, LEGACY_ARN, AP_ARN}
    assert {arn: e.region for arn, e in found.items()} == {
        AUDIT_ARN: "eu-west-1",
        LEGACY_ARN: "us-east-1",
        AP_ARN: "ap-south-1",
    }
    assert all(e.resource_type == "AWS::CloudTrail::Trail" for e in found.values())
    assert found[AUDIT_ARN].observed == {
        "multi_region": True,
        "organization_trail": False,
        "include_global_service_events": True,
        "is_logging": True,
        "log_file_validation": True,
        "kms_key_id": trails["key"],
        "s3_bucket": "acme-audit-trail-eu",
        "cloudwatch_log_group_arn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/cloudtrail/acme-audit",
        "advanced_event_selectors": False,
        "management_events": "All",
        "data_events": True,
    }
    legacy = found[LEGACY_ARN].observed
    assert (legacy["multi_region"], legacy["is_logging"], legacy["log_file_validation"], legacy["kms_key_id"]) == (
        False,
        False,
        False,
        None,
    )
    assert found[AP_ARN].observed["multi_region"] is True and found[AP_ARN].observed["is_logging"] is False

    # The multi-region trail was listed by both regions (its shadow in us-east-1); status and selectors
    # were read once per trail, in the trail's home region.
    ops = found[AUDIT_ARN].source["operations"]
    assert [(op["operation"], op.get("region")) for op in ops] == [
        ("DescribeTrails", "eu-west-1"),
        ("DescribeTrails", "us-east-1"),
        ("GetTrailStatus", None),
        ("GetEventSelectors", None),
    ]
    assert all(op["request_id"] for op in ops)
    assert ops[2]["params"] == {"Name": AUDIT_ARN} and ops[3]["params"] == {"TrailName": AUDIT_ARN}
    assert sorted(c for c in calls if c[1] != "DescribeTrails") == [
        ("ap-south-1", "GetEventSelectors"),
        ("ap-south-1", "GetTrailStatus"),
        ("eu-west-1", "GetEventSelectors"),
        ("eu-west-1", "GetTrailStatus"),
        ("us-east-1", "GetEventSelectors"),
        ("us-east-1", "GetTrailStatus"),
    ]
    assert sorted(c for c in calls if c[1] == "DescribeTrails") == [
        ("eu-west-1", "DescribeTrails"),
        ("us-east-1", "DescribeTrails"),
    ]
    raw = found[AUDIT_ARN].raw
    assert raw["trail"]["TrailARN"] == AUDIT_ARN and raw["status"]["IsLogging"] is True
    assert raw["event_selectors"]["EventSelectors"][0]["DataResources"]


def test_account_trails_summarises_and_shares_the_listing(aws, trails):
    calls = _calls(aws, "cloudtrail", ("eu-west-1", "us-east-1", "ap-south-1"))
    collect_unit(get_kind("aws.cloudtrail.trail.configuration"), aws, "global")
    (summary,) = collect_unit(get_kind("aws.cloudtrail.account.trails"), aws, "global")
    assert summary.resource_id == f"arn:aws:iam::{ACCOUNT}:root"
    assert summary.resource_type == "AWS::::Account" and summary.region == "global"
    assert summary.observed == {
        "trail_count": 3,
        "multi_region_logging_count": 1,  # acme-audit logs; ap-everywhere was never started
        "trail_arns": sorted([AUDIT_ARN, LEGACY_ARN, AP_ARN]),
    }
    names = [op["operation"] for op in summary.source["operations"]]
    assert names == ["DescribeTrails", "DescribeTrails", "GetTrailStatus", "GetTrailStatus"]
    # One listing per region and one status per trail for both kinds together.
    assert len([c for c in calls if c[1] == "DescribeTrails"]) == 2
    assert len([c for c in calls if c[1] == "GetTrailStatus"]) == 3


def test_account_without_trails_is_one_record_saying_so(aws):
    (summary,) = collect_unit(get_kind("aws.cloudtrail.account.trails"), aws, "global")
    assert summary.observed == {"trail_count": 0, "multi_region_logging_count": 0, "trail_arns": []}
    assert [op["operation"] for op in summary.source["operations"]] == ["DescribeTrails", "DescribeTrails"]
    assert collect_unit(get_kind("aws.cloudtrail.trail.configuration"), aws, "global") == []


def test_log_groups_of_the_unit_region(aws):
    key = boto3.client("kms", region_name="eu-west-1").create_key()["KeyMetadata"]["Arn"]
    eu = boto3.client("logs", region_name="eu-west-1")
    eu.create_log_group(logGroupName="/acme/chat-media/api", kmsKeyId=key)
    eu.put_retention_policy(logGroupName="/acme/chat-media/api", retentionInDays=90)
    eu.create_log_group(logGroupName="/acme/message-store/queries")
    boto3.client("logs", region_name="us-east-1").create_log_group(logGroupName="/acme/us-only")

    found = {e.resource_id: e for e in collect_unit(get_kind("aws.logs.log_group.settings"), aws, "eu-west-1")}
    api = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/acme/chat-media/api"
    queries = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/acme/message-store/queries"
    assert set(found) == {api, queries}
    assert found[api].observed == {"retention_days": 90, "kms_key_id": key, "deletion_protection": False}
    assert found[queries].observed == {"retention_days": None, "kms_key_id": None, "deletion_protection": False}
    assert {e.region for e in found.values()} == {"eu-west-1"}
    assert found[api].resource_type == "AWS::Logs::LogGroup"
    (op,) = found[api].source["operations"]
    assert op["operation"] == "DescribeLogGroups" and op["request_ids"] and all(op["request_ids"])
    assert found[api].raw["logGroupName"] == "/acme/chat-media/api"


def test_log_groups_are_read_across_every_page_exactly_once(aws, monkeypatch):
    monkeypatch.setattr(logs, "PAGE_SIZE", 2)
    client = boto3.client("logs", region_name="eu-west-1")
    names = [f"/acme/service-{i}" for i in range(7)]
    for name in names:
        client.create_log_group(logGroupName=name)
    calls = _calls(aws, "logs", ("eu-west-1",))
    found = collect_unit(get_kind("aws.logs.log_group.settings"), aws, "eu-west-1")
    ids = [e.resource_id for e in found]
    assert sorted(ids) == sorted(f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{n}" for n in names)
    assert len(ids) == len(set(ids)) == 7
    assert calls == [("eu-west-1", "DescribeLogGroups")] * 4  # pages of 2, 2, 2, 1
    assert len(found[0].source["operations"][0]["request_ids"]) == 4


def test_config_recorder_absent_then_recording(aws):
    (absent,) = collect_unit(get_kind("aws.config.recorder.status"), aws, "eu-west-1")
    assert absent.resource_id == f"arn:aws:config:eu-west-1:{ACCOUNT}:account"
    assert absent.region == "eu-west-1" and absent.resource_type == "AWS::::Account"
    assert absent.observed == {
        "recorder_present": False,
        "recording": False,
        "all_supported": False,
        "include_global_resource_types": False,
        "recording_strategy": None,
    }
    assert [op["operation"] for op in absent.source["operations"]] == [
        "DescribeConfigurationRecorders",
        "DescribeConfigurationRecorderStatus",
    ]

    _bucket("acme-config-eu", "eu-west-1")
    config = boto3.client("config", region_name="eu-west-1")
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT}:role/aws-config",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "acme-config-eu"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    (recording,) = collect_unit(get_kind("aws.config.recorder.status"), aws, "eu-west-1")
    assert recording.observed == {
        "recorder_present": True,
        "recording": True,
        "all_supported": True,
        "include_global_resource_types": True,
        "recording_strategy": "ALL_SUPPORTED_RESOURCE_TYPES",
    }
    assert recording.raw["status"]["ConfigurationRecordersStatus"][0]["lastStatus"] == "PENDING"
    (other,) = collect_unit(get_kind("aws.config.recorder.status"), aws, "us-east-1")
    assert other.observed["recorder_present"] is False
    assert other.resource_id == f"arn:aws:config:us-east-1:{ACCOUNT}:account"


def test_guardduty_detector_per_region(aws):
    detector_id = boto3.client("guardduty", region_name="eu-west-1").create_detector(
        Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", DataSources={"S3Logs": {"Enable": True}}
    )["DetectorId"]
    (eu,) = collect_unit(get_kind("aws.guardduty.detector.status"), aws, "eu-west-1")
    (us,) = collect_unit(get_kind("aws.guardduty.detector.status"), aws, "us-east-1")
    assert eu.resource_id == f"arn:aws:guardduty:eu-west-1:{ACCOUNT}:account" and eu.region == "eu-west-1"
    assert eu.observed == {
        "detector_present": True,
        "status": "ENABLED",
        "finding_publishing_frequency": "FIFTEEN_MINUTES",
        "data_sources_enabled": ["S3Logs"],
        "features_enabled": [],
    }
    assert [op["operation"] for op in eu.source["operations"]] == ["ListDetectors", "GetDetector"]
    assert eu.source["operations"][1]["params"] == {"DetectorId": detector_id}
    assert eu.raw["detector_id"] == detector_id
    assert us.resource_id == f"arn:aws:guardduty:us-east-1:{ACCOUNT}:account"
    assert us.observed == {
        "detector_present": False,
        "status": None,
        "finding_publishing_frequency": None,
        "data_sources_enabled": [],
        "features_enabled": [],
    }
    assert [op["operation"] for op in us.source["operations"]] == ["ListDetectors"]


@pytest.mark.parametrize(
    ("kind", "scope", "service", "operation"),
    [
        ("aws.cloudtrail.trail.configuration", "global", "cloudtrail", "DescribeTrails"),
        ("aws.cloudtrail.account.trails", "global", "cloudtrail", "DescribeTrails"),
        ("aws.logs.log_group.settings", "eu-west-1", "logs", "DescribeLogGroups"),
        ("aws.config.recorder.status", "eu-west-1", "config", "DescribeConfigurationRecorderStatus"),
        ("aws.guardduty.detector.status", "eu-west-1", "guardduty", "ListDetectors"),
    ],
)
def test_could_not_look_is_a_gap_not_an_empty_result(aws, kind, scope, service, operation):
    def deny(**_):
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, operation)

    for region in aws.target.regions:
        aws.client(service, region).meta.events.register(f"before-call.{service}.{operation}", deny)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind(kind), aws, scope)
    assert info.value.reason == GapReason.DENIED and info.value.operation == operation


def test_trail_status_failure_is_a_gap(aws, trails):
    """A per-trail call that fails fails the unit: no trail is silently dropped."""

    def throttle(**_):
        raise botocore.exceptions.ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "x")

    aws.client("cloudtrail", "ap-south-1").meta.events.register("before-call.cloudtrail.GetEventSelectors", throttle)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.cloudtrail.trail.configuration"), aws, "global")
    assert info.value.reason == GapReason.THROTTLED


# --------------------------------------------------------------------------- data protection (masking)

DATA_IDENTIFIER = "arn:aws:dataprotection::aws:data-identifier/{}"


def _policy_document(identifiers: list[str], mask: bool = True, findings: dict | None = None) -> str:
    arns = [DATA_IDENTIFIER.format(i) for i in identifiers]
    statements = [
        {"Sid": "audit", "DataIdentifier": arns, "Operation": {"Audit": {"FindingsDestination": findings or {}}}}
    ]
    if mask:
        statements.append({"Sid": "mask", "DataIdentifier": arns, "Operation": {"Deidentify": {"MaskConfig": {}}}})
    return json.dumps({"Name": "test", "Version": "2021-06-01", "Statement": statements})


@pytest.fixture
def protected(aws):
    """eu-west-1: the chat API's group masks e-mail addresses itself, the message store's has no policy of its own,
    and the region's account policy masks UK phone numbers; us-east-1: an audit-only group and a group without any
    policy, and no account policy."""
    aws_logging.install_moto_shims()  # moto 5.2 implements none of the data protection calls
    eu = boto3.client("logs", region_name="eu-west-1")
    eu.create_log_group(logGroupName="/acme/chat-media/api")
    eu.put_data_protection_policy(logGroupIdentifier="/acme/chat-media/api",
                                  policyDocument=_policy_document(["EmailAddress"]))  # fmt: skip
    eu.create_log_group(logGroupName="/acme/message-store/queries")
    eu.put_account_policy(policyName="acme-personal-data", policyType="DATA_PROTECTION_POLICY",
                          policyDocument=_policy_document(["PhoneNumber-GB"]))  # fmt: skip
    us = boto3.client("logs", region_name="us-east-1")
    us.create_log_group(logGroupName="/acme/legacy-exports/api")
    us.put_data_protection_policy(
        logGroupIdentifier="/acme/legacy-exports/api",
        policyDocument=_policy_document(["EmailAddress", "PhoneNumber-US"], mask=False,
                                        findings={"S3": {"Bucket": "acme-legacy-exports"}}),
    )  # fmt: skip
    us.create_log_group(logGroupName="/acme/legacy-exports/worker")
    return aws


def _group(region: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{name}"


def test_data_protection_reads_the_groups_own_and_the_accounts_policy(protected):
    aws = protected
    kind = get_kind("aws.logs.log_group.data_protection")
    eu = {e.resource_id: e for e in collect_unit(kind, aws, "eu-west-1")}
    us = {e.resource_id: e for e in collect_unit(kind, aws, "us-east-1")}
    api, queries = _group("eu-west-1", "/acme/chat-media/api"), _group("eu-west-1", "/acme/message-store/queries")
    audited, bare = _group("us-east-1", "/acme/legacy-exports/api"), _group("us-east-1", "/acme/legacy-exports/worker")
    assert set(eu) == {api, queries} and set(us) == {audited, bare}

    # The two policies are cumulative: the group's masks e-mail addresses, the account's UK phone numbers.
    assert eu[api].observed == {
        "group_policy": True,
        "account_policy": True,
        "masked_identifiers": ["EmailAddress", "PhoneNumber-GB"],
        "audited_identifiers": ["EmailAddress", "PhoneNumber-GB"],
        "findings_destination": False,
    }
    assert list(eu[api].observed) == [
        "group_policy", "account_policy", "masked_identifiers", "audited_identifiers", "findings_destination"
    ]  # fmt: skip
    assert eu[queries].observed["group_policy"] is False and eu[queries].observed["account_policy"] is True
    assert eu[queries].observed["masked_identifiers"] == ["PhoneNumber-GB"]
    assert us[audited].observed == {
        "group_policy": True,
        "account_policy": False,
        "masked_identifiers": [],
        "audited_identifiers": ["EmailAddress", "PhoneNumber-US"],
        "findings_destination": True,
    }
    # No policy at all is a fact about the group, not a gap.
    assert us[bare].observed == {
        "group_policy": False,
        "account_policy": False,
        "masked_identifiers": [],
        "audited_identifiers": [],
        "findings_destination": False,
    }

    # The same resource, type and region as the settings kind gives for each group.
    settings = {
        e.resource_id: e
        for region in ("eu-west-1", "us-east-1")
        for e in collect_unit(get_kind("aws.logs.log_group.settings"), aws, region)
    }
    for evidence in [*eu.values(), *us.values()]:
        twin = settings[evidence.resource_id]
        assert (evidence.resource_type, evidence.region) == (twin.resource_type, twin.region) == (
            "AWS::Logs::LogGroup", evidence.resource_id.split(":")[3]
        )  # fmt: skip

    ops = eu[api].source["operations"]
    assert [op["operation"] for op in ops] == [
        "DescribeLogGroups",
        "DescribeAccountPolicies",
        "GetDataProtectionPolicy",
    ]
    assert ops[1]["params"] == {"policyType": "DATA_PROTECTION_POLICY"} and all(ops[1]["request_ids"])
    assert ops[2]["params"] == {"logGroupIdentifier": api} and ops[2]["request_id"]
    # raw keeps the whole documents
    assert json.loads(eu[api].raw["policy"]["policyDocument"])["Statement"][1]["Operation"]["Deidentify"]
    assert eu[api].raw["account_policies"][0]["policyName"] == "acme-personal-data"
    assert eu[api].raw["group"]["dataProtectionStatus"] == "ACTIVATED"
    assert "dataProtectionStatus" not in eu[queries].raw["group"]


def test_one_listing_and_one_account_policy_read_per_region_for_both_kinds(protected):
    aws = protected
    calls = _calls(aws, "logs", ("eu-west-1", "us-east-1"))
    for region in ("eu-west-1", "us-east-1"):
        collect_unit(get_kind("aws.logs.log_group.settings"), aws, region)
        collect_unit(get_kind("aws.logs.log_group.data_protection"), aws, region)
        collect_unit(get_kind("aws.logs.log_group.data_protection"), aws, region)  # a second unit reads nothing new
    assert sorted(c for c in calls if c[1] != "GetDataProtectionPolicy") == [
        ("eu-west-1", "DescribeAccountPolicies"),
        ("eu-west-1", "DescribeLogGroups"),
        ("us-east-1", "DescribeAccountPolicies"),
        ("us-east-1", "DescribeLogGroups"),
    ]
    # One GetDataProtectionPolicy per group and unit (the per-group answers are not kept between units).
    assert len([c for c in calls if c[1] == "GetDataProtectionPolicy"]) == 2 * 4


def test_settings_after_data_protection_reuse_its_listing(protected):
    aws = protected
    calls = _calls(aws, "logs", ("eu-west-1",))
    protection = collect_unit(get_kind("aws.logs.log_group.data_protection"), aws, "eu-west-1")
    settings = collect_unit(get_kind("aws.logs.log_group.settings"), aws, "eu-west-1")
    assert {e.resource_id for e in protection} == {e.resource_id for e in settings}
    assert [c for c in calls if c[1] == "DescribeLogGroups"] == [("eu-west-1", "DescribeLogGroups")]
    assert settings[0].source["operations"][0] is protection[0].source["operations"][0]


def test_a_group_gone_since_the_listing_has_no_group_policy(protected):
    """GetDataProtectionPolicy answering ResourceNotFoundException is "no group policy": a fact, not a gap."""
    aws = protected
    logs.list_log_groups(aws, "eu-west-1")  # the run's listing still names the group
    boto3.client("logs", region_name="eu-west-1").delete_log_group(logGroupName="/acme/chat-media/api")
    found = {e.resource_id: e for e in collect_unit(get_kind("aws.logs.log_group.data_protection"), aws, "eu-west-1")}
    gone = found[_group("eu-west-1", "/acme/chat-media/api")]
    assert gone.observed["group_policy"] is False and gone.observed["masked_identifiers"] == ["PhoneNumber-GB"]
    assert gone.raw["policy"] is None
    assert gone.source["operations"][2]["error"] == "ResourceNotFoundException"


@pytest.mark.parametrize("operation", ["DescribeLogGroups", "DescribeAccountPolicies", "GetDataProtectionPolicy"])
def test_a_denied_data_protection_call_is_a_gap(protected, operation):
    aws = protected

    def deny(**_):
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation)

    aws.client("logs", "eu-west-1").meta.events.register(f"before-call.logs.{operation}", deny)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.logs.log_group.data_protection"), aws, "eu-west-1")
    assert info.value.reason == GapReason.DENIED and info.value.operation == operation


def test_data_protection_declares_the_permissions_of_every_call_it_makes(protected):
    aws = protected
    spec = get_kind("aws.logs.log_group.data_protection")
    assert spec.permissions == ("logs:DescribeLogGroups", "logs:GetDataProtectionPolicy",
                                "logs:DescribeAccountPolicies")  # fmt: skip
    calls = _calls(aws, "logs", ("eu-west-1",))
    collect_unit(spec, aws, "eu-west-1")
    assert {iam_action("cloudwatch-logs", op) for _, op in calls} == set(spec.permissions)
    assert spec.description.startswith("Which sensitive data CloudWatch Logs masks")


# --------------------------------------------------------------------------- sandbox seeder


def test_sandbox_seed_gives_compliant_and_non_compliant_examples(moto_endpoint):
    aws_logging.seed(moto_endpoint)
    aws = AwsClients(AwsTarget(name="prod", regions=("eu-west-1", "us-east-1"), endpoint_url=moto_endpoint))
    trails = {
        e.resource_id.rsplit("/", 1)[1]: e.observed
        for e in collect_unit(get_kind("aws.cloudtrail.trail.configuration"), aws, "global")
    }
    (summary,) = collect_unit(get_kind("aws.cloudtrail.account.trails"), aws, "global")
    groups = {
        e.resource_id.split("log-group:")[1]: e.observed
        for region in aws.target.regions
        for e in collect_unit(get_kind("aws.logs.log_group.settings"), aws, region)
    }
    protection = {
        e.resource_id.split("log-group:")[1]: e.observed
        for region in aws.target.regions
        for e in collect_unit(get_kind("aws.logs.log_group.data_protection"), aws, region)
    }
    config = {r: collect_unit(get_kind("aws.config.recorder.status"), aws, r)[0].observed for r in aws.target.regions}
    detectors = {
        r: collect_unit(get_kind("aws.guardduty.detector.status"), aws, r)[0].observed for r in aws.target.regions
    }

    assert set(trails) == {"acme-audit", "acme-legacy-exports"}
    good, bad = trails["acme-audit"], trails["acme-legacy-exports"]
    assert good["multi_region"] and good["is_logging"] and good["log_file_validation"] and good["kms_key_id"]
    assert good["cloudwatch_log_group_arn"].endswith(":log-group:/aws/cloudtrail/acme-audit")
    assert not (bad["multi_region"] or bad["is_logging"] or bad["log_file_validation"] or bad["kms_key_id"])
    assert summary.observed["trail_count"] == 2 and summary.observed["multi_region_logging_count"] == 1

    assert (
        groups["/aws/cloudtrail/acme-audit"]["retention_days"] == 365
        and groups["/aws/cloudtrail/acme-audit"]["kms_key_id"]
    )
    assert groups["/acme/message-store/queries"] == {
        "retention_days": None,
        "kms_key_id": None,
        "deletion_protection": False,
    }
    assert "/acme/legacy-exports/worker" in groups

    # eu-west-1: the account policy masks e-mail addresses and European phone numbers in every group; the chat
    # API's own policy adds client IP addresses. us-east-1: one group only audits, the other has no policy.
    eu_groups = {"/aws/cloudtrail/acme-audit", "/acme/chat-media/api", "/acme/message-store/queries"}
    assert set(protection) == eu_groups | {"/acme/legacy-exports/api", "/acme/legacy-exports/worker"}
    for name in eu_groups:
        assert protection[name]["account_policy"] is True
        assert {"EmailAddress", "PhoneNumber-GB"} <= set(protection[name]["masked_identifiers"])
    assert protection["/acme/chat-media/api"]["group_policy"] is True
    assert protection["/acme/chat-media/api"]["masked_identifiers"] == [
        "EmailAddress", "IpAddress", "PhoneNumber-DE", "PhoneNumber-FR", "PhoneNumber-GB"
    ]  # fmt: skip
    assert protection["/acme/message-store/queries"]["group_policy"] is False
    assert protection["/acme/legacy-exports/api"] == {
        "group_policy": True,
        "account_policy": False,
        "masked_identifiers": [],
        "audited_identifiers": ["EmailAddress", "PhoneNumber-US"],
        "findings_destination": True,
    }
    assert protection["/acme/legacy-exports/worker"] == {
        "group_policy": False,
        "account_policy": False,
        "masked_identifiers": [],
        "audited_identifiers": [],
        "findings_destination": False,
    }

    assert config["eu-west-1"]["recording"] and config["eu-west-1"]["all_supported"]
    assert config["us-east-1"]["recorder_present"] and not config["us-east-1"]["recording"]
    assert detectors["eu-west-1"]["status"] == "ENABLED"
    assert detectors["us-east-1"]["detector_present"] is False
