"""Data services (KMS, RDS, DynamoDB, SNS, SQS, Secrets Manager): golden observe tests on recorded
answers, and collection through real boto3 calls against moto."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from collector.sandbox import aws_data
from connectors import collect_unit
from connectors.aws import dynamodb, kms, rds, secretsmanager, sns, sqs
from connectors.aws.clients import AwsClients, AwsTarget
from connectors.base import REDACTED, CollectionError, Evidence, GapReason, canonical_json, get_kind
from ea_testkit.golden import PROVENANCE, check_golden, golden_params

EU, US = "eu-west-1", "us-east-1"
ACCOUNT = "123456789012"

OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "aws.kms.key.rotation": lambda c: kms.observe_key_rotation(
        c["describe_key"], c["rotation"], c["region"], PROVENANCE
    ),
    "aws.rds.db_instance.encryption": lambda c: rds.observe_db_instance_encryption(
        c["instance"], c["region"], PROVENANCE
    ),
    "aws.rds.db_instance.public_access": lambda c: rds.observe_db_instance_public_access(
        c["instance"], c["region"], PROVENANCE
    ),
    "aws.rds.db_instance.backup": lambda c: rds.observe_db_instance_backup(c["instance"], c["region"], PROVENANCE),
    "aws.rds.db_cluster.encryption": lambda c: rds.observe_db_cluster_encryption(c["cluster"], c["region"], PROVENANCE),
    "aws.rds.db_cluster.backup": lambda c: rds.observe_db_cluster_backup(c["cluster"], c["region"], PROVENANCE),
    "aws.rds.db_instance.tags": lambda c: rds.observe_db_instance_tags(c["instance"], c["region"], PROVENANCE),
    "aws.rds.db_cluster.tags": lambda c: rds.observe_db_cluster_tags(c["cluster"], c["region"], PROVENANCE),
    "aws.dynamodb.table.encryption": lambda c: dynamodb.observe_table_encryption(
        c["response"], c["region"], PROVENANCE
    ),
    "aws.dynamodb.table.backup": lambda c: dynamodb.observe_table_backup(
        c["partition"], c["account_id"], c["region"], c["table_name"], c["response"], PROVENANCE
    ),
    "aws.dynamodb.table.tags": lambda c: dynamodb.observe_table_tags(
        c["partition"], c["account_id"], c["region"], c["table_name"], page_tags(c), PROVENANCE
    ),
    "aws.sns.topic.encryption": lambda c: sns.observe_topic_encryption(c["response"], c["region"], PROVENANCE),
    "aws.sqs.queue.encryption": lambda c: sqs.observe_queue_encryption(c["response"], c["region"], PROVENANCE),
    "aws.secretsmanager.secret.rotation": lambda c: secretsmanager.observe_secret_rotation(
        c["entry"], c["region"], PROVENANCE
    ),
}


FIXTURE_SECRET = "fixture-only-not-a-secret"  # the value of the secret-looking tags in the recorded answers


def page_tags(case: dict) -> list[dict]:
    """The tags of every recorded ListTagsOfResource page, in order."""
    return [tag for page in case["responses"] for tag in page["Tags"]]


def as_observed(tags: list[dict], case: dict) -> list[dict]:
    """A recorded tag list as raw must keep it: each value as `observed` shows it (secret-looking ones redacted)."""
    shown = case["expected"]["observed"]["tags"]
    return [{**tag, "Value": shown[tag["Key"]]} for tag in tags]


def expected_raw(kind: str, case: dict) -> dict:
    """The API answer each kind keeps as raw; the only secrets in these answers are in tags."""
    if kind == "aws.kms.key.rotation":
        return {"key": case["describe_key"], "rotation": case["rotation"]}
    if kind == "aws.dynamodb.table.tags":
        return {"Tags": as_observed(page_tags(case), case)}
    if kind.startswith("aws.rds.") and kind.endswith(".tags"):
        resource = case["instance" if "instance" in case else "cluster"]
        return {**resource, "TagList": as_observed(resource["TagList"], case)}
    for field in ("instance", "cluster", "entry", "response"):
        if field in case:
            return case[field]
    raise AssertionError(f"no recorded answer in {case['name']}")


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    assert evidence.raw == expected_raw(kind, case)
    assert FIXTURE_SECRET not in canonical_json({"observed": evidence.observed, "raw": evidence.raw})


def test_the_golden_tags_include_a_secret_to_redact_and_more_than_one_page():
    """Without these cases the golden tests above would not prove the redaction or the paging."""
    from ea_testkit.golden import load_cases

    for kind in ("aws.rds.db_instance.tags", "aws.rds.db_cluster.tags", "aws.dynamodb.table.tags"):
        assert FIXTURE_SECRET in json.dumps(load_cases(kind)), kind
        assert any(REDACTED in c["expected"]["observed"]["tags"].values() for c in load_cases(kind)), kind
    assert max(len(c["responses"]) for c in load_cases("aws.dynamodb.table.tags")) > 1


# --------------------------------------------------------------------------- collection against moto


@pytest.fixture
def aws():
    with mock_aws():
        clients = AwsClients(AwsTarget(name="prod", regions=(EU,)))
        yield clients
        clients.close()


def record_calls(aws: AwsClients, service: str, region: str = EU) -> list[str]:
    """The API operations the agent's client for `service` sends, in order."""
    calls: list[str] = []
    client = aws.client(service, region)
    service_id = client.meta.service_model.service_id.hyphenize()
    client.meta.events.register(f"before-call.{service_id}.*", lambda model, **_: calls.append(model.name))
    return calls


