"""SNS topics: server-side encryption of stored messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, get_or_absent, list_all, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

TOPIC_TYPE = "AWS::SNS::Topic"


def topic_attributes(aws: AwsClients, region: str) -> list[tuple[dict, list[dict[str, Any]]]]:
    """GetTopicAttributes of every topic of the region, with provenance; the calls run concurrently.

    A topic deleted between the listing and its call answers NotFound: it no longer exists, so it is
    left out (its earlier state ends as removed) rather than failing the region.
    """
    sns = aws.client("sns", region)
    topics, list_op = list_all(sns, "list_topics", "Topics")

    def ask(topic: dict[str, Any]) -> tuple[dict | None, list[dict[str, Any]]]:
        resp, op = get_or_absent(sns.get_topic_attributes, "NotFound", {"TopicArn": topic["TopicArn"]})
        return resp, [list_op, op]

    return [(resp, ops) for resp, ops in aws.fan_out(ask, topics) if resp is not None]


@evidence_kind("aws.sns.topic.encryption", regional=True, permissions=("sns:ListTopics", "sns:GetTopicAttributes"))
def collect_topic_encryption(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Server-side encryption (KMS) of every SNS topic."""
    for resp, ops in topic_attributes(aws, scope):
        yield observe_topic_encryption(resp, scope, source(aws, "sns", ops))


def observe_topic_encryption(response: dict, region: str, provenance: dict) -> Evidence:
    attributes = response["Attributes"]
    key = attributes.get("KmsMasterKeyId") or None
    return Evidence(
        kind="aws.sns.topic.encryption",
        resource_id=attributes["TopicArn"],
        resource_type=TOPIC_TYPE,
        region=region,
        observed={
            "encrypted": key is not None,
            "kms_master_key_id": key,
        },
        source=provenance,
        raw=redact(to_jsonable(strip_metadata(response))),
    )
