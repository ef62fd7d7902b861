"""One place for GCP clients, credentials, retries, paging, provenance and error translation.

Every kind gets its clients from `GcpClients`, built once per target per run. Each client is
created lazily on first use, over the REST transport. With `endpoint` set (the sandbox, tests, a
private endpoint) every client goes to that one base URL with anonymous credentials; otherwise
Application Default Credentials are used (Workload Identity in a cluster), read-only scope.
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import google.auth
import google.auth.exceptions
import requests.exceptions
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.auth.credentials import AnonymousCredentials, Credentials
from google.protobuf import json_format

from connectors.base import CollectionError, GapReason, RunMemo, WorkerPool, agent_version

T = TypeVar("T")

READ_ONLY_SCOPE = "https://www.googleapis.com/auth/cloud-platform.read-only"
PAGE_SIZE = 100  # items asked for per list call (every list API pages; the server may send fewer)
CONCURRENCY = 8  # per-resource calls of one unit in flight at once
CALL_TIMEOUT = 30.0  # seconds per attempt
# Transient answers are retried with exponential backoff, within RETRY_DEADLINE seconds in all.
RETRY_INITIAL, RETRY_MAXIMUM, RETRY_MULTIPLIER, RETRY_DEADLINE = 1.0, 16.0, 2.0, 90.0
TRANSIENT = (
    gexc.TooManyRequests,
    gexc.ResourceExhausted,
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.BadGateway,
    gexc.GatewayTimeout,
    gexc.DeadlineExceeded,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
)
THROTTLED = (gexc.TooManyRequests, gexc.ResourceExhausted)
UNREACHABLE = (
    gexc.DeadlineExceeded,
    gexc.ServiceUnavailable,
    gexc.GatewayTimeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    google.auth.exceptions.TransportError,
)
DISABLED_REASONS = frozenset({"SERVICE_DISABLED", "accessNotConfigured", "API_DISABLED"})


@dataclass(frozen=True)
class GcpTarget:
    """What the connector needs to know of one configured GCP target (no secrets).

    `projects` are read as given; with only `organization_id`, every ACTIVE project found under the
    organization (its folders walked recursively). Organization-level kinds need `organization_id`.
    """

    name: str
    organization_id: str | None = None
    projects: tuple[str, ...] = ()
    endpoint: str | None = None

    def __post_init__(self) -> None:
        if self.organization_id:
            object.__setattr__(self, "organization_id", self.organization_id.removeprefix("organizations/"))
        object.__setattr__(self, "projects", tuple(self.projects))
        if not self.organization_id and not self.projects:
            raise ValueError(f"GCP target {self.name!r}: give organization_id, projects, or both")


def _reason(exc: gexc.GoogleAPICallError) -> str:
    """The machine-readable reason of an API error: ErrorInfo.reason, else the legacy errors[].reason."""
    if exc.reason:
        return str(exc.reason)
    for err in exc.errors or ():
        if isinstance(err, dict) and err.get("reason"):
            return str(err["reason"])
    return ""


def _call(exc: gexc.GoogleAPICallError) -> str | None:
    request = getattr(exc.response, "request", None)
    if request is None or not getattr(request, "url", None):
        return None
    return f"{request.method} {urllib.parse.urlsplit(request.url).path}"


def translate_error(exc: BaseException) -> CollectionError | None:
    """Map a client-library exception to a typed CollectionError; None when it is not a GCP failure."""
    if isinstance(exc, CollectionError):
        return exc
    if isinstance(exc, gexc.RetryError):  # the retry budget ran out: judge by the last failure
        cause = exc.cause
        inner = translate_error(cause) if cause is not None else None
        if inner is not None and inner.reason in (GapReason.THROTTLED, GapReason.TIMEOUT):
            return CollectionError(inner.reason, f"retries exhausted: {inner.message}", operation=inner.operation)
        return CollectionError(GapReason.TIMEOUT, f"retries exhausted: {exc}")
    if isinstance(exc, gexc.GoogleAPICallError):
        reason = _reason(exc)
        message = f"{exc.code} {reason or type(exc).__name__}: {exc.message}".strip()
        if isinstance(exc, gexc.Forbidden | gexc.PermissionDenied):
            gap = GapReason.DISABLED if reason in DISABLED_REASONS else GapReason.DENIED
        elif isinstance(exc, gexc.Unauthorized | gexc.Unauthenticated):
            gap = GapReason.DENIED
        elif isinstance(exc, THROTTLED):
            gap = GapReason.THROTTLED
        elif isinstance(exc, UNREACHABLE):
            gap = GapReason.TIMEOUT
        else:
            gap = GapReason.ERROR
        return CollectionError(gap, message, operation=_call(exc))
    if isinstance(exc, google.auth.exceptions.DefaultCredentialsError | google.auth.exceptions.RefreshError):
        return CollectionError(GapReason.DENIED, f"no usable GCP credentials: {exc}")
    if isinstance(exc, UNREACHABLE):
        return CollectionError(GapReason.TIMEOUT, f"{type(exc).__name__}: {exc}")
    return None


# --------------------------------------------------------------------------- JSON at the boundary


def message_dict(message: Any) -> dict[str, Any]:
    """A proto-plus or raw protobuf message as plain JSON-safe data: proto field names, enums by name,
    only the fields the API set (timestamps RFC 3339, durations like "7776000s")."""
    if hasattr(type(message), "to_dict") and hasattr(type(message), "pb"):  # proto-plus
        return type(message).to_dict(message, use_integers_for_enums=False, always_print_fields_with_no_presence=False)
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def read_pages(pager: Any, field_name: str) -> tuple[list[Any], int]:
    """Every item of a GAPIC pager across all its pages (never only the first), and how many pages."""
    items: list[Any] = []
    pages = 0
    for page in pager.pages:
        pages += 1
        items.extend(getattr(page, field_name))
    return items, pages


def operation(method: str, params: dict[str, Any], pages: int | None = None) -> dict[str, Any]:
    """Provenance of one API method call (the API's method id, e.g. `cloudkms.projects.locations.list`)."""
    op: dict[str, Any] = {"operation": method, "params": params}
    if pages is not None:
        op["pages"] = pages
    return op


# --------------------------------------------------------------------------- clients


@dataclass
class GcpClients:
    """Clients for one target for the length of one run; safe to share between worker threads."""

    target: GcpTarget
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _memo: RunMemo = field(default_factory=RunMemo, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _create_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _credentials: Credentials | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._workers = WorkerPool(CONCURRENCY, f"gcp-{self.target.name}")
        self.retry = gretry.Retry(
            predicate=gretry.if_exception_type(*TRANSIENT),
            initial=RETRY_INITIAL,
            maximum=RETRY_MAXIMUM,
            multiplier=RETRY_MULTIPLIER,
            timeout=RETRY_DEADLINE,
        )
        self.timeout = CALL_TIMEOUT
        self.page_size = PAGE_SIZE

    @property
    def credentials(self) -> Credentials:
        with self._lock:
            if self._credentials is None:
                if self.target.endpoint:
                    self._credentials = AnonymousCredentials()
                else:  # Application Default Credentials: Workload Identity, a key-less service account
                    self._credentials, _ = google.auth.default(scopes=[READ_ONLY_SCOPE])
            return self._credentials

    def _client_options(self) -> dict[str, Any] | None:
        return {"api_endpoint": self.target.endpoint} if self.target.endpoint else None

    def _client(self, key: str, make: Callable[[], Any]) -> Any:
        existing = self._clients.get(key)
        if existing is not None:
            return existing
        with self._create_lock:
            if key not in self._clients:
                self._clients[key] = make()
            return self._clients[key]

    def _gapic(self, key: str, cls: Any) -> Any:
        return self._client(key, lambda: cls(credentials=self.credentials, transport="rest",
                                             client_options=self._client_options()))  # fmt: skip

    def projects(self) -> Any:
        from google.cloud import resourcemanager_v3

        return self._gapic("projects", resourcemanager_v3.ProjectsClient)

    def folders(self) -> Any:
        from google.cloud import resourcemanager_v3

        return self._gapic("folders", resourcemanager_v3.FoldersClient)

    def organizations(self) -> Any:
        from google.cloud import resourcemanager_v3

        return self._gapic("organizations", resourcemanager_v3.OrganizationsClient)

    def org_policy(self) -> Any:
        from google.cloud import orgpolicy_v2

        return self._gapic("orgpolicy", orgpolicy_v2.OrgPolicyClient)

    def kms(self) -> Any:
        from google.cloud import kms_v1

        return self._gapic("kms", kms_v1.KeyManagementServiceClient)

    def container(self) -> Any:
        from google.cloud import container_v1

        return self._gapic("container", container_v1.ClusterManagerClient)

    def storage(self, project: str) -> Any:
        """A Cloud Storage client billed to / scoped on `project` (given explicitly: never discovered)."""
        from google.cloud import storage

        return self._client(f"storage:{project}", lambda: storage.Client(
            project=project, credentials=self.credentials, client_options=self._client_options()))  # fmt: skip

    def call_options(self) -> dict[str, Any]:
        """`retry` and `timeout` for every call: the one place they are decided."""
        return {"retry": self.retry, "timeout": self.timeout}

    def fan_out(self, fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
        """`[fn(item) for item in items]`, run concurrently, in order; the first exception is raised."""
        return self._workers.map(fn, items)

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Compute a value once per run (the project list, a project's buckets), shared by kinds."""
        return self._memo.get(key, compute)

    def close(self) -> None:
        self._workers.close()
        with self._lock:
            clients, self._clients = self._clients, {}
        for client in clients.values():
            transport = getattr(client, "transport", None)
            if transport is not None and hasattr(transport, "close"):
                transport.close()
            elif hasattr(client, "close"):
                client.close()


def open_target(target: GcpTarget) -> GcpClients:
    """The run's context for one target: clients are created on first use, no API call yet."""
    return GcpClients(target)


def source(gcp: GcpClients, service: str, scope: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
    """Provenance shared by every GCP kind: which API, on which project or organization, with which calls."""
    provenance: dict[str, Any] = {
        "provider": "gcp",
        "service": service,
        "scope": scope,
        "operations": operations,
        "agent_version": agent_version(),
    }
    if gcp.target.endpoint:
        provenance["endpoint"] = gcp.target.endpoint
    return provenance