def collect(aws: AwsClients, kind: str, scope: str = EU) -> dict[str, Evidence]:
    return {e.resource_id: e for e in collect_unit(get_kind(kind), aws, scope)}


def operations(evidence: Evidence) -> list[str]:
    return [op["operation"] for op in evidence.source["operations"]]


def test_key_rotation_reads_customer_keys_and_skips_aws_managed_ones(aws):
    from moto.kms.models import kms_backends

    client = boto3.client("kms", region_name=EU)
    rotating = client.create_key(Description="message store", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    client.enable_key_rotation(KeyId=rotating["KeyId"])
    plain = client.create_key(Description="chat media")["KeyMetadata"]
    signing = client.create_key(Description="webhooks", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    # moto creates the key behind an `alias/aws/...` on first use, but as a CUSTOMER key; make it what AWS has.
    managed = client.describe_key(KeyId="alias/aws/secretsmanager")["KeyMetadata"]
    kms_backends[ACCOUNT][EU].keys[managed["KeyId"]].key_manager = "AWS"
    calls = record_calls(aws, "kms")

    found = collect(aws, "aws.kms.key.rotation")

    assert set(found) == {rotating["Arn"], plain["Arn"], signing["Arn"]}
    assert found[rotating["Arn"]].observed["rotation_enabled"] is True
    assert found[plain["Arn"]].observed["rotation_enabled"] is False
    assert found[signing["Arn"]].observed == {
        "enabled": True, "key_state": "Enabled", "rotation_supported": False, "rotation_enabled": None,
        "rotation_period_days": None, "key_spec": "RSA_2048", "key_usage": "SIGN_VERIFY", "origin": "AWS_KMS",
        "multi_region": False,
    }  # fmt: skip
    assert all(e.region == EU and e.resource_type == "AWS::KMS::Key" for e in found.values())
    assert operations(found[rotating["Arn"]]) == ["ListKeys", "DescribeKey", "GetKeyRotationStatus"]
    assert operations(found[signing["Arn"]]) == ["ListKeys", "DescribeKey"]
    assert found[rotating["Arn"]].source["operations"][-1]["params"] == {"KeyId": rotating["KeyId"]}
    # Every key is described; only the two customer keys that can rotate are asked for their rotation.
    assert calls.count("ListKeys") == 1 and calls.count("DescribeKey") == 4
    assert calls.count("GetKeyRotationStatus") == 2
    assert found[rotating["Arn"]].raw["rotation"] == {"KeyRotationEnabled": True}


def test_key_rotation_denied_is_a_gap_not_an_empty_result(aws):
    boto3.client("kms", region_name=EU).create_key(Description="message store")

    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetKeyRotationStatus")

    aws.client("kms", EU).meta.events.register("before-call.kms.GetKeyRotationStatus", deny)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.kms.key.rotation"), aws, EU)
    assert info.value.reason == GapReason.DENIED and info.value.operation == "GetKeyRotationStatus"


def make_rds_estate() -> None:
    key = boto3.client("kms", region_name=EU).create_key(Description="rds")["KeyMetadata"]["Arn"]
    ec2 = boto3.client("ec2", region_name=EU)
    subnets = sorted(s["SubnetId"] for s in ec2.describe_subnets()["Subnets"])[:2]
    client = boto3.client("rds", region_name=EU)
    client.create_db_subnet_group(DBSubnetGroupName="private", DBSubnetGroupDescription="private", SubnetIds=subnets)
    client.create_db_instance(
        DBInstanceIdentifier="message-store", DBInstanceClass="db.r6g.large", Engine="postgres", AllocatedStorage=100,
        MasterUsername="app", MasterUserPassword="moto-needs-one", StorageEncrypted=True, KmsKeyId=key,
        BackupRetentionPeriod=14, MultiAZ=True, DeletionProtection=True, EnableIAMDatabaseAuthentication=True,
        PubliclyAccessible=False, DBSubnetGroupName="private",
    )  # fmt: skip
    client.create_db_instance(
        DBInstanceIdentifier="legacy-reports", DBInstanceClass="db.t3.micro", Engine="mysql", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="moto-needs-one", PubliclyAccessible=True, BackupRetentionPeriod=0,
    )  # fmt: skip
    client.create_db_cluster(
        DBClusterIdentifier="chat-history", Engine="aurora-postgresql", MasterUsername="app",
        MasterUserPassword="moto-needs-one", StorageEncrypted=True, KmsKeyId=key, BackupRetentionPeriod=7,
        DeletionProtection=True,
    )  # fmt: skip
    client.create_db_instance(
        DBInstanceIdentifier="chat-history-1", DBInstanceClass="db.r6g.large", Engine="aurora-postgresql",
        DBClusterIdentifier="chat-history",
    )  # fmt: skip
    client.create_db_cluster(
        DBClusterIdentifier="analytics", Engine="aurora-mysql", MasterUsername="admin",
        MasterUserPassword="moto-needs-one", BackupRetentionPeriod=1,
    )  # fmt: skip


def test_rds_instance_kinds_share_one_listing_per_region(aws):
    make_rds_estate()
    calls = record_calls(aws, "rds")

    encryption = collect(aws, "aws.rds.db_instance.encryption")
    public = collect(aws, "aws.rds.db_instance.public_access")
    backup = collect(aws, "aws.rds.db_instance.backup")

    assert calls == ["DescribeDBInstances"]
    store, legacy, member = (f"arn:aws:rds:{EU}:{ACCOUNT}:db:{n}" for n in ("message-store", "legacy-reports",
                                                                             "chat-history-1"))  # fmt: skip
    assert set(encryption) == set(public) == set(backup) == {store, legacy, member}
    assert encryption[store].observed["storage_encrypted"] is True
    assert encryption[store].observed["kms_key_id"].startswith(f"arn:aws:kms:{EU}:{ACCOUNT}:key/")
    assert encryption[legacy].observed == {"storage_encrypted": False, "kms_key_id": None, "engine": "mysql"}
    assert public[store].observed["publicly_accessible"] is False
    assert public[store].observed["db_subnet_group"] == "private" and public[store].observed["vpc_id"]
    assert public[store].observed["iam_auth_enabled"] is True
    assert public[legacy].observed["publicly_accessible"] is True
    assert backup[store].observed == {
        "backup_retention_days": 14, "multi_az": True, "deletion_protection": True, "db_cluster_id": None
    }  # fmt: skip
    assert backup[legacy].observed["backup_retention_days"] == 0
    assert backup[member].observed["db_cluster_id"] == "chat-history"
    assert all(e.region == EU and e.resource_type == "AWS::RDS::DBInstance" for e in backup.values())
    assert operations(public[legacy]) == ["DescribeDBInstances"]
    assert public[legacy].source["operations"][0]["request_ids"][0]
    assert "MasterUserPassword" not in canonical_json(encryption[store].raw)


def test_rds_cluster_kinds(aws):
    make_rds_estate()
    calls = record_calls(aws, "rds")

    encryption = collect(aws, "aws.rds.db_cluster.encryption")
    backup = collect(aws, "aws.rds.db_cluster.backup")

    assert calls == ["DescribeDBClusters"]
    history, analytics = (f"arn:aws:rds:{EU}:{ACCOUNT}:cluster:{n}" for n in ("chat-history", "analytics"))
    assert set(encryption) == set(backup) == {history, analytics}
    assert encryption[history].observed["storage_encrypted"] is True
    # moto reports KmsKeyId "default_kms_key_id" for an unencrypted cluster: not a key, observed as null.
    assert encryption[analytics].observed == {"storage_encrypted": False, "kms_key_id": None, "engine": "aurora-mysql"}
    assert backup[history].observed == {"backup_retention_days": 7, "multi_az": False, "deletion_protection": True}
    assert backup[analytics].observed["backup_retention_days"] == 1
    assert all(e.resource_type == "AWS::RDS::DBCluster" and e.region == EU for e in encryption.values())
    assert operations(backup[history]) == ["DescribeDBClusters"]


PLANTED_TAG = "planted-tag-value-2b9d41"  # a password someone copied into a tag


def test_rds_tags_from_the_shared_listings_with_secret_tags_redacted_everywhere(aws):
    make_rds_estate()
    client = boto3.client("rds", region_name=EU)
    store, legacy = (f"arn:aws:rds:{EU}:{ACCOUNT}:db:{n}" for n in ("message-store", "legacy-reports"))
    history, analytics = (f"arn:aws:rds:{EU}:{ACCOUNT}:cluster:{n}" for n in ("chat-history", "analytics"))
    client.add_tags_to_resource(ResourceName=store, Tags=[
        {"Key": "owner", "Value": "chat-platform-team"}, {"Key": "data-classification", "Value": "confidential"},
        {"Key": "db-password", "Value": PLANTED_TAG}])  # fmt: skip
    client.add_tags_to_resource(ResourceName=history, Tags=[
        {"Key": "owner", "Value": "chat-platform-team"}, {"Key": "Master_Password", "Value": PLANTED_TAG}])  # fmt: skip
    calls = record_calls(aws, "rds")

    instances = {
        kind: collect(aws, kind)
        for kind in (
            "aws.rds.db_instance.tags",
            "aws.rds.db_instance.encryption",
            "aws.rds.db_instance.public_access",
            "aws.rds.db_instance.backup",
        )
    }
    clusters = {kind: collect(aws, kind) for kind in ("aws.rds.db_cluster.tags", "aws.rds.db_cluster.encryption",
                                                      "aws.rds.db_cluster.backup")}  # fmt: skip

    assert calls == ["DescribeDBInstances", "DescribeDBClusters"], "no extra call: the tags are in the listings"
    tags = instances["aws.rds.db_instance.tags"]
    assert set(tags) == set(instances["aws.rds.db_instance.encryption"]), "the same resource ids as the siblings"
    assert tags[store].observed == {
        "tags": {"data-classification": "confidential", "db-password": REDACTED, "owner": "chat-platform-team"}
    }
    assert tags[legacy].observed == {"tags": {}}
    assert (tags[store].resource_type, tags[store].region) == ("AWS::RDS::DBInstance", EU)
    assert operations(tags[store]) == ["DescribeDBInstances"]
    cluster_tags = clusters["aws.rds.db_cluster.tags"]
    assert cluster_tags[history].observed == {"tags": {"Master_Password": REDACTED, "owner": "chat-platform-team"}}
    assert cluster_tags[analytics].observed == {"tags": {}}
    assert cluster_tags[history].resource_type == "AWS::RDS::DBCluster"
    # The raw of every kind carrying the listing keeps the tag, without its value.
    for found in (*instances.values(), *clusters.values()):
        for evidence in found.values():
            assert PLANTED_TAG not in canonical_json(evidence.raw), evidence.kind
    assert {"Key": "db-password", "Value": REDACTED} in instances["aws.rds.db_instance.backup"][store].raw["TagList"]
    assert {"Key": "owner", "Value": "chat-platform-team"} in cluster_tags[history].raw["TagList"]


def create_table(name: str, **extra) -> str:
    client = boto3.client("dynamodb", region_name=EU)
    return client.create_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST", **extra,
    )["TableDescription"]["TableArn"]  # fmt: skip


def test_dynamodb_kinds_share_the_table_listing_and_agree_on_ids(aws):
    key = boto3.client("kms", region_name=EU).create_key(Description="ddb")["KeyMetadata"]["Arn"]
    messages = create_table(
        "chat-messages", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key}
    )
    presence = create_table("presence")
    boto3.client("dynamodb", region_name=EU).update_continuous_backups(
        TableName="chat-messages", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    calls = record_calls(aws, "dynamodb")

    encryption = collect(aws, "aws.dynamodb.table.encryption")
    backup = collect(aws, "aws.dynamodb.table.backup")

    assert set(encryption) == set(backup) == {messages, presence}
    assert encryption[messages].observed == {"sse_type": "KMS", "sse_status": "ENABLED", "kms_key_arn": key}
    assert encryption[presence].observed == {"sse_type": "AWS_OWNED", "sse_status": None, "kms_key_arn": None}
    assert backup[messages].observed == {"pitr_enabled": True, "recovery_period_days": 35}
    assert backup[presence].observed == {"pitr_enabled": False, "recovery_period_days": None}
    assert calls.count("ListTables") == 1
    assert calls.count("DescribeTable") == 2 and calls.count("DescribeContinuousBackups") == 2
    assert operations(backup[presence]) == ["ListTables", "DescribeContinuousBackups"]
    assert backup[presence].source["operations"][1]["params"] == {"TableName": "presence"}
    assert all(e.region == EU and e.resource_type == "AWS::DynamoDB::Table" for e in backup.values())


def test_a_table_deleted_after_the_listing_is_left_out_not_a_gap(aws):
    create_table("chat-messages")
    create_table("tmp-import")

    def delete_one(**_):
        boto3.client("dynamodb", region_name=EU).delete_table(TableName="tmp-import")

    aws.client("dynamodb", EU).meta.events.register("after-call.dynamodb.ListTables", delete_one)
    found = collect(aws, "aws.dynamodb.table.backup")
    assert set(found) == {f"arn:aws:dynamodb:{EU}:{ACCOUNT}:table/chat-messages"}


def tag_list(count: int, **named: str) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in named.items()] + [
        {"Key": f"label-{i:02d}", "Value": f"value-{i}"} for i in range(count)
    ]


