"""AWS test helpers: configs pointing at moto, and botocore `before-send` fault injection."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

from collector.config import Config, TargetConfig
from connectors.aws import AwsClients

ERROR_BODIES = {
    "json": ("application/x-amz-json-1.1", '{{"__type":"{code}","message":"{message}"}}'),
    "query": (
        "text/xml",
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>fault-1</RequestId></ErrorResponse>",
    ),
    "rest-xml": ("application/xml", "<Error><Code>{code}</Code><Message>{message}</Message></Error>"),
}


class _Body(io.BytesIO):
    def stream(self, **_: Any):
        yield self.getvalue()


def aws_config(endpoint: str, db_url: str, **target: Any) -> Config:
    spec = {
        "name": "prod",
        "provider": "aws",
        "regions": ["eu-west-1", "us-east-1"],
        "endpoint_url": endpoint,
    }
    return Config.model_validate({"database_url": db_url, "concurrency": 4, "targets": [spec | target]})


def faulty_session(faults: dict[str, tuple[str, int]]) -> boto3.Session:
    """A session whose clients answer `"service.Operation": (error code, http status)` without calling out."""
    session = boto3.Session(region_name="us-east-1")

    def handler_for(code: str, status: int) -> Callable[..., AWSResponse]:
        def handler(request: Any, model: Any = None, **_: Any) -> AWSResponse:
            protocol = model.service_model.protocol if model is not None else "rest-xml"
            content_type, template = ERROR_BODIES.get(protocol, ERROR_BODIES["json"])
            body = template.format(code=code, message=f"injected {code}").encode()
            return AWSResponse(request.url, status, {"Content-Type": content_type}, _Body(body))

        return handler

    for event, (code, status) in faults.items():
        service, operation = event.split(".")
        session.events.register(f"before-send.{service}.{operation}", handler_for(code, status))
    return session


def opener(session: boto3.Session) -> Callable[[TargetConfig], AwsClients]:
    """An `open_target` for the runner that builds the target's clients on a prepared session."""
    return lambda target: AwsClients(target.connector_target(), session=session)
