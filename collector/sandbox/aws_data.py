"""Sandbox data estate: KMS keys, RDS, DynamoDB, SNS, SQS and Secrets Manager.

The EU side (eu-west-1) is done right: a rotating customer key protects the message store (an encrypted,
private, Multi-AZ PostgreSQL instance with 14 days of backups), the chat history Aurora cluster, the chat
messages table (point-in-time recovery on), the message-events topic, the media-transcode queue and the
database credentials, which a Lambda function rotates every 30 days. A second EU key, for chat media
uploads, has rotation off. The US side (us-east-1) is legacy: a publicly accessible, unencrypted MySQL
instance without backups, an unencrypted analytics cluster, a presence table without point-in-time
recovery, an unencrypted push topic and webhook queue, a never-rotated APNs key, and an RSA signing key
(rotation is not supported for asymmetric keys).

Tags: the EU data stores name their owner and a valid data classification. In the US the reports
instance has no owner, a classification that is no level (`secret-ish`) and its master password in a
tag (the agent must redact it); the analytics cluster has an owner but no classification; the presence
table a classification but no owner.
"""

from __future__ import annotations

import io
import json
import zipfile

from collector.sandbox.base import EU_OWNER_TAGS, client, tag_list

EU, US = "eu-west-1", "us-east-1"
SANDBOX_PASSWORD = "sandbox-only-not-a-password"  # moto requires one; never collected
# No owner, a classification that is no level, and the master password copied into a tag (its value is redacted).
LEGACY_REPORTS_TAGS = {"data-classification": "secret-ish", "created-by": "dba", "db-password": SANDBOX_PASSWORD}
KEY_SCHEMA = {
    "AttributeDefinitions": [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    "BillingMode": "PAY_PER_REQUEST",
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}],
}


def _keys(endpoint: str) -> str:
    """The EU message-store key (rotating) and its ARN; a non-rotating EU key; a US signing key."""
    kms = client("kms", endpoint, EU)
    store = kms.create_key(Description="acme message store at rest", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    kms.enable_key_rotation(KeyId=store["KeyId"], RotationPeriodInDays=365)
    kms.create_key(Description="acme chat media uploads", KeyUsage="ENCRYPT_DECRYPT")
    client("kms", endpoint, US).create_key(
        Description="acme webhook signing", KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY"
    )
    return store["Arn"]


def _databases(endpoint: str, key_arn: str) -> None:
    ec2 = client("ec2", endpoint, EU)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    rds = client("rds", endpoint, EU)
    rds.create_db_subnet_group(
        DBSubnetGroupName="message-store-private",
        DBSubnetGroupDescription="private subnets of the message store",
        SubnetIds=sorted(s["SubnetId"] for s in subnets)[:2],
    )
    rds.create_db_instance(
        DBInstanceIdentifier="message-store", DBInstanceClass="db.r6g.large", Engine="postgres",
        EngineVersion="16.3", AllocatedStorage=200, MasterUsername="app", MasterUserPassword=SANDBOX_PASSWORD,
        StorageEncrypted=True, KmsKeyId=key_arn, BackupRetentionPeriod=14, MultiAZ=True, DeletionProtection=True,
        EnableIAMDatabaseAuthentication=True, PubliclyAccessible=False, DBSubnetGroupName="message-store-private",
        Tags=tag_list(EU_OWNER_TAGS),
    )  # fmt: skip
    rds.create_db_cluster(
        DBClusterIdentifier="chat-history", Engine="aurora-postgresql", EngineVersion="15.4", MasterUsername="app",
        MasterUserPassword=SANDBOX_PASSWORD, StorageEncrypted=True, KmsKeyId=key_arn, BackupRetentionPeriod=7,
        DeletionProtection=True, DBSubnetGroupName="message-store-private", Tags=tag_list(EU_OWNER_TAGS),
    )  # fmt: skip
    us = client("rds", endpoint, US)
    us.create_db_instance(
        DBInstanceIdentifier="legacy-reports", DBInstanceClass="db.t3.micro", Engine="mysql", EngineVersion="8.0.35",
        AllocatedStorage=20, MasterUsername="admin", MasterUserPassword=SANDBOX_PASSWORD, PubliclyAccessible=True,
        BackupRetentionPeriod=0, Tags=tag_list(LEGACY_REPORTS_TAGS),
    )  # fmt: skip
    us.create_db_cluster(
        DBClusterIdentifier="analytics", Engine="aurora-mysql", MasterUsername="admin",
        MasterUserPassword=SANDBOX_PASSWORD, BackupRetentionPeriod=1, Tags=tag_list({"owner": "data-team"}),
    )  # fmt: skip


def _tables(endpoint: str, key_arn: str) -> None:
    eu = client("dynamodb", endpoint, EU)
    eu.create_table(
        TableName="chat-messages", SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn},
        Tags=tag_list(EU_OWNER_TAGS), **KEY_SCHEMA,
    )  # fmt: skip
    eu.update_continuous_backups(
        TableName="chat-messages", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    client("dynamodb", endpoint, US).create_table(
        TableName="presence", Tags=tag_list({"team": "realtime", "data-classification": "internal"}), **KEY_SCHEMA
    )


def _messaging(endpoint: str, key_arn: str) -> None:
    client("sns", endpoint, EU).create_topic(Name="message-events", Attributes={"KmsMasterKeyId": key_arn})
    client("sns", endpoint, US).create_topic(Name="push-notifications")
    eu = client("sqs", endpoint, EU)
    eu.create_queue(QueueName="media-transcode", Attributes={"KmsMasterKeyId": key_arn})
    eu.create_queue(QueueName="delivery-receipts", Attributes={"SqsManagedSseEnabled": "true"})
    client("sqs", endpoint, US).create_queue(QueueName="legacy-webhooks", Attributes={"SqsManagedSseEnabled": "false"})


def _rotation_function(endpoint: str) -> str:
    """A rotation Lambda function: moto only turns rotation on cleanly for a function that exists."""
    role = client("iam", endpoint, US).create_role(
        RoleName="acme-secrets-rotation", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("rotate.py", "def handler(event, context):\n    return None\n")
    return client("lambda", endpoint, EU).create_function(
        FunctionName="rotate-message-store-db", Runtime="python3.12", Role=role, Handler="rotate.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]  # fmt: skip


def _secrets(endpoint: str, key_arn: str) -> None:
    eu = client("secretsmanager", endpoint, EU)
    db = eu.create_secret(
        Name="prod/message-store/db", Description="message store credentials", KmsKeyId=key_arn,
        SecretString=json.dumps({"username": "app", "password": SANDBOX_PASSWORD}),
    )  # fmt: skip
    eu.rotate_secret(
        SecretId=db["ARN"], RotationLambdaARN=_rotation_function(endpoint),
        RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False,
    )  # fmt: skip
    client("secretsmanager", endpoint, US).create_secret(
        Name="prod/push/apns-key", Description="APNs signing key", SecretString="sandbox-only-not-a-key"
    )


def seed(endpoint: str) -> None:
    """Create the data estate in eu-west-1 (done right) and us-east-1 (legacy) on the sandbox endpoint."""
    key_arn = _keys(endpoint)
    _databases(endpoint, key_arn)
    _tables(endpoint, key_arn)
    _messaging(endpoint, key_arn)
    _secrets(endpoint, key_arn)