def test_dynamodb_table_tags_per_table_in_its_region(aws):
    messages = create_table("chat-messages", Tags=[
        {"Key": "owner", "Value": "chat-platform-team"}, {"Key": "data-classification", "Value": "confidential"},
        {"Key": "webhook-signing-secret", "Value": PLANTED_TAG}])  # fmt: skip
    presence = create_table("presence")
    boto3.client("dynamodb", region_name=US).create_table(
        TableName="us-only", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "owner", "Value": "realtime"}],
    )  # fmt: skip
    calls = record_calls(aws, "dynamodb")

    encryption = collect(aws, "aws.dynamodb.table.encryption")
    tags = collect(aws, "aws.dynamodb.table.tags")

    assert set(tags) == set(encryption) == {messages, presence}, "only the region's tables, with the siblings' ids"
    assert tags[messages].observed == {
        "tags": {
            "data-classification": "confidential",
            "owner": "chat-platform-team",
            "webhook-signing-secret": REDACTED,
        }
    }
    assert tags[presence].observed == {"tags": {}}
    assert calls.count("ListTables") == 1 and calls.count("ListTagsOfResource") == 2
    assert operations(tags[messages]) == ["ListTables", "ListTagsOfResource"]
    assert tags[messages].source["operations"][1]["params"] == {"ResourceArn": messages}
    assert all(e.region == EU and e.resource_type == "AWS::DynamoDB::Table" for e in tags.values())
    assert PLANTED_TAG not in canonical_json({"raw": tags[messages].raw, "source": tags[messages].source})
    assert {"Key": "webhook-signing-secret", "Value": REDACTED} in tags[messages].raw["Tags"]


