"""Sandbox audit logging and monitoring: CloudTrail, CloudWatch Logs, AWS Config and GuardDuty.

eu-west-1 is done right (a logging, validated, encrypted multi-region trail delivered to an encrypted
log group with retention; an account-level data protection policy masking e-mail addresses and European
phone numbers in every log group, and the chat API's group masking client IP addresses too; Config
recording everything; GuardDuty enabled). us-east-1 is not: a stopped single-region legacy trail, log
groups kept forever unencrypted (the export API's only audits personal data, the worker's has no data
protection policy at all), a stopped Config recorder limited to two resource types, and no GuardDuty detector.
The EU log buckets name their owner and data classification; the legacy trail bucket only its team.
"""

from __future__ import annotations

import json
from typing import Any

from collector.sandbox.base import ACCOUNT_ID, SECURITY_OWNER_TAGS, client, tag_list

TRAIL_BUCKET = "acme-cloudtrail-eu"
LEGACY_TRAIL_BUCKET = "acme-cloudtrail-legacy-us"
CONFIG_BUCKET = "acme-config-history-eu"
DATA_IDENTIFIER = "arn:aws:dataprotection::aws:data-identifier/{}"  # AWS managed data identifiers
LOG_POLICY_TYPES = ("DATA_PROTECTION_POLICY", "SUBSCRIPTION_FILTER_POLICY", "FIELD_INDEX_POLICY",
                    "TRANSFORMER_POLICY", "METRIC_EXTRACTION_POLICY", "RETENTION_POLICY")  # fmt: skip


# --------------------------------------------------------------------------- moto shims


def install_moto_shims() -> None:
    """Where moto 5.2 is not the AWS API, answer as AWS does. Only reaches a moto running in this process (the
    demo's and the tests' ThreadedMotoServer, `mock_aws`); inert once moto implements the calls. Logs is a
    JSON service answered on one path, so the shim also reaches a server that has served Logs before.

    - CloudWatch Logs PutDataProtectionPolicy, GetDataProtectionPolicy and DeleteDataProtectionPolicy are
      not implemented. The policy is kept on moto's log group (it goes with the group). A group without one
      answers its identifier and no policyDocument; a group that does not exist, ResourceNotFoundException.
    - DescribeLogGroups leaves out `dataProtectionStatus`: ACTIVATED while the group has its own policy,
      DELETED once that was deleted, absent if it never had one.
    - PutAccountPolicy and DescribeAccountPolicies are not implemented. Account policies are kept on the
      region's backend (they are regional), at most one data protection policy per account and region.
    """
    try:
        from moto.logs.models import LogGroup
        from moto.logs.responses import LogsResponse
    except ImportError:  # pragma: no cover - the sandbox extra is not installed
        return
    if hasattr(LogsResponse, "get_data_protection_policy"):
        return
    described = LogGroup.to_describe_dict

    def to_describe_dict(self: Any) -> dict[str, Any]:
        answer = described(self)
        status = getattr(self, "evidence_agent_data_protection_status", None)
        return {**answer, "dataProtectionStatus": status} if status else answer

    LogGroup.to_describe_dict = to_describe_dict
    LogsResponse.put_data_protection_policy = _put_data_protection_policy
    LogsResponse.get_data_protection_policy = _get_data_protection_policy
    LogsResponse.delete_data_protection_policy = _delete_data_protection_policy
    LogsResponse.put_account_policy = _put_account_policy
    LogsResponse.describe_account_policies = _describe_account_policies


def _log_group(response: Any) -> tuple[str, Any]:
    """(the identifier as asked, moto's log group): `logGroupIdentifier` is a name or the group's ARN."""
    from moto.logs.exceptions import ResourceNotFoundException

    identifier = response._get_param("logGroupIdentifier")
    name = identifier.split(":log-group:", 1)[1] if identifier.startswith("arn:") else identifier
    group = response.logs_backend.groups.get(name)
    if group is None:
        raise ResourceNotFoundException()
    return identifier, group


