"""AWS kinds through real boto3 calls against moto: what is read, and the provenance kept with it."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from connectors import collect_unit
from connectors.aws import AwsClients, AwsTarget
from connectors.base import CollectionError, GapReason, get_kind


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


def test_bucket_encryption_reads_every_bucket_with_its_real_region(aws):
    make_bucket("eu-data", "eu-west-1").put_bucket_encryption(
        Bucket="eu-data",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    make_bucket("us-data", "us-east-1")
    found = {e.resource_id: e for e in collect_unit(get_kind("aws.s3.bucket.encryption"), aws, "global")}
    assert set(found) == {"arn:aws:s3:::eu-data", "arn:aws:s3:::us-data"}
    assert found["arn:aws:s3:::eu-data"].region == "eu-west-1"
    assert found["arn:aws:s3:::us-data"].region == "us-east-1"
    assert found["arn:aws:s3:::eu-data"].observed["algorithm"] == "AES256"
    assert found["arn:aws:s3:::us-data"].observed["encrypted"] is False
    ops = [op["operation"] for op in found["arn:aws:s3:::us-data"].source["operations"]]
    assert ops == ["ListBuckets", "GetBucketLocation", "GetBucketEncryption"]
    last = found["arn:aws:s3:::us-data"].source["operations"][-1]
    assert last["error"] == "ServerSideEncryptionConfigurationNotFoundError" and last["request_id"]
    assert found["arn:aws:s3:::us-data"].source["identity"].startswith("arn:aws:sts::123456789012:")


def test_s3_kinds_share_one_listing_per_run(aws):
    make_bucket("one", "eu-west-1")
    calls: list[str] = []
    aws.client("s3").meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    collect_unit(get_kind("aws.s3.bucket.encryption"), aws, "global")
    collect_unit(get_kind("aws.s3.bucket.public_access_block"), aws, "global")
    assert calls.count("ListBuckets") == 1 and calls.count("GetBucketLocation") == 1


def test_password_policy_absent_is_a_fact_not_a_gap(aws):
    (evidence,) = collect_unit(get_kind("aws.iam.account.password_policy"), aws, "global")
    assert evidence.observed["present"] is False
    boto3.client("iam").update_account_password_policy(MinimumPasswordLength=16)
    fresh = AwsClients(aws.target)
    (evidence,) = collect_unit(get_kind("aws.iam.account.password_policy"), fresh, "global")
    assert evidence.observed["present"] is True and evidence.observed["minimum_length"] == 16


def test_sdk_errors_come_out_typed(aws):
    def deny(**_):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ListBuckets")

    aws.client("s3").meta.events.register("before-call.s3.ListBuckets", deny)
    with pytest.raises(CollectionError) as info:
        collect_unit(get_kind("aws.s3.bucket.public_access_block"), aws, "global")
    assert info.value.reason == GapReason.DENIED and info.value.operation == "ListBuckets"


def test_memo_computes_once_for_concurrent_callers(aws):
    import threading

    started, release = threading.Event(), threading.Event()
    computed = []

    def slow():
        computed.append(1)
        started.set()
        release.wait(timeout=30)
        return "value"

    results = []
    first = threading.Thread(target=lambda: results.append(aws.memo("k", slow)))
    first.start()
    assert started.wait(timeout=30)
    second = threading.Thread(target=lambda: results.append(aws.memo("k", slow)))
    second.start()
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert results == ["value", "value"] and computed == [1]


def test_bucket_region_from_listing_saves_the_location_call(aws):
    """AWS's ListBuckets names each bucket's region when asked with a parameter; moto does not, so the
    answer is given here by a hook, and GetBucketLocation must then not be called at all."""
    make_bucket("eu-data", "eu-west-1")
    s3 = aws.client("s3")
    calls: list[str] = []
    s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))

    def add_region(parsed, model, **_):
        if model.name == "ListBuckets":
            for bucket in parsed.get("Buckets", []):
                bucket["BucketRegion"] = "eu-west-1"

    s3.meta.events.register("after-call.s3.ListBuckets", add_region)
    (evidence,) = collect_unit(get_kind("aws.s3.bucket.encryption"), aws, "global")
    assert evidence.region == "eu-west-1"
    assert "GetBucketLocation" not in calls and calls.count("ListBuckets") == 1
    assert [op["operation"] for op in evidence.source["operations"]] == ["ListBuckets", "GetBucketEncryption"]


def test_close_does_not_deadlock_with_workers_still_in_memo(aws):
    """A fan_out whose first task fails leaves others running; closing must wait for them without
    holding the lock they need."""
    import threading

    release = threading.Event()

    def task(i):
        if i == 0:
            raise RuntimeError("first task fails")
        release.wait(timeout=30)
        return aws.memo(f"k{i}", lambda: i)

    with pytest.raises(RuntimeError):
        aws.fan_out(task, range(4))
    closer = threading.Thread(target=aws.close)
    closer.start()
    release.set()
    closer.join(timeout=30)
    assert not closer.is_alive(), "close() deadlocked"
