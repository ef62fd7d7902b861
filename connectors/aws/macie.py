"""Amazon Macie: whether the account has Macie on in each region (sensitive data discovery for S3).

(Named after the service; the SDK calls it `macie2`, the current Macie.)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import botocore.exceptions

from connectors.aws.arns import ACCOUNT_TYPE, account_setting_arn
from connectors.aws.clients import AwsClients, error_code, error_operation, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import Evidence, evidence_kind, redact, to_jsonable

# For an account and region where Macie was never enabled (or was disabled), GetMacieSession answers
# AccessDeniedException with exactly this message, while an identity that may not call it gets
# AccessDeniedException "User: ... is not authorized to perform: macie2:GetMacieSession ...". Only
# the message tells the fact from the denial; any other AccessDeniedException stays a gap.
NOT_ENABLED_MESSAGE = "Macie is not enabled"
# The API reference also lists ResourceNotFoundException (the Macie session does not exist); moto
# answers it after DisableMacie. It cannot mean a denial, so it is the same fact.
NOT_ENABLED_CODES = frozenset({"ResourceNotFoundException"})


def macie_not_enabled(exc: botocore.exceptions.ClientError) -> bool:
    """The error is Macie saying it is off here, not a refusal to tell."""
    code = error_code(exc)
    if code in NOT_ENABLED_CODES:
        return True
    message = str(exc.response.get("Error", {}).get("Message", ""))
    return code == "AccessDeniedException" and message.startswith(NOT_ENABLED_MESSAGE)


def _utc(session: dict[str, Any]) -> dict[str, Any]:
    """The session's timestamps are UTC; one answered without an offset (moto's) is read as UTC."""
    return {k: v.replace(tzinfo=dt.UTC) if isinstance(v, dt.datetime) and v.tzinfo is None else v
            for k, v in session.items()}  # fmt: skip


@evidence_kind("aws.macie.account.status", regional=True, permissions=("macie2:GetMacieSession",))
def collect_account_status(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Whether Amazon Macie is enabled or paused in the region, and how often it publishes findings."""
    macie = aws.client("macie2", scope)
    try:
        resp = macie.get_macie_session()
    except botocore.exceptions.ClientError as exc:
        if not macie_not_enabled(exc):
            raise
        session, error = None, to_jsonable(exc.response.get("Error", {}))
        op = error_operation("GetMacieSession", {}, exc)
    else:
        session, error = to_jsonable(_utc(strip_metadata(resp))), None
        op = operation("GetMacieSession", {}, resp)
    provenance = source(aws, "macie2", [op])
    yield observe_account_status(aws.partition, aws.account_id, scope, session, error, provenance)


def observe_account_status(
    partition: str,
    account_id: str,
    region: str,
    session: dict[str, Any] | None,
    error: dict[str, Any] | None,
    provenance: dict[str, Any],
) -> Evidence:
    """`session`: the GetMacieSession answer, or None when Macie is not enabled (a fact, not a gap), with
    `error` the error answer that said so."""
    found = session or {}
    return Evidence(
        kind="aws.macie.account.status",
        resource_id=account_setting_arn(partition, "macie2", region, account_id),
        resource_type=ACCOUNT_TYPE,
        region=region,
        observed={
            "enabled": found.get("status") == "ENABLED",
            "status": session["status"] if session else None,
            "finding_publishing_frequency": found.get("findingPublishingFrequency"),
        },
        source=provenance,
        raw=redact(to_jsonable({"session": session, "error": error})),
    )