def test_dynamodb_tags_follow_every_page(aws):
    many = create_table("delivery-receipts", Tags=tag_list(23, owner="chat-platform-team"))
    sent: list[dict] = []
    aws.client("dynamodb", EU).meta.events.register(
        "before-parameter-build.dynamodb.ListTagsOfResource", lambda params, **_: sent.append(dict(params))
    )

    (evidence,) = collect(aws, "aws.dynamodb.table.tags").values()

    # moto answers ListTagsOfResource 10 tags at a time: 24 tags take three pages, each asked with the last token.
    assert [bool(p.get("NextToken")) for p in sent] == [False, True, True]
    assert evidence.resource_id == many and len(evidence.observed["tags"]) == 24
    assert evidence.observed["tags"]["label-22"] == "value-22" and evidence.observed["tags"]["owner"]
    assert list(evidence.observed["tags"]) == sorted(evidence.observed["tags"])
    assert len(evidence.source["operations"][1]["request_ids"]) == 3
    assert len(evidence.raw["Tags"]) == 24


def test_dynamodb_tags_of_a_table_deleted_after_the_listing_are_left_out_not_a_gap(aws):
    create_table("chat-messages", Tags=[{"Key": "owner", "Value": "chat-platform-team"}])
    create_table("tmp-import", Tags=[{"Key": "owner", "Value": "data-team"}])

    def delete_one(**_):
        boto3.client("dynamodb", region_name=EU).delete_table(TableName="tmp-import")

    aws.client("dynamodb", EU).meta.events.register("after-call.dynamodb.ListTables", delete_one)
    found = collect(aws, "aws.dynamodb.table.tags")
    assert set(found) == {f"arn:aws:dynamodb:{EU}:{ACCOUNT}:table/chat-messages"}


