"""A recorded-JSON fake of the GCP APIs the connector reads, on 127.0.0.1, for tests and the demo.

It serves the REST paths the real client libraries call (Resource Manager v3, Org Policy v2,
Cloud Storage JSON v1, Cloud KMS v1, GKE v1) from the JSON files in `data/gcp/`, honours the
real paging protocol (`pageSize` / `maxResults`, `pageToken` -> `nextPageToken`), answers errors
in Google's JSON error format, and records every request. `fail()` makes one path prefix answer
an error (a 403 PERMISSION_DENIED / SERVICE_DISABLED, a 404, a 429) for the gap tests.

    with fake_gcp() as fake:
        target = GcpTarget(name="sandbox-gcp", organization_id=ORGANIZATION_ID, endpoint=fake.endpoint)
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

DATA_DIR = Path(__file__).parent / "data" / "gcp"
ORGANIZATION_ID = "583920174625"
PROJECTS = ("acme-analytics-us", "acme-prod", "acme-shared", "acme-web")  # the ACTIVE ones
LIST_KEYS = ("folders", "projects", "items", "locations", "keyRings", "cryptoKeys", "clusters")
RECORDED_HEADERS = ("accept", "authorization", "content-type", "x-goog-user-project", "x-goog-api-client")
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip
LEGACY_REASONS = {"SERVICE_DISABLED": ("usageLimits", "accessNotConfigured"),
                  "IAM_PERMISSION_DENIED": ("global", "forbidden"),
                  "RATE_LIMIT_EXCEEDED": ("usageLimits", "rateLimitExceeded")}  # fmt: skip
SERVICES = (  # path pattern -> the API that serves it (named in error details)
    (re.compile(r"^/v3/"), "cloudresourcemanager.googleapis.com"),
    (re.compile(r"^/v2/"), "orgpolicy.googleapis.com"),
    (re.compile(r"^/storage/v1/"), "storage.googleapis.com"),
    (re.compile(r"^/v1/projects/[^/]+/locations/[^/]+/clusters"), "container.googleapis.com"),
    (re.compile(r"^/v1/projects/[^/]+/locations"), "cloudkms.googleapis.com"),
)


class ApiError(Exception):
    def __init__(self, status: int, message: str, reason: str | None = None, consumer: str = ""):
        super().__init__(message)
        self.status, self.message, self.reason, self.consumer = status, message, reason, consumer


def service_for(path: str) -> str:
    return next((name for pattern, name in SERVICES if pattern.search(path)), "googleapis.com")


def error_body(status: int, message: str, reason: str | None, path: str, consumer: str = "") -> dict[str, Any]:
    """Google's JSON error: code, message, status, ErrorInfo details and the legacy `errors` list."""
    error: dict[str, Any] = {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}
    if reason:
        service = service_for(path)
        domain, legacy = LEGACY_REASONS.get(reason, ("global", reason))
        error["errors"] = [{"message": message, "domain": domain, "reason": legacy}]
        info = {"service": service, "consumer": consumer}
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
                             "domain": "googleapis.com", "metadata": info}]  # fmt: skip
    return {"error": error}


@dataclass
class Failure:
    path_prefix: str
    status: int
    reason: str | None
    times: int | None  # None: every matching request


