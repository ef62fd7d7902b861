"""SQS queues: server-side encryption of stored messages (SQS-managed keys or KMS)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.aws.clients import AwsClients, get_or_absent, list_all, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

QUEUE_TYPE = "AWS::SQS::Queue"
# ListQueues pages only when MaxResults is given (without it: the first 1000 queues and no token).
PAGE_SIZE = 1000
# Only what the observation needs: the counters and timestamps of "All" change on every message.
ATTRIBUTES = ["QueueArn", "SqsManagedSseEnabled", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds"]
# The query-compatible code botocore reports for a queue that no longer exists.
GONE = "AWS.SimpleQueueService.NonExistentQueue"


def queue_attributes(aws: AwsClients, region: str) -> list[tuple[dict, list[dict[str, Any]]]]:
    """The encryption attributes of every queue of the region, with provenance; the calls run concurrently.

    A queue deleted between the listing and its call is left out (its earlier state ends as removed)
    rather than failing the region.
    """
    sqs = aws.client("sqs", region)
    urls, list_op = list_all(sqs, "list_queues", "QueueUrls", MaxResults=PAGE_SIZE)

    def ask(url: str) -> tuple[dict | None, list[dict[str, Any]]]:
        resp, op = get_or_absent(sqs.get_queue_attributes, GONE, {"QueueUrl": url, "AttributeNames": ATTRIBUTES})
        return resp, [list_op, op]

    return [(resp, ops) for resp, ops in aws.fan_out(ask, urls) if resp is not None]


@evidence_kind("aws.sqs.queue.encryption", regional=True, permissions=("sqs:ListQueues", "sqs:GetQueueAttributes"))
def collect_queue_encryption(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Server-side encryption of every SQS queue: SQS-managed keys (SSE-SQS) or a KMS key (SSE-KMS)."""
    for resp, ops in queue_attributes(aws, scope):
        yield observe_queue_encryption(resp, scope, source(aws, "sqs", ops))


def observe_queue_encryption(response: dict, region: str, provenance: dict) -> Evidence:
    attributes = response["Attributes"]
    sqs_managed = attributes.get("SqsManagedSseEnabled", "false").lower() == "true"
    key = attributes.get("KmsMasterKeyId") or None
    return Evidence(
        kind="aws.sqs.queue.encryption",
        resource_id=attributes["QueueArn"],
        resource_type=QUEUE_TYPE,
        region=region,
        observed={
            "encrypted": sqs_managed or key is not None,
            "sqs_managed_sse": sqs_managed,
            "kms_master_key_id": key,
        },
        source=provenance,
        raw=redact(to_jsonable(strip_metadata(response))),
    )