def test_dynamodb_tags_denied_is_a_gap_not_an_untagged_table(aws):
    create_table("chat-messages")

    def deny(**_):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListTagsOfResource")

    aws.client("dynamodb", EU).meta.events.register("before-call.dynamodb.ListTagsOfResource", deny)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.dynamodb.table.tags"), aws, EU)
    assert info.value.reason == GapReason.DENIED and info.value.operation == "ListTagsOfResource"


def test_tag_kinds_declare_the_permissions_they_use():
    expected = {
        "aws.dynamodb.table.tags": {"dynamodb:ListTables", "dynamodb:ListTagsOfResource"},
        "aws.rds.db_instance.tags": {"rds:DescribeDBInstances"},
        "aws.rds.db_cluster.tags": {"rds:DescribeDBClusters"},
    }
    for kind, permissions in expected.items():
        spec = get_kind(kind)
        assert set(spec.permissions) == permissions and spec.regional, kind


def test_sns_topics_across_pages(aws):
    client = boto3.client("sns", region_name=EU)
    key = boto3.client("kms", region_name=EU).create_key(Description="sns")["KeyMetadata"]["Arn"]
    encrypted = client.create_topic(Name="message-events", Attributes={"KmsMasterKeyId": key})["TopicArn"]
    arns = {encrypted} | {client.create_topic(Name=f"push-{i:03d}")["TopicArn"] for i in range(119)}
    calls = record_calls(aws, "sns")

    evidence = collect_unit(get_kind("aws.sns.topic.encryption"), aws, EU)

    # moto answers ListTopics 100 topics at a time, as AWS does: 120 topics take two pages.
    assert calls.count("ListTopics") == 2 and calls.count("GetTopicAttributes") == 120
    assert sorted(e.resource_id for e in evidence) == sorted(arns)
    found = {e.resource_id: e for e in evidence}
    assert found[encrypted].observed == {"encrypted": True, "kms_master_key_id": key}
    plain = found[f"arn:aws:sns:{EU}:{ACCOUNT}:push-000"]
    assert plain.observed == {"encrypted": False, "kms_master_key_id": None}
    assert operations(plain) == ["ListTopics", "GetTopicAttributes"]
    assert len(plain.source["operations"][0]["request_ids"]) == 2