def _checked_document(document: str) -> str:
    """A data protection policy AWS would take: JSON statements, each naming data identifiers and an Audit or a
    Deidentify operation, Deidentify masking (`"MaskConfig": {}`). Unlike AWS's API reference it does not insist
    on an Audit and a Deidentify statement on the same identifiers: the sandbox keeps an audit-only policy."""
    from moto.logs.exceptions import InvalidParameterException

    def valid(statement: dict[str, Any]) -> bool:
        operation = statement["Operation"]
        if not (statement["DataIdentifier"] and operation and set(operation) <= {"Audit", "Deidentify"}):
            return False
        return operation.get("Deidentify", {"MaskConfig": {}}) == {"MaskConfig": {}}

    try:
        statements = json.loads(document)["Statement"]
        ok = bool(statements) and all(valid(s) for s in statements)
    except (ValueError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        raise InvalidParameterException(msg="Invalid data protection policy document")
    return document


def _now_ms() -> int:
    from moto.core.utils import unix_time_millis

    return int(unix_time_millis())


def _put_data_protection_policy(self: Any) -> str:
    identifier, group = _log_group(self)
    document = _checked_document(self._get_param("policyDocument"))
    group.evidence_agent_data_protection = {"policyDocument": document, "lastUpdatedTime": _now_ms()}
    group.evidence_agent_data_protection_status = "ACTIVATED"
    return json.dumps({"logGroupIdentifier": identifier, **group.evidence_agent_data_protection})


def _get_data_protection_policy(self: Any) -> str:
    identifier, group = _log_group(self)
    return json.dumps({"logGroupIdentifier": identifier, **getattr(group, "evidence_agent_data_protection", {})})


def _delete_data_protection_policy(self: Any) -> str:
    from moto.logs.exceptions import ResourceNotFoundException

    _, group = _log_group(self)
    if not getattr(group, "evidence_agent_data_protection", {}):
        raise ResourceNotFoundException("The specified data protection policy does not exist.")
    group.evidence_agent_data_protection = {}
    group.evidence_agent_data_protection_status = "DELETED"
    return ""


def _account_policies(response: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """The region's account policies, by (policy type, policy name)."""
    backend = response.logs_backend
    if not hasattr(backend, "evidence_agent_account_policies"):
        backend.evidence_agent_account_policies = {}
    return backend.evidence_agent_account_policies


def _put_account_policy(self: Any) -> str:
    from moto.logs.exceptions import InvalidParameterException, LimitExceededException

    name, kind = self._get_param("policyName"), self._get_param("policyType")
    document, criteria = self._get_param("policyDocument"), self._get_param("selectionCriteria")
    if kind not in LOG_POLICY_TYPES:
        raise InvalidParameterException(constraint=f"Member must satisfy enum value set: {list(LOG_POLICY_TYPES)}",
                                        parameter="policyType", value=kind)  # fmt: skip
    policies = _account_policies(self)
    if kind == "DATA_PROTECTION_POLICY":
        _checked_document(document)
        if criteria:
            raise InvalidParameterException(msg="selectionCriteria is not valid for a data protection policy")
        if any(k == kind and n != name for k, n in policies):  # one per account and region
            raise LimitExceededException()
    policy = {
        "policyName": name,
        "policyDocument": document,
        "lastUpdatedTime": _now_ms(),
        "policyType": kind,
        "scope": self._get_param("scope") or "ALL",
        "selectionCriteria": criteria,
        "accountId": self.logs_backend.account_id,
    }
    policies[(kind, name)] = {k: v for k, v in policy.items() if v is not None}
    return json.dumps({"accountPolicy": policies[(kind, name)]})


def _describe_account_policies(self: Any) -> str:
    kind, name = self._get_param("policyType"), self._get_param("policyName")
    found = [p for (k, n), p in sorted(_account_policies(self).items()) if k == kind and name in (None, n)]
    return json.dumps({"accountPolicies": found})


# --------------------------------------------------------------------------- seeding


def _data_protection(name: str, identifiers: list[str], findings: dict[str, Any], mask: bool = True) -> str:
    """A data protection policy auditing the AWS managed data identifiers (findings sent to `findings`) and,
    with `mask`, masking them: AWS's two statements on the same identifiers. Without: it only audits."""
    arns = [DATA_IDENTIFIER.format(i) for i in identifiers]
    audit = {"Sid": "audit", "DataIdentifier": arns, "Operation": {"Audit": {"FindingsDestination": findings}}}
    masking = {"Sid": "mask", "DataIdentifier": arns, "Operation": {"Deidentify": {"MaskConfig": {}}}}
    return json.dumps({"Name": name, "Version": "2021-06-01", "Statement": [audit, masking] if mask else [audit]})


def _trusting(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def _seed_eu(endpoint: str) -> None:
    region = "eu-west-1"
    key = client("kms", endpoint, region).create_key(Description="audit logs at rest")["KeyMetadata"]["Arn"]
    s3 = client("s3", endpoint, region)
    s3.create_bucket(Bucket=TRAIL_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_tagging(Bucket=TRAIL_BUCKET, Tagging={"TagSet": tag_list(SECURITY_OWNER_TAGS)})

    logs = client("logs", endpoint, region)
    logs.create_log_group(logGroupName="/aws/cloudtrail/acme-audit", kmsKeyId=key)
    logs.put_retention_policy(logGroupName="/aws/cloudtrail/acme-audit", retentionInDays=365)
    logs.create_log_group(logGroupName="/acme/chat-media/api", kmsKeyId=key)
    logs.put_retention_policy(logGroupName="/acme/chat-media/api", retentionInDays=90)
    logs.create_log_group(logGroupName="/acme/message-store/queries")  # never expires, no customer key
    group_arn = logs.describe_log_groups(logGroupNamePrefix="/aws/cloudtrail/acme-audit")["logGroups"][0]["arn"]
    # Every EU log group masks e-mail addresses and European phone numbers (the account policy); the chat API's
    # also masks client IP addresses (its own policy; the two are cumulative).
    findings = {"S3": {"Bucket": "acme-audit-logs-eu"}}
    logs.put_account_policy(
        policyName="acme-personal-data",
        policyType="DATA_PROTECTION_POLICY",
        scope="ALL",
        policyDocument=_data_protection(
            "acme-personal-data", ["EmailAddress", "PhoneNumber-DE", "PhoneNumber-FR", "PhoneNumber-GB"], findings
        ),
    )
    logs.put_data_protection_policy(
        logGroupIdentifier="/acme/chat-media/api",
        policyDocument=_data_protection("chat-api-client-addresses", ["IpAddress"], findings),
    )

    role = client("iam", endpoint).create_role(
        RoleName="acme-cloudtrail-to-logs", AssumeRolePolicyDocument=_trusting("cloudtrail.amazonaws.com")
    )["Role"]["Arn"]
    trail = client("cloudtrail", endpoint, region)
    trail.create_trail(
        Name="acme-audit",
        S3BucketName=TRAIL_BUCKET,
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
        KmsKeyId=key,
        CloudWatchLogsLogGroupArn=group_arn,
        CloudWatchLogsRoleArn=role,
    )
    trail.put_event_selectors(
        TrailName="acme-audit",
        EventSelectors=[
            {
                "ReadWriteType": "All",
                "IncludeManagementEvents": True,
                "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::acme-chat-media-eu/"]}],
            }
        ],
    )
    trail.start_logging(Name="acme-audit")

    s3.create_bucket(Bucket=CONFIG_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_tagging(Bucket=CONFIG_BUCKET, Tagging={"TagSet": tag_list(SECURITY_OWNER_TAGS)})
    config = client("config", endpoint, region)
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": CONFIG_BUCKET})
    config.start_configuration_recorder(ConfigurationRecorderName="default")

    client("guardduty", endpoint, region).create_detector(
        Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", DataSources={"S3Logs": {"Enable": True}}
    )


def _seed_us(endpoint: str) -> None:
    region = "us-east-1"
    s3 = client("s3", endpoint, region)
    s3.create_bucket(Bucket=LEGACY_TRAIL_BUCKET)
    s3.put_bucket_tagging(
        Bucket=LEGACY_TRAIL_BUCKET,
        Tagging={"TagSet": tag_list({"team": "legacy-exports", "data-classification": "internal"})},
    )
    # A legacy single-region trail: never started, no log file validation, no KMS key.
    client("cloudtrail", endpoint, region).create_trail(
        Name="acme-legacy-exports", S3BucketName=LEGACY_TRAIL_BUCKET, IncludeGlobalServiceEvents=False
    )
    logs = client("logs", endpoint, region)
    logs.create_log_group(logGroupName="/acme/legacy-exports/worker")  # no data protection policy
    logs.create_log_group(logGroupName="/acme/legacy-exports/api")
    logs.put_data_protection_policy(  # finds personal data in the events, masks none of it
        logGroupIdentifier="/acme/legacy-exports/api",
        policyDocument=_data_protection(
            "legacy-exports-personal-data", ["EmailAddress", "PhoneNumber-US"],
            {"S3": {"Bucket": "acme-legacy-exports"}}, mask=False,
        ),
    )  # fmt: skip
    client("config", endpoint, region).put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig",
            "recordingGroup": {
                "allSupported": False,
                "includeGlobalResourceTypes": False,
                "resourceTypes": ["AWS::S3::Bucket", "AWS::EC2::Instance"],
            },
        }
    )  # created but never started
    # No GuardDuty detector in us-east-1.


def seed(endpoint: str) -> None:
    """Audit logging and monitoring for the messaging company, right in eu-west-1 and wrong in us-east-1."""
    install_moto_shims()
    _seed_eu(endpoint)
    _seed_us(endpoint)
