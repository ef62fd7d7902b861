"""DynamoDB tables: encryption at rest, point-in-time recovery and tags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import botocore.exceptions

from connectors.aws.clients import AwsClients, error_code, get_or_absent, list_all, strip_metadata
from connectors.aws.provenance import source
from connectors.aws.tags import redact_tags, tag_map
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

TABLE_TYPE = "AWS::DynamoDB::Table"
# Every table is encrypted at rest; without an SSEDescription it is with a key DynamoDB owns.
AWS_OWNED = "AWS_OWNED"
GONE = "ResourceNotFoundException"  # what DescribeTable and ListTagsOfResource answer for a deleted table


def table_arn(partition: str, region: str, account_id: str, name: str) -> str:
    return f"arn:{partition}:dynamodb:{region}:{account_id}:table/{name}"


def list_tables(aws: AwsClients, region: str) -> tuple[list[str], dict[str, Any]]:
    """Every table name of the region and the provenance of the listing; read once per run per region."""
    return aws.memo(
        f"dynamodb:tables:{region}", lambda: list_all(aws.client("dynamodb", region), "list_tables", "TableNames")
    )


def each_table(
    aws: AwsClients, region: str, method: str, gone_code: str
) -> Iterator[tuple[str, dict, list[dict[str, Any]]]]:
    """For every table: (name, answer of one per-table call, provenance), the calls running concurrently.

    A table deleted between the listing and the call answers `gone_code`: it no longer exists, so it
    yields no evidence (and its earlier state ends as removed), rather than failing the region.
    """
    names, list_op = list_tables(aws, region)
    call: Callable[..., Any] = getattr(aws.client("dynamodb", region), method)

    def ask(name: str) -> tuple[str, dict | None, list[dict[str, Any]]]:
        resp, op = get_or_absent(call, gone_code, {"TableName": name})
        return name, resp, [list_op, op]

    for name, resp, ops in aws.fan_out(ask, names):
        if resp is not None:
            yield name, resp, ops


@evidence_kind(
    "aws.dynamodb.table.encryption",
    regional=True,
    permissions=("dynamodb:ListTables", "dynamodb:DescribeTable"),
)
def collect_table_encryption(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Server-side encryption at rest of every DynamoDB table, and which kind of key does it."""
    for _name, resp, ops in each_table(aws, scope, "describe_table", GONE):
        yield observe_table_encryption(resp, scope, source(aws, "dynamodb", ops))


def observe_table_encryption(response: dict, region: str, provenance: dict) -> Evidence:
    table = response["Table"]
    sse = table.get("SSEDescription") or {}
    return Evidence(
        kind="aws.dynamodb.table.encryption",
        resource_id=table["TableArn"],
        resource_type=TABLE_TYPE,
        region=region,
        observed={
            "sse_type": sse.get("SSEType") or AWS_OWNED,
            "sse_status": sse.get("Status"),
            "kms_key_arn": sse.get("KMSMasterKeyArn"),
        },
        source=provenance,
        raw=redact(to_jsonable(strip_metadata(response))),
    )


@evidence_kind(
    "aws.dynamodb.table.backup",
    regional=True,
    permissions=("dynamodb:ListTables", "dynamodb:DescribeContinuousBackups"),
)
def collect_table_backup(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Point-in-time recovery (continuous backups) of every DynamoDB table."""
    for name, resp, ops in each_table(aws, scope, "describe_continuous_backups", "TableNotFoundException"):
        yield observe_table_backup(aws.partition, aws.account_id, scope, name, resp, source(aws, "dynamodb", ops))


def observe_table_backup(
    partition: str, account_id: str, region: str, name: str, response: dict, provenance: dict
) -> Evidence:
    backups = response["ContinuousBackupsDescription"]
    pitr = backups.get("PointInTimeRecoveryDescription") or {}
    return Evidence(
        kind="aws.dynamodb.table.backup",
        resource_id=table_arn(partition, region, account_id, name),
        resource_type=TABLE_TYPE,
        region=region,
        observed={
            "pitr_enabled": pitr.get("PointInTimeRecoveryStatus") == "ENABLED",
            "recovery_period_days": pitr.get("RecoveryPeriodInDays"),
        },
        source=provenance,
        raw=redact(to_jsonable(strip_metadata(response))),
    )


def each_table_tags(aws: AwsClients, region: str) -> Iterator[tuple[str, list[dict], list[dict[str, Any]]]]:
    """For every table: (name, its tags across every ListTagsOfResource page, provenance), concurrently.

    As in `each_table`, a table deleted between the listing and its call (`GONE`) yields nothing."""
    names, list_op = list_tables(aws, region)
    client = aws.client("dynamodb", region)
    partition, account_id = aws.partition, aws.account_id

    def ask(name: str) -> tuple[str, list[dict] | None, list[dict[str, Any]]]:
        arn = table_arn(partition, region, account_id, name)
        try:
            tags, op = list_all(client, "list_tags_of_resource", "Tags", ResourceArn=arn)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != GONE:
                raise
            return name, None, []
        return name, tags, [list_op, op]

    for name, tags, ops in aws.fan_out(ask, names):
        if tags is not None:
            yield name, tags, ops


@evidence_kind(
    "aws.dynamodb.table.tags",
    regional=True,
    permissions=("dynamodb:ListTables", "dynamodb:ListTagsOfResource"),
)
def collect_table_tags(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """The tags (labels) of every DynamoDB table, such as its owner and data classification."""
    for name, tags, ops in each_table_tags(aws, scope):
        yield observe_table_tags(aws.partition, aws.account_id, scope, name, tags, source(aws, "dynamodb", ops))


def observe_table_tags(
    partition: str, account_id: str, region: str, name: str, tags: list[dict], provenance: dict
) -> Evidence:
    """`tags`: the `Tags` of every ListTagsOfResource page, in order."""
    return Evidence(
        kind="aws.dynamodb.table.tags",
        resource_id=table_arn(partition, region, account_id, name),
        resource_type=TABLE_TYPE,
        region=region,
        observed={"tags": tag_map(tags)},
        source=provenance,
        raw=redact(redact_tags(to_jsonable({"Tags": tags}))),
    )