def test_sqs_queues_across_pages_with_only_the_encryption_attributes(aws, monkeypatch):
    monkeypatch.setattr(sqs, "PAGE_SIZE", 2)
    client = boto3.client("sqs", region_name=EU)
    key = boto3.client("kms", region_name=EU).create_key(Description="sqs")["KeyMetadata"]["Arn"]
    client.create_queue(QueueName="media-transcode", Attributes={"KmsMasterKeyId": key})
    client.create_queue(QueueName="delivery-receipts", Attributes={"SqsManagedSseEnabled": "true"})
    client.create_queue(QueueName="legacy-webhooks", Attributes={"SqsManagedSseEnabled": "false"})
    for i in range(2):
        client.create_queue(QueueName=f"fanout-{i}")
    calls = record_calls(aws, "sqs")

    evidence = collect_unit(get_kind("aws.sqs.queue.encryption"), aws, EU)

    names = sorted(e.resource_id.rsplit(":", 1)[1] for e in evidence)
    assert names == ["delivery-receipts", "fanout-0", "fanout-1", "legacy-webhooks", "media-transcode"]
    assert calls.count("ListQueues") == 3  # 2 + 2 + 1: every page read, every queue once
    found = {e.resource_id.rsplit(":", 1)[1]: e for e in evidence}
    assert found["media-transcode"].observed["kms_master_key_id"] == key
    assert found["delivery-receipts"].observed == {
        "encrypted": True,
        "sqs_managed_sse": True,
        "kms_master_key_id": None,
    }
    assert found["legacy-webhooks"].observed == {
        "encrypted": False,
        "sqs_managed_sse": False,
        "kms_master_key_id": None,
    }
    listing, get = found["legacy-webhooks"].source["operations"]
    assert listing["operation"] == "ListQueues" and listing["params"] == {"MaxResults": 2}
    assert len(listing["request_ids"]) == 3
    assert get["operation"] == "GetQueueAttributes" and get["params"]["QueueUrl"].endswith("/legacy-webhooks")
    # Only the attributes observed: no message counters that change with every message.
    assert set(found["fanout-0"].raw["Attributes"]) <= set(sqs.ATTRIBUTES)
    assert all(e.region == EU and e.resource_type == "AWS::SQS::Queue" for e in evidence)


