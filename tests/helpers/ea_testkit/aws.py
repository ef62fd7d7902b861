"""AWS test helpers: configs pointing at moto, and botocore `before-send` fault injection."""

from __future__ import annotations

import io
import threading
import zlib
from collections.abc import Callable
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from collector.config import Config, TargetConfig
from connectors.aws import AwsClients

ERROR_BODIES = {
    "ec2": (
        "text/xml",
        "<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
        "<RequestID>fault-1</RequestID></Response>",
    ),
    "json": ("application/x-amz-json-1.1", '{{"__type":"{code}","message":"{message}"}}'),
    "query": (
        "text/xml",
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>fault-1</RequestId></ErrorResponse>",
    ),
    "rest-xml": ("application/xml", "<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
}


THROTTLE_CODES = {"rest-xml": "SlowDown", "query": "Throttling", "ec2": "RequestLimitExceeded",
                  "json": "ThrottlingException"}  # fmt: skip


def protocol_of(event_name: str, request: Any) -> str:
    """The wire protocol of a request seen in a session-wide `before-send` handler (it gets no model)."""
    service = event_name.split(".")[1]
    if service in ("s3", "s3-control"):
        return "rest-xml"
    if service == "ec2":
        return "ec2"
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    if request.method == "POST" and body.startswith(b"Action="):
        return "query"
    return "json"


def error_response(request: Any, protocol: str, code: str, status: int, message: str) -> AWSResponse:
    content_type, template = ERROR_BODIES[protocol]
    body = template.format(code=code, message=message).encode()
    return AWSResponse(request.url, status, {"Content-Type": content_type}, _Body(body))


class _Body(io.BytesIO):
    def stream(self, **_: Any):
        yield self.getvalue()


# moto's credential report has no <root_account> row, so that kind is a gap by design against moto
# (tests/connectors/aws/test_iam.py covers it); runs that must be `complete` leave it out.
MOTO_BLIND = ["aws.iam.account.root"]


def aws_config(endpoint: str, db_url: str, **target: Any) -> Config:
    spec = {
        "name": "prod",
        "provider": "aws",
        "regions": ["eu-west-1", "us-east-1"],
        "endpoint_url": endpoint,
        "exclude_kinds": MOTO_BLIND,
    }
    return Config.model_validate({"database_url": db_url, "concurrency": 4, "targets": [spec | target]})


def faulty_session(faults: dict[str, tuple[str, int]]) -> boto3.Session:
    """A session whose clients answer `"service.Operation": (error code, http status)` without calling out."""
    session = boto3.Session(region_name="us-east-1")

    def handler_for(code: str, status: int, region: str | None) -> Callable[..., AWSResponse | None]:
        def handler(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
            # SigV4 names the region in the credential scope: ".../20261127/eu-west-1/kms/aws4_request"
            if region and f"/{region}/" not in str(request.headers.get("Authorization", "")):
                return None
            return error_response(request, protocol_of(event_name, request), code, status, f"injected {code}")

        return handler

    for key, (code, status) in faults.items():
        event, _, region = key.partition("@")
        name = "before-send" if event == "*" else f"before-send.{event}"
        session.events.register(name, handler_for(code, status, region or None))
    return session


def opener(session: boto3.Session) -> Callable[[TargetConfig], AwsClients]:
    """An `open_target` for the runner that builds the target's clients on a prepared session."""
    return lambda target: AwsClients(target.connector_target(), session=session)


def throttling_session(share: float = 0.3, always: set[str] | None = None) -> tuple[boto3.Session, dict[str, Any]]:
    """A session that throttles the first attempt of about `share` of distinct requests (chosen by a hash
    of method, URL and body, so the choice is deterministic), and every attempt of the operations named
    in `always` ("service.Operation"). Retries then go through botocore's real retry loop."""
    session = boto3.Session(region_name="us-east-1")
    seen: dict[bytes, int] = {}
    stats: dict[str, Any] = {"throttled": 0, "sent": 0, "attempts": seen}
    always = always or set()

    lock = threading.Lock()

    def handler(request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        key = f"{request.method} {request.url}".encode() + body
        with lock:
            stats["sent"] += 1
            attempt = seen.get(key, 0)
            seen[key] = attempt + 1
            name = ".".join(event_name.split(".")[1:3])
            if name not in always and not (zlib.crc32(key) % 1000 < share * 1000 and attempt == 0):
                return None
            stats["throttled"] += 1
        protocol = protocol_of(event_name, request)
        status = 503 if protocol == "rest-xml" else 400
        return error_response(request, protocol, THROTTLE_CODES[protocol], status, "Rate exceeded")

    session.events.register_first("before-send", handler)
    return session, stats
