"""One place for the Kubernetes API client, chunked lists, retries and error translation.

Every kind reads through `K8sClients`, built once per target per run: an isolated `ApiClient`
(never the library's global default configuration) from a kubeconfig file and context, or from
the pod's own service account in-cluster. Lists are read in chunks (`limit` / `continue`) and
streamed item by item, so a large cluster is never held in memory at once.
"""

from __future__ import annotations

import json
import os
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import kubernetes.client
import kubernetes.config
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.incluster_config import SERVICE_CERT_FILENAME, SERVICE_TOKEN_FILENAME, InClusterConfigLoader

from connectors.base import CollectionError, GapReason, agent_version

# In-cluster credentials: the pod's projected service-account token and the cluster CA.
IN_CLUSTER_TOKEN_FILE = SERVICE_TOKEN_FILENAME
IN_CLUSTER_CA_FILE = SERVICE_CERT_FILENAME

REQUEST_TIMEOUT = (10.0, 60.0)  # connect, read (seconds), per API call
MAX_ATTEMPTS = 5  # per API call, for throttling (429) and transient server errors
CONNECT_RETRIES = 2  # urllib3's own retries of a connection that could not be made
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE = 0.5  # seconds; doubled each attempt, with jitter
BACKOFF_CAP = 10.0
UNREACHABLE = (
    urllib3.exceptions.MaxRetryError,
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.TimeoutError,
    urllib3.exceptions.ProtocolError,
    ConnectionError,
    TimeoutError,
)


@dataclass(frozen=True)
class KubernetesTarget:
    """What the connector needs to know of one configured cluster (no secrets: only where they are)."""

    name: str
    cluster: str  # the name used in resource ids: k8s://CLUSTER/NAMESPACE/KIND/NAME
    kubeconfig: str | None = None  # None: $KUBECONFIG or ~/.kube/config
    context: str | None = None  # None: the kubeconfig's current-context
    in_cluster: bool = False
    chunk_size: int = 500  # items per list response


@dataclass(frozen=True)
class Listing:
    """One list call of the API: which typed method serves it and the RBAC resource it needs."""

    api: str  # the kubernetes.client API class, e.g. "CoreV1Api"
    method: str  # the typed list method, e.g. "list_node"
    group_version: str  # "v1" for the core group, else "GROUP/VERSION"
    resource: str  # plural resource name, e.g. "nodes"
    namespaced_method: str | None = None  # the per-namespace variant, when a kind reads one namespace

    @property
    def group(self) -> str:
        return self.group_version.rsplit("/", 1)[0] if "/" in self.group_version else "core"

    @property
    def permission(self) -> str:
        return f"list {self.group}/{self.resource}"

    def path(self, namespace: str | None = None) -> str:
        base = "/api/v1" if self.group == "core" else f"/apis/{self.group_version}"
        return f"{base}/namespaces/{namespace}/{self.resource}" if namespace else f"{base}/{self.resource}"


def permissions(*listings: Listing) -> tuple[str, ...]:
    return tuple(sorted({listing.permission for listing in listings}))


def translate_error(exc: BaseException) -> CollectionError | None:
    """Map a client exception to a typed CollectionError; None when it is not a Kubernetes API failure."""
    if isinstance(exc, CollectionError):
        return exc
    if isinstance(exc, ApiException):
        status = exc.status or 0
        message = f"{status} {exc.reason or ''}".strip() + status_message(exc.body)
        if status in (401, 403):
            reason = GapReason.DENIED
        elif status == 404:  # the resource type is not served by this cluster (API group absent or disabled)
            reason = GapReason.DISABLED
        elif status == 429:
            reason = GapReason.THROTTLED
        else:
            reason = GapReason.ERROR
        return CollectionError(reason, message)
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and isinstance(exc.reason, urllib3.exceptions.SSLError):
        # Retrying cannot fix a certificate the cluster CA does not vouch for: a configuration error.
        return CollectionError(GapReason.ERROR, f"TLS: {exc.reason}")
    if isinstance(exc, ssl.SSLError | urllib3.exceptions.SSLError):
        return CollectionError(GapReason.ERROR, f"TLS: {exc}")
    if isinstance(exc, UNREACHABLE):
        return CollectionError(GapReason.TIMEOUT, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ConfigException):
        return CollectionError(GapReason.DENIED, f"no usable cluster credentials: {exc}")
    return None


def status_message(body: Any) -> str:
    """The apiserver's own explanation from a Status body (`... is forbidden: User "x" cannot list ...`)."""
    try:
        message = json.loads(body).get("message") if body else None
    except (TypeError, ValueError, AttributeError):
        return ""
    return f": {message}" if isinstance(message, str) and message else ""


def _delay(attempt: int, exc: ApiException) -> float:
    retry_after = exc.headers.get("Retry-After") if exc.headers else None
    if retry_after is not None:
        try:
            return min(float(retry_after), BACKOFF_CAP)
        except ValueError:
            pass
    return min(BACKOFF_BASE * 2**attempt, BACKOFF_CAP) * (0.5 + random.random() / 2)  # jitter


def base_configuration() -> kubernetes.client.Configuration:
    """A fresh configuration (never the library's default) whose transport retries only connection failures:
    throttling and server errors are retried in one place, `K8sClients.call`, not again inside urllib3."""
    configuration = kubernetes.client.Configuration()
    configuration.retries = urllib3.Retry(
        total=CONNECT_RETRIES, connect=CONNECT_RETRIES, read=0, redirect=0, status=0, other=0,
        respect_retry_after_header=False, backoff_factor=0.2, raise_on_status=False,
    )  # fmt: skip
    return configuration


