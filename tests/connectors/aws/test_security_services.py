"""Security service kinds: Amazon Inspector, ECR repositories, Security Hub (and GuardDuty malware protection and
credential ages in the sandbox).

Golden tests feed recorded answers to the pure `observe_*` functions; collection tests go through real boto3
calls against moto (in-process, or its server where a faulty session injects errors), with the sandbox's moto
shims installed where moto is not the AWS API (see collector/sandbox/aws_security.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import boto3
import pytest
from moto import mock_aws

from collector.sandbox import aws_iam, aws_logging, aws_security
from connectors import collect_unit
from connectors.aws import AwsClients, AwsTarget, ecr, inspector2, securityhub
from connectors.base import CollectionError, Evidence, GapReason, get_kind
from controls.base import Policy, Subject, VerdictStatus, checks_reading, judge
from ea_testkit.aws import faulty_session
from ea_testkit.golden import PROVENANCE, check_golden, check_raw_keeps, golden_params, load_cases

ACCOUNT = "123456789012"
EU, US = "eu-west-1", "us-east-1"
FSBP = f"arn:aws:securityhub:{EU}::standards/aws-foundational-security-best-practices/v/1.0.0"

OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.inspector2.account.status": lambda c: inspector2.observe_account_status(
        "aws", c["account_id"], c["region"], c["response"], PROVENANCE
    ),
    "aws.ecr.repository.configuration": lambda c: ecr.observe_repository_configuration(
        c["repository"], c["registry"], c["scanning"], PROVENANCE
    ),
    "aws.securityhub.hub.status": lambda c: securityhub.observe_hub_status(
        "aws", c["account_id"], c["region"], c["hub"], c["standards"], PROVENANCE
    ),
}
# The recorded inputs each kind keeps in raw (the API answers the observation came from).
RAW_INPUTS = {
    "aws.inspector2.account.status": ("response",),
    "aws.ecr.repository.configuration": ("repository", "registry", "scanning"),
    "aws.securityhub.hub.status": ("hub", "standards"),
}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    check_raw_keeps(evidence, case, RAW_INPUTS[kind])


def test_inspector_resource_keys_become_scan_type_names():
    assert [inspector2.scan_type_name(k) for k in ("ec2", "ecr", "lambda", "lambdaCode", "codeRepository")] == [
        "EC2", "ECR", "LAMBDA", "LAMBDA_CODE", "CODE_REPOSITORY",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("response", "reason", "text"),
    [
        ({"accounts": [], "failedAccounts": [{"accountId": ACCOUNT, "errorCode": "ACCESS_DENIED",
          "errorMessage": "not allowed", "status": "DISABLED"}]}, GapReason.DENIED, "ACCESS_DENIED: not allowed"),
        ({"accounts": [], "failedAccounts": [{"accountId": ACCOUNT, "errorCode": "INTERNAL_ERROR",
          "errorMessage": "try later"}]}, GapReason.ERROR, "INTERNAL_ERROR: try later"),
        ({"accounts": [{"accountId": "210987654321", "state": {"status": "ENABLED"}, "resourceState": {}}],
          "failedAccounts": []}, GapReason.ERROR, "neither a status nor a failure for account 123456789012"),
    ],
)  # fmt: skip
def test_inspector_status_not_answered_for_the_account_is_a_gap(response, reason, text):
    """A per-account failure inside a 200 answer, or no entry at all, is "could not look", never "off"."""
    with pytest.raises(CollectionError) as info:
        inspector2.observe_account_status("aws", ACCOUNT, EU, response, PROVENANCE)
    assert info.value.reason == reason and text in info.value.message
    assert info.value.operation == "BatchGetAccountStatus"


def test_ecr_repository_without_encryption_settings_is_aes256():
    case = load_cases("aws.ecr.repository.configuration")[1]
    bare = {k: v for k, v in case["repository"].items() if k != "encryptionConfiguration"}
    observed = ecr.observe_repository_configuration(bare, case["registry"], case["scanning"], PROVENANCE).observed
    assert (observed["encryption_type"], observed["kms_key"]) == ("AES256", None)


# --------------------------------------------------------------------------- collection against moto


@pytest.fixture(scope="module", autouse=True)
def shims():
    """moto lacks Security Hub standards and answers Inspector differently from AWS for a never-enabled account."""
    aws_security.install_moto_shims()


@pytest.fixture
def aws():
    with mock_aws():
        yield AwsClients(AwsTarget(name="prod", regions=(EU, US)))


def ops(evidence: Evidence) -> list[str]:
    return [op["operation"] for op in evidence.source["operations"]]


def test_inspector_status_per_region(aws):
    boto3.client("inspector2", region_name=EU).enable(accountIds=[ACCOUNT], resourceTypes=["EC2", "ECR"])
    (eu,) = collect_unit(get_kind("aws.inspector2.account.status"), aws, EU)
    (us,) = collect_unit(get_kind("aws.inspector2.account.status"), aws, US)
    assert eu.resource_id == f"arn:aws:inspector2:{EU}:{ACCOUNT}:account"
    assert (eu.region, eu.resource_type) == (EU, "AWS::::Account")
    assert eu.observed == {
        "status": "ENABLED",
        "scanning_enabled": ["EC2", "ECR"],
        "scanning_status": {"EC2": "ENABLED", "ECR": "ENABLED", "LAMBDA": "DISABLED", "LAMBDA_CODE": "DISABLED"},
    }
    (op,) = eu.source["operations"]
    assert op["operation"] == "BatchGetAccountStatus" and op["params"] == {"accountIds": [ACCOUNT]}
    assert eu.raw["accounts"][0]["accountId"] == ACCOUNT
    # Never enabled in us-east-1: a fact (DISABLED), not an empty result.
    assert us.resource_id == f"arn:aws:inspector2:{US}:{ACCOUNT}:account"
    assert us.observed["status"] == "DISABLED" and us.observed["scanning_enabled"] == []


def _repository(client, name: str, **settings) -> str:
    return client.create_repository(repositoryName=name, **settings)["repository"]["repositoryArn"]


def test_ecr_repositories_with_registry_and_repository_scanning(aws):
    eu = boto3.client("ecr", region_name=EU)
    eu.put_registry_scanning_configuration(
        scanType="ENHANCED",
        rules=[
            {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "chat-*", "filterType": "WILDCARD"}]}
        ],
    )
    key = boto3.client("kms", region_name=EU).create_key()["KeyMetadata"]["Arn"]
    api = _repository(eu, "chat-api", imageTagMutability="IMMUTABLE",
                      encryptionConfiguration={"encryptionType": "KMS", "kmsKey": key})  # fmt: skip
    tools = _repository(eu, "ops-tools", imageScanningConfiguration={"scanOnPush": True})
    _repository(boto3.client("ecr", region_name=US), "us-only")

    found = {e.resource_id: e for e in collect_unit(get_kind("aws.ecr.repository.configuration"), aws, EU)}
    assert set(found) == {api, tools}
    assert found[api].observed == {
        "scan_on_push": False,
        "registry_scan_type": "ENHANCED",
        "scan_frequency": "SCAN_ON_PUSH",
        "tag_mutability": "IMMUTABLE",
        "tag_mutability_exclusions": [],
        "encryption_type": "KMS",
        "kms_key": key,
    }
    # Enhanced scanning and no rule for ops-tools: its own scan-on-push flag is recorded, the frequency is MANUAL.
    assert found[tools].observed["scan_on_push"] is True and found[tools].observed["scan_frequency"] == "MANUAL"
    assert {e.region for e in found.values()} == {EU} and found[api].resource_type == "AWS::ECR::Repository"
    assert ops(found[api]) == [
        "DescribeRepositories", "GetRegistryScanningConfiguration", "BatchGetRepositoryScanningConfiguration",
    ]  # fmt: skip
    assert found[api].source["operations"][2]["params"] == {"repositoryNames": ["chat-api", "ops-tools"]}
    assert found[api].raw["scanning"]["appliedScanFilters"] == [{"filter": "chat-*", "filterType": "WILDCARD"}]


def test_ecr_region_without_repositories_makes_one_call_and_no_evidence(aws):
    calls: list[str] = []
    aws.client("ecr", US).meta.events.register("before-call.ecr", lambda model, **_: calls.append(model.name))
    assert collect_unit(get_kind("aws.ecr.repository.configuration"), aws, US) == []
    assert calls == ["DescribeRepositories"]


def test_ecr_scanning_configuration_is_read_in_batches_of_25(aws):
    client = boto3.client("ecr", region_name=EU)
    names = sorted(f"service-{i:02d}" for i in range(27))
    for name in names:
        _repository(client, name)
    batches: list[list[str]] = []
    aws.client("ecr", EU).meta.events.register(
        "provide-client-params.ecr.BatchGetRepositoryScanningConfiguration",
        lambda params, **_: batches.append(params["repositoryNames"]),
    )
    found = collect_unit(get_kind("aws.ecr.repository.configuration"), aws, EU)
    assert sorted(e.resource_id.rsplit("/", 1)[1] for e in found) == names
    assert sorted(map(len, batches)) == [2, 25] and sorted(n for batch in batches for n in batch) == names


def test_ecr_repository_deleted_during_the_unit_yields_no_evidence(aws):
    client = boto3.client("ecr", region_name=EU)
    kept = _repository(client, "chat-api")
    _repository(client, "scratch")

    def delete_scratch(**_):
        client.delete_repository(repositoryName="scratch", force=True)

    aws.client("ecr", EU).meta.events.register(
        "before-call.ecr.BatchGetRepositoryScanningConfiguration", delete_scratch
    )
    found = collect_unit(get_kind("aws.ecr.repository.configuration"), aws, EU)
    assert [e.resource_id for e in found] == [kept]


def test_security_hub_not_subscribed_then_enabled_with_standards(aws):
    (absent,) = collect_unit(get_kind("aws.securityhub.hub.status"), aws, EU)
    assert absent.resource_id == f"arn:aws:securityhub:{EU}:{ACCOUNT}:account"
    assert absent.observed == {"enabled": False, "standards": {}}
    (op,) = absent.source["operations"]
    assert op["operation"] == "DescribeHub" and op["error"] == "InvalidAccessException"

    hub = boto3.client("securityhub", region_name=EU)
    hub.enable_security_hub(EnableDefaultStandards=False)
    (bare,) = collect_unit(get_kind("aws.securityhub.hub.status"), aws, EU)
    assert bare.observed == {"enabled": True, "standards": {}}
    hub.batch_enable_standards(StandardsSubscriptionRequests=[{"StandardsArn": FSBP}])
    (ready,) = collect_unit(get_kind("aws.securityhub.hub.status"), aws, EU)
    assert ready.observed == {"enabled": True, "standards": {FSBP: "READY"}}
    assert ops(ready) == ["DescribeHub", "GetEnabledStandards"]
    assert ready.raw["hub"]["HubArn"] == f"arn:aws:securityhub:{EU}:{ACCOUNT}:hub/default"
    (other,) = collect_unit(get_kind("aws.securityhub.hub.status"), aws, US)
    assert other.observed["enabled"] is False


# --------------------------------------------------------------------------- could not look: a gap


@pytest.fixture
def moto_account(moto_endpoint):
    """An account on moto's server with Inspector on, an ECR repository and an enabled hub in eu-west-1."""
    aws_security.install_moto_shims()

    def client(service: str):
        return boto3.client(service, region_name=EU, endpoint_url=moto_endpoint)

    client("inspector2").enable(accountIds=[ACCOUNT], resourceTypes=["EC2"])
    client("ecr").create_repository(repositoryName="chat-api")
    client("securityhub").enable_security_hub(EnableDefaultStandards=False)
    return moto_endpoint


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("aws.inspector2.account.status", "inspector2.BatchGetAccountStatus"),
        ("aws.ecr.repository.configuration", "ecr.DescribeRepositories"),
        ("aws.ecr.repository.configuration", "ecr.GetRegistryScanningConfiguration"),
        ("aws.ecr.repository.configuration", "ecr.BatchGetRepositoryScanningConfiguration"),
        ("aws.securityhub.hub.status", "securityhub.DescribeHub"),
        ("aws.securityhub.hub.status", "securityhub.GetEnabledStandards"),
    ],
)
def test_access_denied_is_a_gap_not_an_empty_result(moto_account, kind, fault):
    target = AwsTarget(name="prod", regions=(EU,), endpoint_url=moto_account)
    assert collect_unit(get_kind(kind), AwsClients(target), EU), "without the fault the unit yields evidence"
    aws = AwsClients(target, session=faulty_session({fault: ("AccessDeniedException", 403)}))
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind(kind), aws, EU)
    assert info.value.reason == GapReason.DENIED and info.value.operation == fault.split(".")[1]


