"""One place for AWS sessions, clients, retries and error translation.

Every kind gets its clients from `AwsClients`, built once per target per run: standard retry
mode, a bounded connection pool, the target's endpoint. Credentials stay in memory only.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import boto3
import botocore.config
import botocore.exceptions

from connectors.base import CollectionError, GapReason, RunMemo, WorkerPool, agent_version

T = TypeVar("T")

DENIED_CODES = frozenset(
    {
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
        "UnauthorizedAccess", "AllAccessDisabled", "ExpiredToken", "ExpiredTokenException",
    }
)  # fmt: skip
THROTTLED_CODES = frozenset(
    {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "SlowDown",
        "TooManyRequestsException", "RequestThrottled", "RequestThrottledException",
        "ProvisionedThroughputExceededException", "BandwidthLimitExceeded",
    }
)  # fmt: skip
# Opt-in regions that are not enabled answer with an invalid-token error for that region only.
DISABLED_CODES = frozenset(
    {"OptInRequired", "SubscriptionRequiredException", "InvalidClientTokenId", "UnrecognizedClientException"}
)
UNREACHABLE = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectionClosedError,
)


@dataclass(frozen=True)
class AwsTarget:
    """What the connector needs to know of one configured AWS target (no secrets)."""

    name: str
    regions: tuple[str, ...] | None  # None: every region enabled for the account
    endpoint_url: str | None = None
    assume_role_arn: str | None = None
    external_id: str | None = None
    profile: str | None = None
    max_attempts: int = 5
    # At most this many API calls in flight for the target at once, and per service at most its cap.
    concurrency: int = 16
    service_concurrency: tuple[tuple[str, int], ...] = (("iam", 4), ("organizations", 2))
    connect_timeout: float = 10.0
    read_timeout: float = 30.0


def translate_error(exc: BaseException) -> CollectionError | None:
    """Map an SDK exception to a typed CollectionError; None when it is not an AWS failure."""
    if isinstance(exc, CollectionError):
        return exc
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        message = f"{code}: {err.get('Message', '')}".strip()
        if code in DENIED_CODES:
            reason = GapReason.DENIED
        elif code in THROTTLED_CODES:
            reason = GapReason.THROTTLED
        elif code in DISABLED_CODES:
            reason = GapReason.DISABLED
        else:
            reason = GapReason.ERROR
        return CollectionError(reason, message, operation=exc.operation_name)
    if isinstance(exc, UNREACHABLE):
        return CollectionError(GapReason.TIMEOUT, str(exc))
    if isinstance(exc, botocore.exceptions.NoCredentialsError | botocore.exceptions.PartialCredentialsError):
        return CollectionError(GapReason.DENIED, f"no usable AWS credentials: {exc}")
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return CollectionError(GapReason.ERROR, f"{type(exc).__name__}: {exc}")
    return None


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class CallLimiter:
    """Bounds API calls in flight: one slot from the target's pool and one from the service's, per call.

    Hooked on botocore's before-call / after-call / after-call-error events, so paginators and
    retries are covered too. A slot is held only for the length of one call (retries included),
    never while waiting on other work, so it cannot deadlock.
    """

    def __init__(self, total: int, per_service: dict[str, int]):
        self._total = threading.BoundedSemaphore(total)
        self._per_service = {s: threading.BoundedSemaphore(n) for s, n in per_service.items()}

    def attach(self, client: Any) -> None:
        service = client.meta.service_model.service_id.hyphenize()
        gates = [self._total] + ([self._per_service[service]] if service in self._per_service else [])

        def acquire(context: dict, **_: Any) -> None:
            for gate in gates:
                gate.acquire()
            context["evidence_agent_slots"] = gates

        def release(context: dict, **_: Any) -> None:
            for gate in reversed(context.pop("evidence_agent_slots", [])):
                gate.release()

        client.meta.events.register(f"before-call.{service}", acquire)
        client.meta.events.register(f"after-call.{service}", release)
        client.meta.events.register(f"after-call-error.{service}", release)


@dataclass
class AwsClients:
    """Clients for one target for the length of one run; safe to share between worker threads."""

    target: AwsTarget
    session: boto3.Session | None = None
    # Where the target's role is assumed from (organization mode: the management account's session).
    base_session: boto3.Session | None = None
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _memo: RunMemo = field(default_factory=RunMemo, repr=False)
    _create_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def __post_init__(self) -> None:
        self._workers = WorkerPool(self.target.concurrency, f"aws-{self.target.name}")
        self._assume_error: botocore.exceptions.ClientError | None = None
        self._limiter = CallLimiter(self.target.concurrency, dict(self.target.service_concurrency))
        self._config = botocore.config.Config(
            retries={"mode": "standard", "max_attempts": self.target.max_attempts},
            max_pool_connections=self.target.concurrency,
            connect_timeout=self.target.connect_timeout,
            read_timeout=self.target.read_timeout,
            user_agent_extra=f"evidence-agent/{agent_version()}",
        )

    @property
    def default_region(self) -> str:
        return self.target.regions[0] if self.target.regions else "us-east-1"

    def _session(self) -> boto3.Session:
        with self._lock:
            if self.session is None:
                if self._assume_error is not None:  # fail every unit of the account alike, with one call
                    raise self._assume_error
                base = self.base_session or boto3.Session(profile_name=self.target.profile,
                                                          region_name=self.default_region)  # fmt: skip
                try:
                    self.session = self._assume(base) if self.target.assume_role_arn else base
                except botocore.exceptions.ClientError as exc:
                    self._assume_error = exc
                    raise
            return self.session

    def session_for_roles(self) -> boto3.Session:
        """This target's own session, from which roles in other accounts are assumed."""
        return self._session()

    def _assume(self, base: boto3.Session) -> boto3.Session:
        sts = base.client("sts", endpoint_url=self.target.endpoint_url, config=self._config)
        params: dict[str, Any] = {
            "RoleArn": self.target.assume_role_arn,
            "RoleSessionName": "evidence-agent",
        }
        if self.target.external_id:
            params["ExternalId"] = self.target.external_id
        creds = sts.assume_role(**params)["Credentials"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.default_region,
        )

    def client(self, service: str, region: str | None = None) -> Any:
        region = region or self.default_region
        key = (service, region)
        existing = self._clients.get(key)  # no lock to find one: threads never wait on another's creation
        if existing is not None:
            return existing
        # A boto3 session must not create clients from several threads at once: one creation at a time,
        # on its own lock, so memo / fan_out / session users are not held up by a service model loading.
        with self._create_lock:
            if key not in self._clients:
                client = self._session().client(
                    service, region_name=region, endpoint_url=self.target.endpoint_url, config=self._config
                )
                self._limiter.attach(client)
                if service == "s3control" and self.target.endpoint_url:
                    strip_account_host_prefix(client, self.target.endpoint_url)
                self._clients[key] = client
            return self._clients[key]

    def fan_out(self, fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
        """`[fn(item) for item in items]`, run concurrently (per-resource calls of one unit), in order."""
        return self._workers.map(fn, items)

    def close(self) -> None:
        self._workers.close()

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Compute a value once per run (the bucket list, the caller identity), shared by kinds."""
        return self._memo.get(key, compute)

    def identity(self) -> dict[str, str]:
        def call() -> dict[str, str]:
            resp = self.client("sts").get_caller_identity()
            return {"account": resp["Account"], "arn": resp["Arn"]}

        return self.memo("sts:identity", call)

    @property
    def account_id(self) -> str:
        return self.identity()["account"]

    @property
    def partition(self) -> str:
        """`aws`, `aws-cn` or `aws-us-gov`: from the caller's own ARN."""
        return self.identity()["arn"].split(":")[1]


def strip_account_host_prefix(client: Any, endpoint_url: str) -> None:
    """S3 Control puts the account id in front of the host (`123456789012.host`); a private or test
    endpoint has no such names, so send those requests to the configured host itself."""
    endpoint = urllib.parse.urlsplit(endpoint_url)

    def rewrite(request: Any, **_: Any) -> None:
        url = urllib.parse.urlsplit(request.url)
        if url.hostname and endpoint.hostname and url.hostname.endswith("." + endpoint.hostname):
            request.url = urllib.parse.urlunsplit(url._replace(netloc=endpoint.netloc))

    client.meta.events.register("before-send.s3-control", rewrite)


def operation(name: str, params: dict[str, Any], response: dict[str, Any] | None) -> dict[str, Any]:
    """Provenance of one API call: its name, parameters and the request id AWS gave it."""
    meta = (response or {}).get("ResponseMetadata", {})
    return {"operation": name, "params": params, "request_id": meta.get("RequestId")}


def error_operation(name: str, params: dict[str, Any], exc: botocore.exceptions.ClientError) -> dict[str, Any]:
    """Provenance of a call whose error answer is itself the fact (e.g. "no policy configured")."""
    meta = exc.response.get("ResponseMetadata", {})
    return {
        "operation": name,
        "params": params,
        "request_id": meta.get("RequestId"),
        "error": error_code(exc),
    }


def strip_metadata(response: dict[str, Any]) -> dict[str, Any]:
    """The response without volatile transport metadata (request ids live in the provenance)."""
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def list_all(
    client: Any, method: str, result_key: str, *, token: str | None = None, **params: Any
) -> tuple[list[dict], dict[str, Any]]:
    """Every item of a paginated list call across all pages, with the provenance of every page.

    `token`: for a call botocore has no paginator for, the name of the field that carries the next page's
    token in the answer and in the request (`nextToken`); the pages are followed here."""
    items: list[dict] = []
    request_ids: list[str | None] = []
    for page in _pages(client, method, token, params):
        items.extend(page.get(result_key, []))
        request_ids.append(page.get("ResponseMetadata", {}).get("RequestId"))
    name = client.meta.method_to_api_mapping.get(method, method)
    return items, {"operation": name, "params": params, "request_ids": request_ids}


def _pages(client: Any, method: str, token: str | None, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if token is None:
        yield from client.get_paginator(method).paginate(**params)
        return
    call, after = getattr(client, method), None
    while True:
        page = call(**params, **({token: after} if after else {}))
        yield page
        after = page.get(token)
        if not after:
            return


def get_or_absent(call: Any, absent_code: str, params: dict[str, Any]) -> tuple[dict | None, dict[str, Any]]:
    """Call a Get* whose "not configured" error is itself the fact: (response or None, provenance)."""
    name = call.__self__.meta.method_to_api_mapping[call.__name__]
    try:
        resp = call(**params)
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) != absent_code:
            raise
        return None, error_operation(name, params, exc)
    return resp, operation(name, params, resp)