class FakeGcp:
    """The fake's state: the recorded data, the request log, the injected failures, the server."""

    def __init__(self, data_dir: Path | str | None = None, max_page_size: int = 50):
        directory = Path(data_dir) if data_dir else DATA_DIR

        def load(name: str) -> dict[str, Any]:
            path = directory / f"{name}.json"
            return json.loads(path.read_text()) if path.exists() else {}

        self.rm, self.orgpolicy, self.storage = load("resourcemanager"), load("orgpolicy"), load("storage")
        self.kms, self.container = load("kms"), load("container")
        self.max_page_size = max_page_size
        self.requests: list[dict[str, Any]] = []
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.endpoint = ""
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any]]] = [
            ("GET", re.compile(r"^/v3/organizations/(\d+)$"), self._organization),
            ("POST", re.compile(r"^/v3/(organizations|folders|projects)/([^/:]+):getIamPolicy$"), self._iam_policy),
            ("GET", re.compile(r"^/v3/folders$"), self._list_folders),
            ("GET", re.compile(r"^/v3/projects$"), self._list_projects),
            ("GET", re.compile(r"^/v3/projects/([^/:]+)$"), self._project),
            ("GET", re.compile(r"^/v2/(organizations|folders|projects)/([^/]+)/policies/([^/:]+):getEffectivePolicy$"),
             self._effective_policy),
            ("GET", re.compile(r"^/storage/v1/b$"), self._list_buckets),
            ("GET", re.compile(r"^/storage/v1/b/([^/]+)$"), self._bucket),
            ("GET", re.compile(r"^/storage/v1/b/([^/]+)/iam$"), self._bucket_iam),
            ("GET", re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/clusters$"), self._list_clusters),
            ("GET", re.compile(r"^/v1/projects/([^/]+)/locations$"), self._kms_locations),
            ("GET", re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/keyRings$"), self._key_rings),
            ("GET", re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/keyRings/[^/]+)/cryptoKeys$"), self._crypto_keys),
        ]  # fmt: skip

    # ------------------------------------------------------------------ control

    def fail(self, path_prefix: str, status: int = 403, reason: str | None = "IAM_PERMISSION_DENIED",
             times: int | None = None) -> None:  # fmt: skip
        """Answer every request whose path starts with `path_prefix` (or the next `times` ones) with an error.

        `reason` is the ErrorInfo reason: `IAM_PERMISSION_DENIED`, `SERVICE_DISABLED`, `RATE_LIMIT_EXCEEDED`..."""
        with self._lock:
            self._failures.append(Failure(path_prefix, status, reason, times))

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    def paths(self, method: str | None = None) -> list[str]:
        return [r["path"] for r in self.requests if method is None or r["method"] == method]

    def start(self) -> FakeGcp:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self)

            do_POST = do_GET

            def log_message(self, *args: Any) -> None:  # the request log is `fake.requests`
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, name="fake-gcp", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ HTTP

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(handler.headers.get("Content-Length") or 0)
        body = json.loads(handler.rfile.read(length) or b"{}") if length else None
        headers = {h: handler.headers[h] for h in RECORDED_HEADERS if handler.headers.get(h) is not None}
        record: dict[str, Any] = {"method": handler.command, "path": url.path, "query": query, "headers": headers,
                                  "body": body}  # fmt: skip
        with self._lock:
            self.requests.append(record)
            failure = next((f for f in self._failures if url.path.startswith(f.path_prefix)), None)
            if failure is not None and failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
        try:
            if failure is not None:
                raise ApiError(failure.status, self._failure_message(failure, url.path), failure.reason,
                               self._consumer(url.path))  # fmt: skip
            status, payload = 200, self._route(handler.command, url.path, query, body)
        except ApiError as err:
            status, payload = err.status, error_body(err.status, err.message, err.reason, url.path, err.consumer)
        record["status"] = status
        # How many items a list answer carried (the paging tests check no answer exceeds the page asked for).
        record["items"] = next((len(payload[k]) for k in LIST_KEYS if k in payload), 0)
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _route(self, method: str, path: str, query: dict[str, Any], body: Any) -> Any:
        for route_method, pattern, answer in self._routes:
            match = pattern.match(path)
            if match and route_method == method:
                return answer(*match.groups(), query=query, body=body)
        raise ApiError(404, f"The requested URL {path} was not found on this server.")

    def _consumer(self, path: str) -> str:
        match = re.search(r"/(?:projects|b)/([^/:?]+)", path)
        return f"projects/{match.group(1)}" if match else ""

    def _failure_message(self, failure: Failure, path: str) -> str:
        service = service_for(path)
        if failure.reason == "SERVICE_DISABLED":
            console = f"https://console.developers.google.com/apis/api/{service}/overview"
            return (f"{service} API has not been used in {self._consumer(path) or 'this project'} before or it is "
                    f"disabled. Enable it by visiting {console} then retry.")  # fmt: skip
        if failure.status == 429:
            return f"Quota exceeded for quota metric 'Read requests' of service '{service}'."
        if failure.status == 404:
            return f"The requested URL {path} was not found on this server."
        return f"Permission denied on resource '{path}' (or it may not exist)."

    # ------------------------------------------------------------------ paging

    def _page(self, path: str, items: list[Any], query: dict[str, Any], key: str, size_param: str = "pageSize",
              extra: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
        """One page of `items`: at most the size asked for (and the server's maximum), with the next token."""
        requested = int(query.get(size_param) or 0)
        size = min(requested, self.max_page_size) if requested > 0 else self.max_page_size
        offset = 0
        if query.get("pageToken"):
            decoded = base64.urlsafe_b64decode(query["pageToken"].encode()).decode()
            token_path, _, start = decoded.rpartition("|")
            if token_path != path:
                raise ApiError(400, "Invalid page token.")
            offset = int(start)
        chunk = items[offset : offset + size]
        answer: dict[str, Any] = dict(extra or {})
        if chunk:  # proto3 JSON leaves out empty lists
            answer[key] = chunk
        if offset + size < len(items):
            answer["nextPageToken"] = base64.urlsafe_b64encode(f"{path}|{offset + size}".encode()).decode()
        return answer

    # ------------------------------------------------------------------ resource manager

    def _project_record(self, id_or_number: str) -> dict[str, Any]:
        for project in self.rm.get("projects", []):
            if id_or_number in (project["projectId"], project["name"].removeprefix("projects/")):
                return project
        raise ApiError(403, f"Permission 'resourcemanager.projects.get' denied on resource "
                            f"'//cloudresourcemanager.googleapis.com/projects/{id_or_number}' (or it may not exist).",
                       "IAM_PERMISSION_DENIED")  # fmt: skip

    def _organization(self, org_id: str, **_: Any) -> dict[str, Any]:
        for org in self.rm.get("organizations", []):
            if org["name"] == f"organizations/{org_id}":
                return org
        raise ApiError(403, f"Permission denied on resource 'organizations/{org_id}'.", "IAM_PERMISSION_DENIED")

    def _project(self, id_or_number: str, **_: Any) -> dict[str, Any]:
        return self._project_record(id_or_number)

    def _list_folders(self, query: dict[str, Any], **_: Any) -> dict[str, Any]:
        parent = query.get("parent") or ""
        folders = [f for f in self.rm.get("folders", []) if f["parent"] == parent]
        if query.get("showDeleted") != "true":
            folders = [f for f in folders if f.get("state", "ACTIVE") == "ACTIVE"]
        return self._page(f"/v3/folders?parent={parent}", folders, query, "folders")

    def _list_projects(self, query: dict[str, Any], **_: Any) -> dict[str, Any]:
        parent = query.get("parent") or ""
        projects = [p for p in self.rm.get("projects", []) if p["parent"] == parent]
        if query.get("showDeleted") != "true":
            projects = [p for p in projects if p.get("state") == "ACTIVE"]
        return self._page(f"/v3/projects?parent={parent}", projects, query, "projects")

    def _iam_policy(self, collection: str, resource: str, body: Any, **_: Any) -> dict[str, Any]:
        if collection == "projects":
            resource = self._project_record(resource)["projectId"]
        policy = self.rm.get("iam_policies", {}).get(f"{collection}/{resource}")
        if policy is None:
            raise ApiError(403, f"Permission denied on resource '{collection}/{resource}'.", "IAM_PERMISSION_DENIED")
        requested = int(((body or {}).get("options") or {}).get("requestedPolicyVersion") or 1)
        if requested < 3 and any("condition" in b for b in policy.get("bindings", [])):
            raise ApiError(400, "Policies with conditional role bindings need requested_policy_version 3.")
        return policy

    # ------------------------------------------------------------------ org policy

    def _ancestry(self, collection: str, resource: str) -> list[str]:
        """The node and its ancestors, nearest first: projects/ID, folders/..., organizations/N."""
        if collection == "projects":
            project = self._project_record(resource)
            chain, parent = [f"projects/{project['projectId']}"], project["parent"]
        else:
            chain, parent = [], f"{collection}/{resource}"
        folders = {f["name"]: f for f in self.rm.get("folders", [])}
        while parent:
            chain.append(parent)
            parent = folders[parent]["parent"] if parent in folders else ""
        return chain

    def _effective_policy(self, collection: str, resource: str, constraint: str, **_: Any) -> dict[str, Any]:
        node = f"{collection}/{resource}"
        if collection == "projects":
            node = self._project_record(resource)["name"]  # the API names projects by number
        policies = self.orgpolicy.get("policies", {})
        for ancestor in self._ancestry(collection, resource):
            spec = policies.get(ancestor, {}).get(constraint)
            if spec is not None:
                return {"name": f"{node}/policies/{constraint}", "spec": spec}
        return {"name": f"{node}/policies/{constraint}"}

    # ------------------------------------------------------------------ storage

    def _list_buckets(self, query: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not query.get("project"):
            raise ApiError(400, "Required parameter: project")
        number = self._project_record(query["project"])["name"].removeprefix("projects/")
        buckets = sorted((b for b in self.storage.get("buckets", []) if b["projectNumber"] == number),
                         key=lambda b: b["name"])  # fmt: skip
        path = f"/storage/v1/b?project={number}"
        return self._page(path, buckets, query, "items", "maxResults", extra={"kind": "storage#buckets"})

    def _bucket_record(self, name: str) -> dict[str, Any]:
        for bucket in self.storage.get("buckets", []):
            if bucket["name"] == name:
                return bucket
        raise ApiError(404, "The specified bucket does not exist.", "notFound")

    def _bucket(self, name: str, **_: Any) -> dict[str, Any]:
        return self._bucket_record(name)

    def _bucket_iam(self, name: str, query: dict[str, Any], **_: Any) -> dict[str, Any]:
        self._bucket_record(name)
        policy = self.storage.get("iam_policies", {}).get(name)
        if policy is None:
            raise ApiError(403, f"Permission 'storage.buckets.getIamPolicy' denied on '{name}'.", "forbidden")
        requested = int(query.get("optionsRequestedPolicyVersion") or 1)
        if requested < 3 and any("condition" in b for b in policy.get("bindings", [])):
            raise ApiError(400, "Conditional bindings need optionsRequestedPolicyVersion=3.", "invalid")
        return policy

    # ------------------------------------------------------------------ kms

    def _kms_locations(self, project: str, query: dict[str, Any], **_: Any) -> dict[str, Any]:
        project_id = self._project_record(project)["projectId"]
        locations = [{**loc, "name": loc["name"].replace("{project}", project_id)}
                     for loc in self.kms.get("locations", [])]  # fmt: skip
        return self._page(f"/v1/projects/{project_id}/locations", locations, query, "locations")

    def _key_rings(self, project: str, location: str, query: dict[str, Any], **_: Any) -> dict[str, Any]:
        prefix = f"projects/{self._project_record(project)['projectId']}/locations/{location}/keyRings/"
        rings = sorted((r for r in self.kms.get("key_rings", []) if r["name"].startswith(prefix)),
                       key=lambda r: r["name"])  # fmt: skip
        return self._page(prefix, rings, query, "keyRings", extra={"totalSize": len(rings)} if rings else None)

    def _crypto_keys(self, ring: str, query: dict[str, Any], **_: Any) -> dict[str, Any]:
        if not any(r["name"] == ring for r in self.kms.get("key_rings", [])):
            raise ApiError(404, f"KeyRing {ring} not found.")
        keys = sorted((k for k in self.kms.get("crypto_keys", []) if k["name"].startswith(f"{ring}/cryptoKeys/")),
                      key=lambda k: k["name"])  # fmt: skip
        return self._page(ring, keys, query, "cryptoKeys", extra={"totalSize": len(keys)} if keys else None)

    # ------------------------------------------------------------------ gke

    def _list_clusters(self, project: str, location: str, **_: Any) -> dict[str, Any]:
        project_id = self._project_record(project)["projectId"]
        clusters = [c for c in self.container.get("clusters", [])
                    if f"/projects/{project_id}/" in c["selfLink"]
                    and location in ("-", c["location"])]  # fmt: skip
        answer: dict[str, Any] = {}
        if clusters:
            answer["clusters"] = clusters
        missing = self.container.get("missing_zones", {}).get(project_id)
        if missing:
            answer["missingZones"] = missing
        return answer


@contextlib.contextmanager
def fake_gcp(data_dir: Path | str | None = None, max_page_size: int = 50) -> Iterator[FakeGcp]:
    """A started fake on a free loopback port, stopped afterwards; `.endpoint` is its base URL."""
    fake = FakeGcp(data_dir, max_page_size).start()
    try:
        yield fake
    finally:
        fake.stop()