def test_security_hub_invalid_access_other_than_not_subscribed_is_a_gap(moto_account):
    """InvalidAccessException is only the fact "not enabled" when it says the account is not subscribed."""
    session = faulty_session({"securityhub.DescribeHub": ("InvalidAccessException", 401)})
    aws = AwsClients(AwsTarget(name="prod", regions=(EU,), endpoint_url=moto_account), session=session)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.securityhub.hub.status"), aws, EU)
    assert info.value.reason == GapReason.ERROR and info.value.operation == "DescribeHub"


# --------------------------------------------------------------------------- sandbox seeder


def _verdicts(evidence: list[Evidence]) -> dict[tuple[str, str], VerdictStatus]:
    """(check id, resource id) -> verdict of every check reading these records, judged when each was observed."""
    return {
        (spec.id, e.resource_id): judge(
            spec, Subject(e.kind, e.resource_id, e.region, e.observed, at=e.collected_at), Policy()
        ).status
        for e in evidence
        for spec in checks_reading(e.kind)
    }


def test_sandbox_seed_gives_compliant_and_non_compliant_examples(moto_endpoint):
    aws_iam.seed(moto_endpoint)
    aws_logging.seed(moto_endpoint)
    aws_security.seed(moto_endpoint)
    aws = AwsClients(AwsTarget(name="prod", regions=(EU, US), endpoint_url=moto_endpoint))
    kinds = ("aws.inspector2.account.status", "aws.ecr.repository.configuration", "aws.securityhub.hub.status",
             "aws.guardduty.detector.status")  # fmt: skip
    found = [e for kind in kinds for region in (EU, US) for e in collect_unit(get_kind(kind), aws, region)]
    found += collect_unit(get_kind("aws.iam.user.credentials"), aws, "global")
    verdicts = _verdicts(found)
    PASS, FAIL = VerdictStatus.PASS, VerdictStatus.FAIL

    def account(service: str, region: str) -> str:
        return f"arn:aws:{service}:{region}:{ACCOUNT}:account"

    def repo(region: str, name: str) -> str:
        return f"arn:aws:ecr:{region}:{ACCOUNT}:repository/{name}"

    user = f"arn:aws:iam::{ACCOUNT}:user/"
    assert {key: verdicts[key] for key in [
        ("aws.inspector2.account.scanning_enabled", account("inspector2", EU)),
        ("aws.inspector2.account.scanning_enabled", account("inspector2", US)),
        ("aws.ecr.repository.scan_on_push_enabled", repo(EU, "chat-api")),
        ("aws.ecr.repository.scan_on_push_enabled", repo(US, "legacy-export-base")),
        ("aws.ecr.repository.scan_on_push_enabled", repo(US, "legacy-export-worker")),
        ("aws.ecr.repository.tags_immutable", repo(EU, "chat-api")),
        ("aws.ecr.repository.tags_immutable", repo(US, "legacy-export-worker")),
        ("aws.securityhub.hub.enabled", account("securityhub", EU)),
        ("aws.securityhub.hub.enabled", account("securityhub", US)),
        ("aws.securityhub.hub.standards_enabled", account("securityhub", EU)),
        ("aws.securityhub.hub.standards_enabled", account("securityhub", US)),
        ("aws.guardduty.detector.malware_protection_enabled", account("guardduty", EU)),
        ("aws.guardduty.detector.malware_protection_enabled", account("guardduty", US)),
        ("aws.iam.user.access_keys_rotated", user + "automation/ci-deployer"),
        ("aws.iam.user.access_keys_rotated", user + "legacy-export"),
        ("aws.iam.user.unused_credentials_disabled", user + "maria.silva"),
        ("aws.iam.user.unused_credentials_disabled", user + "legacy-export"),
    ]} == {
        ("aws.inspector2.account.scanning_enabled", account("inspector2", EU)): PASS,
        ("aws.inspector2.account.scanning_enabled", account("inspector2", US)): FAIL,
        ("aws.ecr.repository.scan_on_push_enabled", repo(EU, "chat-api")): PASS,
        ("aws.ecr.repository.scan_on_push_enabled", repo(US, "legacy-export-base")): PASS,
        ("aws.ecr.repository.scan_on_push_enabled", repo(US, "legacy-export-worker")): FAIL,
        ("aws.ecr.repository.tags_immutable", repo(EU, "chat-api")): PASS,
        ("aws.ecr.repository.tags_immutable", repo(US, "legacy-export-worker")): FAIL,
        ("aws.securityhub.hub.enabled", account("securityhub", EU)): PASS,
        ("aws.securityhub.hub.enabled", account("securityhub", US)): FAIL,
        ("aws.securityhub.hub.standards_enabled", account("securityhub", EU)): PASS,
        ("aws.securityhub.hub.standards_enabled", account("securityhub", US)): FAIL,
        ("aws.guardduty.detector.malware_protection_enabled", account("guardduty", EU)): PASS,
        ("aws.guardduty.detector.malware_protection_enabled", account("guardduty", US)): FAIL,
        ("aws.iam.user.access_keys_rotated", user + "automation/ci-deployer"): PASS,
        ("aws.iam.user.access_keys_rotated", user + "legacy-export"): FAIL,
        ("aws.iam.user.unused_credentials_disabled", user + "maria.silva"): PASS,
        ("aws.iam.user.unused_credentials_disabled", user + "legacy-export"): FAIL,
    }  # fmt: skip
    legacy = next(e for e in found if e.resource_id == user + "legacy-export").observed
    issued = dt.datetime.fromisoformat(legacy["access_key_1_last_rotated"])
    assert dt.timedelta(days=399) < dt.datetime.now(dt.UTC) - issued < dt.timedelta(days=401)
    assert legacy["password_last_changed"] == legacy["created"] == legacy["access_key_1_last_rotated"]
