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
from connectors.base import CollectionError, Evidence, GapReason, canonical_json, get_kind
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
    "aws.dynamodb.table.encryption": lambda c: dynamodb.observe_table_encryption(
        c["response"], c["region"], PROVENANCE
    ),
    "aws.dynamodb.table.backup": lambda c: dynamodb.observe_table_backup(
        c["partition"], c["account_id"], c["region"], c["table_name"], c["response"], PROVENANCE
    ),
    "aws.sns.topic.encryption": lambda c: sns.observe_topic_encryption(c["response"], c["region"], PROVENANCE),
    "aws.sqs.queue.encryption": lambda c: sqs.observe_queue_encryption(c["response"], c["region"], PROVENANCE),
    "aws.secretsmanager.secret.rotation": lambda c: secretsmanager.observe_secret_rotation(
        c["entry"], c["region"], PROVENANCE
    ),
}


def expected_raw(kind: str, case: dict) -> dict:
    """The API answer each kind keeps as raw (none of these recorded answers holds a secret)."""
    if kind == "aws.kms.key.rotation":
        return {"key": case["describe_key"], "rotation": case["rotation"]}
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
