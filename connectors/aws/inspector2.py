"""Amazon Inspector: whether the account's vulnerability scanning is on in the region, and for which resources."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from connectors.aws.arns import ACCOUNT_TYPE, account_setting_arn
from connectors.aws.clients import AwsClients, operation, strip_metadata
from connectors.aws.provenance import source
from connectors.base import CollectionError, Evidence, GapReason, evidence_kind, redact, to_jsonable

ENABLED = "ENABLED"
# Inspector's own answer for an account its caller may not read (a per-account failure inside a 200 answer).
DENIED_ERROR = "ACCESS_DENIED"


def scan_type_name(key: str) -> str:
    """The answer's camelCase resource key as Inspector's scan type names it: `lambdaCode` -> `LAMBDA_CODE`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).upper()


@evidence_kind("aws.inspector2.account.status", regional=True, permissions=("inspector2:BatchGetAccountStatus",))
def collect_account_status(aws: AwsClients, scope: str) -> Iterator[Evidence]:
    """Amazon Inspector in the region: the account's status and which resource types it scans."""
    params = {"accountIds": [aws.account_id]}
    resp = aws.client("inspector2", scope).batch_get_account_status(**params)
    provenance = source(aws, "inspector2", [operation("BatchGetAccountStatus", params, resp)])
    yield observe_account_status(aws.partition, aws.account_id, scope, to_jsonable(strip_metadata(resp)), provenance)


def account_state(account_id: str, response: dict[str, Any]) -> dict[str, Any]:
    """The account's entry of a BatchGetAccountStatus answer.

    The account's status comes back in `accounts` (DISABLED when Inspector was never turned on), or
    the call fails for it in `failedAccounts`: that is a gap (denied, or Inspector's error), never "off".
    """
    for state in response["accounts"]:
        if state["accountId"] == account_id:
            return state
    for failed in response.get("failedAccounts", []):
        if failed["accountId"] == account_id:
            code = failed.get("errorCode") or "unknown"
            reason = GapReason.DENIED if code == DENIED_ERROR else GapReason.ERROR
            message = f"{code}: {failed.get('errorMessage') or 'no status for the account'}"
            raise CollectionError(reason, message, operation="BatchGetAccountStatus")
    raise CollectionError(
        GapReason.ERROR,
        f"BatchGetAccountStatus answered neither a status nor a failure for account {account_id}",
        operation="BatchGetAccountStatus",
    )


def observe_account_status(
    partition: str, account_id: str, region: str, response: dict[str, Any], provenance: dict[str, Any]
) -> Evidence:
    """`response`: the BatchGetAccountStatus answer for the account (JSON-safe, without transport metadata)."""
    state = account_state(account_id, response)
    scanning = {scan_type_name(key): value["status"] for key, value in sorted(state["resourceState"].items())}
    return Evidence(
        kind="aws.inspector2.account.status",
        resource_id=account_setting_arn(partition, "inspector2", region, account_id),
        resource_type=ACCOUNT_TYPE,
        region=region,
        observed={
            "status": state["state"]["status"],
            "scanning_enabled": sorted(name for name, status in scanning.items() if status == ENABLED),
            "scanning_status": dict(sorted(scanning.items())),
        },
        source=provenance,
        raw=redact(to_jsonable(response)),
    )
