"""Sandbox security services: Amazon Inspector, ECR image repositories, Security Hub, GuardDuty malware
protection, and how old the IAM users' credentials are.

eu-west-1 is done right: Inspector scans EC2, ECR and Lambda; the registry scans `chat-*` images
continuously and the chat API's tags are immutable; Security Hub evaluates the account against AWS
Foundational Security Best Practices; GuardDuty scans EBS volumes for malware. us-east-1 is legacy:
Inspector scans EC2 only, the export worker's images are never scanned and their tags can be
overwritten, Security Hub was never enabled, there is no GuardDuty detector. The `legacy-export`
IAM user's password and access key were issued over a year ago and never used.

Run after `aws_iam` (the users) and `aws_logging` (the EU GuardDuty detector).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from collector.sandbox.base import ACCOUNT_ID, client

EU, US = "eu-west-1", "us-east-1"
FSBP = "arn:aws:securityhub:{region}::standards/aws-foundational-security-best-practices/v/1.0.0"
LEGACY_USER = "legacy-export"
LEGACY_CREDENTIAL_AGE = dt.timedelta(days=400)


# --------------------------------------------------------------------------- moto shims


def install_moto_shims() -> None:
    """Where moto 5.2 is not the AWS API, answer as AWS does. Only reaches a moto running in this process (the
    demo's and the tests' ThreadedMotoServer, `mock_aws`); install before the server first serves Security Hub.

    - Inspector: BatchGetAccountStatus leaves out an account that never enabled Inspector; AWS answers it
      with status DISABLED for every resource type.
    - Security Hub: GetEnabledStandards and BatchEnableStandards are not implemented; they are answered
      from standards subscriptions kept on the region's backend (READY as soon as enabled).
    """
    try:
        from moto.inspector2.models import AccountStatus, Inspector2Backend
        from moto.securityhub import urls as securityhub_urls
        from moto.securityhub.responses import SecurityHubResponse
    except ImportError:  # pragma: no cover - the sandbox extra is not installed
        return
    if not getattr(Inspector2Backend.batch_get_account_status, "evidence_agent_shim", False):
        answered = Inspector2Backend.batch_get_account_status

        def batch_get_account_status(self: Any, account_ids: list[str]) -> list[dict[str, Any]]:
            known = answered(self, account_ids)
            never = [AccountStatus(a).to_batch_json() for a in account_ids if a not in self.account_status]
            return known + never

        batch_get_account_status.evidence_agent_shim = True  # type: ignore[attr-defined]
        Inspector2Backend.batch_get_account_status = batch_get_account_status
    if not hasattr(SecurityHubResponse, "get_enabled_standards"):
        securityhub_urls.url_paths["{0}/standards/get$"] = SecurityHubResponse.dispatch
        securityhub_urls.url_paths["{0}/standards/register$"] = SecurityHubResponse.dispatch
        SecurityHubResponse.get_enabled_standards = _get_enabled_standards
        SecurityHubResponse.batch_enable_standards = _batch_enable_standards


def _subscriptions(response: Any) -> dict[str, dict[str, Any]]:
    from moto.securityhub.exceptions import SecurityHubClientError

    backend = response.securityhub_backend
    if not backend.enabled:
        raise SecurityHubClientError(
            "InvalidAccessException", f"Account {backend.account_id} is not subscribed to AWS Security Hub"
        )
    if not hasattr(backend, "evidence_agent_standards"):
        backend.evidence_agent_standards = {}
    return backend.evidence_agent_standards


def _get_enabled_standards(self: Any) -> str:
    return json.dumps({"StandardsSubscriptions": list(_subscriptions(self).values())})


def _batch_enable_standards(self: Any) -> str:
    subscriptions = _subscriptions(self)
    enabled = []
    for request in json.loads(self.body or "{}").get("StandardsSubscriptionRequests", []):
        arn = request["StandardsArn"]
        name = arn.rsplit(":", 1)[-1].partition("/")[2]
        backend = self.securityhub_backend
        subscription = {
            "StandardsSubscriptionArn": f"arn:aws:securityhub:{backend.region_name}:{backend.account_id}"
            f":subscription/{name}",
            "StandardsArn": arn,
            "StandardsInput": request.get("StandardsInput", {}),
            "StandardsStatus": "READY",
        }
        subscriptions[arn] = subscription
        enabled.append(subscription)
    return json.dumps({"StandardsSubscriptions": enabled})


# --------------------------------------------------------------------------- seeding


def _inspector(endpoint: str) -> None:
    client("inspector2", endpoint, EU).enable(accountIds=[ACCOUNT_ID], resourceTypes=["EC2", "ECR", "LAMBDA"])
    client("inspector2", endpoint, US).enable(accountIds=[ACCOUNT_ID], resourceTypes=["EC2"])


def _ecr(endpoint: str) -> None:
    eu = client("ecr", endpoint, EU)
    eu.put_registry_scanning_configuration(
        scanType="ENHANCED",
        rules=[{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "chat-*",
                                                                           "filterType": "WILDCARD"}]}],
    )  # fmt: skip
    key = client("kms", endpoint, EU).create_key(Description="container images")["KeyMetadata"]["Arn"]
    eu.create_repository(
        repositoryName="chat-api",
        imageTagMutability="IMMUTABLE",
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": key},
    )
    us = client("ecr", endpoint, US)
    us.create_repository(repositoryName="legacy-export-worker")  # mutable tags, never scanned, AES256
    us.create_repository(repositoryName="legacy-export-base", imageScanningConfiguration={"scanOnPush": True})


def _security_hub(endpoint: str) -> None:
    hub = client("securityhub", endpoint, EU)
    hub.enable_security_hub(EnableDefaultStandards=False)
    hub.batch_enable_standards(StandardsSubscriptionRequests=[{"StandardsArn": FSBP.format(region=EU)}])
    # us-east-1: Security Hub never enabled.


def _guardduty_malware(endpoint: str) -> None:
    guardduty = client("guardduty", endpoint, EU)
    (detector,) = guardduty.list_detectors()["DetectorIds"]
    guardduty.update_detector(DetectorId=detector, Features=[{"Name": "EBS_MALWARE_PROTECTION", "Status": "ENABLED"}])
    # us-east-1 has no detector (aws_logging), so no malware scanning either.


def age_legacy_credentials() -> bool:
    """Date `legacy-export`'s password and access key 400 days back. moto has no API to issue a credential in the
    past, so this edits moto's in-process IAM model; False (and nothing done) when that model is not here."""
    try:
        from moto.iam.models import iam_backends
    except ImportError:  # pragma: no cover - the sandbox extra is not installed
        return False
    user = iam_backends[ACCOUNT_ID]["aws"].users.get(LEGACY_USER)
    if user is None:
        return False
    issued = dt.datetime.now(dt.UTC).replace(tzinfo=None) - LEGACY_CREDENTIAL_AGE  # moto keeps naive UTC
    user.create_date = issued  # the credential report dates the password from the user's creation
    for key in user.access_keys:
        key.create_date = issued
    return True


def seed(endpoint: str) -> None:
    """Security services right in eu-west-1 and missing or partial in us-east-1; legacy credentials left idle."""
    install_moto_shims()
    _inspector(endpoint)
    _ecr(endpoint)
    _security_hub(endpoint)
    _guardduty_malware(endpoint)
    age_legacy_credentials()