def in_cluster_configuration(environ: Mapping[str, str] | None = None) -> kubernetes.client.Configuration:
    """The pod's service account: token (re-read as it rotates) and CA from the mounted files."""
    configuration = base_configuration()
    InClusterConfigLoader(
        token_filename=IN_CLUSTER_TOKEN_FILE,
        cert_filename=IN_CLUSTER_CA_FILE,
        environ=os.environ if environ is None else environ,
    ).load_and_set(configuration)
    return configuration


def new_api_client(target: KubernetesTarget) -> kubernetes.client.ApiClient:
    """An isolated ApiClient for the target; never touches the library's global default configuration."""
    if target.in_cluster:
        api_client = kubernetes.client.ApiClient(in_cluster_configuration())
    else:
        # persist_config=False: a read-only agent never writes a refreshed token back into the kubeconfig.
        api_client = kubernetes.config.new_client_from_config(
            config_file=target.kubeconfig, context=target.context, persist_config=False,
            client_configuration=base_configuration(),
        )  # fmt: skip
    api_client.user_agent = f"evidence-agent/{agent_version()}"
    return api_client


@dataclass
class K8sClients:
    """The typed API objects of one cluster for the length of one run; safe to share between threads.

    The ApiClient is created on first use, so a kubeconfig that cannot be loaded shows as a gap
    of each unit (with the reason) instead of sinking the run while units are planned.
    """

    target: KubernetesTarget
    _api_client: kubernetes.client.ApiClient | None = field(default=None, repr=False)
    _load_error: CollectionError | None = field(default=None, repr=False)
    _apis: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @property
    def api_client(self) -> kubernetes.client.ApiClient:
        with self._lock:
            if self._api_client is None:
                if self._load_error is not None:
                    raise self._load_error
                try:
                    self._api_client = new_api_client(self.target)
                except Exception as exc:
                    error = translate_error(exc)
                    if error is None:
                        raise
                    self._load_error = error
                    raise error from exc
            return self._api_client

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    def api(self, name: str) -> Any:
        client = self.api_client
        with self._lock:
            if name not in self._apis:
                self._apis[name] = getattr(kubernetes.client, name)(client)
            return self._apis[name]

    def call(self, operation: str, func: Callable[..., Any], **params: Any) -> Any:
        """One API call with the retry budget; failures come out as a typed CollectionError."""
        for attempt in range(MAX_ATTEMPTS):
            try:
                return func(**params, _request_timeout=REQUEST_TIMEOUT)
            except ApiException as exc:
                if exc.status in RETRY_STATUSES and attempt < MAX_ATTEMPTS - 1:
                    self.sleep(_delay(attempt, exc))
                    continue
                error = translate_error(exc)
                assert error is not None
                raise CollectionError(error.reason, error.message, operation=operation) from exc
            except UNREACHABLE as exc:
                error = translate_error(exc)
                assert error is not None
                raise CollectionError(error.reason, error.message, operation=operation) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def list(
        self, listing: Listing, *, namespace: str | None = None, label_selector: str | None = None
    ) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        """Every item of a list, chunk by chunk, as plain JSON-safe API data, with the provenance of its page."""
        api = self.api(listing.api)
        if namespace:
            method, fixed = getattr(api, f"{listing.namespaced_method}_with_http_info"), {"namespace": namespace}
        else:
            method, fixed = getattr(api, f"{listing.method}_with_http_info"), {}
        path = listing.path(namespace)
        params: dict[str, Any] = {"limit": self.target.chunk_size}
        if label_selector:
            params["label_selector"] = label_selector
        token: str | None = None
        page = 0
        while True:
            page += 1
            extra = {"_continue": token} if token else {}
            data, _, headers = self.call(f"GET {path}", method, **fixed, **params, **extra)
            provenance = {
                "operation": listing.namespaced_method if namespace else listing.method,
                "method": "GET",
                "path": path,
                "params": {("labelSelector" if k == "label_selector" else k): v for k, v in params.items()},
                "page": page,
                "audit_id": (headers or {}).get("Audit-Id"),
            }
            for item in data.items or []:
                yield self.api_client.sanitize_for_serialization(item), provenance
            token = data.metadata.var_continue if data.metadata else None
            if not token:
                return

    def get(self, operation: str, path: str, api: str, method: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """One GET of a single object, as plain JSON-safe data, with its provenance."""
        data, _, headers = self.call(operation, getattr(self.api(api), f"{method}_with_http_info"))
        provenance = {
            "operation": method,
            "method": "GET",
            "path": path,
            "params": {},
            "audit_id": (headers or {}).get("Audit-Id"),
        }
        return self.api_client.sanitize_for_serialization(data), provenance

    def source(self, api_group: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """Provenance shared by every Kubernetes kind: which cluster, how reached, which calls, which agent."""
        return {
            "provider": "k8s",
            "api_group": api_group,
            "cluster": self.target.cluster,
            "server": self.server,
            "context": None if self.target.in_cluster else self.target.context,
            "in_cluster": self.target.in_cluster,
            "operations": operations,
            "agent_version": agent_version(),
        }

    def close(self) -> None:
        with self._lock:
            client, self._api_client = self._api_client, None
            self._apis.clear()
        if client is not None:
            client.close()


def open_target(target: KubernetesTarget) -> K8sClients:
    return K8sClients(target)