def test_a_queue_deleted_after_the_listing_is_left_out_not_a_gap(aws):
    client = boto3.client("sqs", region_name=EU)
    client.create_queue(QueueName="delivery-receipts")
    doomed = client.create_queue(QueueName="tmp-export")["QueueUrl"]
    aws.client("sqs", EU).meta.events.register(
        "after-call.sqs.ListQueues", lambda **_: boto3.client("sqs", region_name=EU).delete_queue(QueueUrl=doomed)
    )
    found = collect(aws, "aws.sqs.queue.encryption")
    assert set(found) == {f"arn:aws:sqs:{EU}:{ACCOUNT}:delivery-receipts"}


def rotation_function(region: str) -> str:
    """moto turns rotation on cleanly only for a Lambda function that exists."""
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "lambda.amazonaws.com"}}]}  # fmt: skip
    role = boto3.client("iam").create_role(RoleName="rotation", AssumeRolePolicyDocument=json.dumps(trust))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("rotate.py", "def handler(event, context):\n    return None\n")
    return boto3.client("lambda", region_name=region).create_function(
        FunctionName="rotate", Runtime="python3.12", Role=role["Role"]["Arn"], Handler="rotate.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]  # fmt: skip


PLANTED = "planted-secret-value-7f3c9e51d2"


def test_secret_rotation_from_list_secrets_only_and_never_a_value(aws):
    client = boto3.client("secretsmanager", region_name=EU)
    key = boto3.client("kms", region_name=EU).create_key(Description="secrets")["KeyMetadata"]["Arn"]
    db = client.create_secret(
        Name="prod/message-store/db", KmsKeyId=key, SecretString=json.dumps({"password": PLANTED})
    )
    client.put_secret_value(SecretId=db["ARN"], SecretString=PLANTED)
    client.rotate_secret(
        SecretId=db["ARN"], RotationLambdaARN=rotation_function(EU), RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )  # fmt: skip
    apns = client.create_secret(Name="prod/push/apns-key", SecretBinary=PLANTED.encode())
    calls = record_calls(aws, "secretsmanager")

    found = collect(aws, "aws.secretsmanager.secret.rotation")

    assert calls == ["ListSecrets"]  # never GetSecretValue, never DescribeSecret
    assert set(found) == {db["ARN"], apns["ARN"]}
    rotated = found[db["ARN"]].observed
    assert rotated["rotation_enabled"] is True and rotated["rotation_days"] == 30
    assert rotated["rotation_schedule"] is None and rotated["kms_key_id"] == key
    assert rotated["last_rotated"].endswith("Z") and rotated["next_rotation"] > rotated["last_rotated"]
    assert found[apns["ARN"]].observed == {
        "rotation_enabled": False, "rotation_days": None, "rotation_schedule": None, "last_rotated": None,
        "next_rotation": None, "kms_key_id": None,
    }  # fmt: skip
    assert operations(found[apns["ARN"]]) == ["ListSecrets"]
    for evidence in found.values():
        whole = canonical_json({"observed": evidence.observed, "raw": evidence.raw, "source": evidence.source})
        assert PLANTED not in whole
        assert base64.b64encode(PLANTED.encode()).decode() not in whole


# --------------------------------------------------------------------------- the sandbox seeder


def test_sandbox_seed_has_compliant_and_non_compliant_data_services(moto_endpoint):
    aws_data.seed(moto_endpoint)
    aws = AwsClients(AwsTarget(name="prod", regions=(EU, US), endpoint_url=moto_endpoint))

    def observed(kind: str) -> dict[tuple[str, str], dict]:
        """(region, last part of the resource id) -> observed, across both regions."""
        items = [e for region in (EU, US) for e in collect_unit(get_kind(kind), aws, region)]
        return {(e.region, e.resource_id.rsplit(":", 1)[1].rsplit("/", 1)[-1]): e.observed for e in items}

    try:
        keys = [(region, o) for (region, _), o in observed("aws.kms.key.rotation").items()]
        assert [o["rotation_enabled"] for region, o in keys if region == EU].count(True) == 1
        assert [o["rotation_enabled"] for region, o in keys if region == EU].count(False) == 1
        assert [o["rotation_supported"] for region, o in keys if region == US] == [False]

        assert observed("aws.rds.db_instance.encryption")[(EU, "message-store")]["storage_encrypted"] is True
        assert observed("aws.rds.db_instance.encryption")[(US, "legacy-reports")]["storage_encrypted"] is False
        public = observed("aws.rds.db_instance.public_access")
        assert public[(EU, "message-store")]["publicly_accessible"] is False
        assert public[(US, "legacy-reports")]["publicly_accessible"] is True
        backup = observed("aws.rds.db_instance.backup")
        assert backup[(EU, "message-store")]["backup_retention_days"] == 14
        assert backup[(US, "legacy-reports")]["backup_retention_days"] == 0
        clusters = observed("aws.rds.db_cluster.encryption")
        assert clusters[(EU, "chat-history")]["storage_encrypted"] is True
        assert clusters[(US, "analytics")]["storage_encrypted"] is False
        cluster_backup = observed("aws.rds.db_cluster.backup")
        assert cluster_backup[(EU, "chat-history")]["deletion_protection"] is True
        assert cluster_backup[(US, "analytics")]["deletion_protection"] is False

        tables = observed("aws.dynamodb.table.encryption")
        assert tables[(EU, "chat-messages")]["sse_type"] == "KMS"
        assert tables[(US, "presence")]["sse_type"] == "AWS_OWNED"
        pitr = observed("aws.dynamodb.table.backup")
        assert pitr[(EU, "chat-messages")]["pitr_enabled"] is True
        assert pitr[(US, "presence")]["pitr_enabled"] is False

        owned = {"owner": "chat-platform-team", "data-classification": "confidential"}
        assert observed("aws.rds.db_instance.tags")[(EU, "message-store")] == {"tags": owned}
        assert observed("aws.rds.db_instance.tags")[(US, "legacy-reports")] == {
            "tags": {"created-by": "dba", "data-classification": "secret-ish", "db-password": REDACTED}
        }, "no owner, no valid level, and the password copied into a tag is not collected"
        assert observed("aws.rds.db_cluster.tags")[(EU, "chat-history")] == {"tags": owned}
        assert observed("aws.rds.db_cluster.tags")[(US, "analytics")] == {"tags": {"owner": "data-team"}}
        assert observed("aws.dynamodb.table.tags")[(EU, "chat-messages")] == {"tags": owned}
        assert observed("aws.dynamodb.table.tags")[(US, "presence")] == {
            "tags": {"data-classification": "internal", "team": "realtime"}
        }

        topics = observed("aws.sns.topic.encryption")
        assert topics[(EU, "message-events")]["encrypted"] is True
        assert topics[(US, "push-notifications")]["encrypted"] is False
        queues = observed("aws.sqs.queue.encryption")
        assert queues[(EU, "media-transcode")]["kms_master_key_id"]
        assert queues[(EU, "delivery-receipts")]["sqs_managed_sse"] is True
        assert queues[(US, "legacy-webhooks")]["encrypted"] is False

        secrets = {name.rsplit("-", 1)[0]: o for (_, name), o in observed("aws.secretsmanager.secret.rotation").items()}
        assert secrets["db"]["rotation_enabled"] is True and secrets["db"]["rotation_days"] == 30
        assert secrets["apns-key"]["rotation_enabled"] is False
    finally:
        aws.close()
