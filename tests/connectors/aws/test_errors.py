"""SDK failures map to typed gap reasons in one place."""

from __future__ import annotations

import botocore.exceptions
import pytest

from connectors.aws.clients import translate_error
from connectors.base import GapReason


def client_error(code: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": "m"}}, "SomeOperation")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("AccessDenied", GapReason.DENIED),
        ("AccessDeniedException", GapReason.DENIED),
        ("UnauthorizedOperation", GapReason.DENIED),
        ("Throttling", GapReason.THROTTLED),
        ("ThrottlingException", GapReason.THROTTLED),
        ("SlowDown", GapReason.THROTTLED),
        ("RequestLimitExceeded", GapReason.THROTTLED),
        ("OptInRequired", GapReason.DISABLED),
        ("InvalidClientTokenId", GapReason.DISABLED),
        ("InternalError", GapReason.ERROR),
    ],
)
def test_client_error_codes(code, reason):
    err = translate_error(client_error(code))
    assert err is not None and err.reason == reason
    assert err.operation == "SomeOperation" and code in err.message


def test_unreachable_endpoint_is_a_timeout():
    exc = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    err = translate_error(exc)
    assert err is not None and err.reason == GapReason.TIMEOUT


def test_missing_credentials_is_denied():
    err = translate_error(botocore.exceptions.NoCredentialsError())
    assert err is not None and err.reason == GapReason.DENIED


def test_non_sdk_errors_are_not_translated():
    assert translate_error(KeyError("x")) is None
