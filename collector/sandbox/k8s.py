"""A fake Kubernetes API server on 127.0.0.1 serving recorded JSON, for the demo and the tests.

HTTPS with a CA and a server certificate made at start (`cryptography`), a bearer token required
(the scheme compared case-insensitively: the in-cluster loader sends "bearer"), list calls paged
with the real `limit` / `continue` protocol, `labelSelector` equality filters, and every request
recorded (method, path, query, Accept and User-Agent headers, how many items were answered).
`fail(path, status)` makes one path answer an error, as an apiserver would (a Status object).

The data (collector/sandbox/data/k8s/*.json) is a small EU-based cluster with settings done right
next to planted problems: a cluster-admin binding to a user, a binding to system:anonymous, a
privileged DaemonSet, a namespace without pod-security labels, a node in us-east-1 among
eu-central-1 nodes, a Deployment running an image tagged `:latest`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import ipaddress
import json
import secrets
import ssl
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

DATA_DIR = Path(__file__).parent / "data" / "k8s"
METADATA_ONLY = "as=PartialObjectMetadataList"
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 410: "Expired",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}  # fmt: skip


@dataclass
class Collection:
    """One served list: `path` is the cluster-wide list; namespaced objects are also served per namespace."""

    path: str
    api_version: str
    kind: str
    namespaced: bool
    items: list[dict[str, Any]]


def load_data(data_dir: Path) -> tuple[dict[str, Collection], dict[str, Any]]:
    """Every `*.json` of the data directory: lists by path, and single objects (e.g. /version) by path."""
    collections: dict[str, Collection] = {}
    objects: dict[str, Any] = {}
    for file in sorted(data_dir.glob("*.json")):
        doc = json.loads(file.read_text())
        if "object" in doc:
            objects[doc["path"]] = doc["object"]
        else:
            collections[doc["path"]] = Collection(doc["path"], doc["apiVersion"], doc["kind"],
                                                  doc.get("namespaced", False), doc["items"])  # fmt: skip
    return collections, objects


def status(code: int, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": REASONS.get(code, "Unknown"), "code": code}  # fmt: skip


def matches(labels: dict[str, str], selector: str) -> bool:
    """Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, joined by commas."""
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def make_certificates(directory: Path) -> tuple[bytes, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it (valid two days)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evidence-agent-sandbox-ca")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / "server.crt", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    key_path.chmod(0o600)
    return ca_pem, cert_path, key_path


@dataclass
class FakeApiServer:
    """What a test or the demo sees of the running fake: where it is, how to trust it, what it was asked."""

    url: str
    ca_pem: bytes
    token: str
    collections: dict[str, Collection]
    objects: dict[str, Any]
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, path: str, status: int | None) -> None:
        """Answer `status` (403, 404, 429, ...) for every request to `path` from now on; None stops it."""
        with self.lock:
            if status is None:
                self.failures.pop(path.rstrip("/"), None)
            else:
                self.failures[path.rstrip("/")] = status

    def reset(self) -> None:
        """Forget the request log and every injected failure."""
        with self.lock:
            self.requests.clear()
            self.failures.clear()

    def paths(self) -> list[str]:
        """Every path the server was asked for, in order."""
        with self.lock:
            return [r["path"] for r in self.requests]

    def kubeconfig(self, context: str = "sandbox") -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [{"name": context, "cluster": {
                "server": self.url, "certificate-authority-data": base64.b64encode(self.ca_pem).decode("ascii")}}],
            "users": [{"name": f"{context}-reader", "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-reader"}}],
        }  # fmt: skip

    def write_kubeconfig(self, path: str | Path, context: str = "sandbox") -> Path:
        """A kubeconfig (mode 0600) that reaches this server as a reader with its token."""
        path = Path(path)
        path.write_text(yaml.safe_dump(self.kubeconfig(context), sort_keys=False))
        path.chmod(0o600)
        return path

    # ----------------------------------------------------------------------- answering

    def answer(self, method: str, raw_path: str, headers: Any) -> tuple[int, dict[str, Any]]:
        split = urlsplit(raw_path)
        path = split.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        accept = headers.get("Accept", "")
        entry = {"method": method, "path": path, "query": query, "accept": accept,
                 "user_agent": headers.get("User-Agent", ""), "items": None}  # fmt: skip
        with self.lock:
            self.requests.append(entry)
            failure = self.failures.get(path)
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), self.token):
            return 401, status(401, "Unauthorized")
        if failure is not None:
            return failure, status(failure, f"injected failure for {path}")
        if method != "GET":
            return 405, status(405, f"the sandbox apiserver is read-only: {method} {path}")
        if path in self.objects:
            return 200, self.objects[path]
        found = self.route(path)
        if found is None:
            return 404, status(404, "the server could not find the requested resource")
        collection, namespace = found
        items = [i for i in collection.items if namespace is None or i["metadata"].get("namespace") == namespace]
        if "labelSelector" in query:
            items = [i for i in items if matches(i["metadata"].get("labels") or {}, query["labelSelector"])]
        code, body = self.page(collection, items, query)
        if code == 200 and collection.path == "/api/v1/secrets" and METADATA_ONLY in accept:
            body = metadata_only(body)
        entry["items"] = len(body.get("items", [])) if code == 200 else None
        return code, body

    def route(self, path: str) -> tuple[Collection, str | None] | None:
        if path in self.collections:
            return self.collections[path], None
        parts = path.split("/")
        # /api/v1/namespaces/NS/RESOURCE or /apis/GROUP/VERSION/namespaces/NS/RESOURCE
        if len(parts) >= 6 and parts[-3] == "namespaces":
            cluster_wide = "/".join([*parts[:-3], parts[-1]])
            collection = self.collections.get(cluster_wide)
            if collection is not None and collection.namespaced:
                return collection, parts[-2]
        return None

    def page(self, collection: Collection, items: list[dict], query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The real chunking protocol: `limit` items from the `continue` token's offset, and a new token."""
        start = 0
        if query.get("continue"):
            try:
                start = int(base64.urlsafe_b64decode(query["continue"]).decode())
            except ValueError:
                return 410, status(410, "The provided continue parameter is too old or invalid")
        limit = int(query["limit"]) if query.get("limit", "").isdigit() and int(query["limit"]) > 0 else None
        chunk = items[start : start + limit] if limit else items[start:]
        end = start + len(chunk)
        metadata: dict[str, Any] = {"resourceVersion": "48213577"}
        if limit and end < len(items):
            metadata["continue"] = base64.urlsafe_b64encode(str(end).encode()).decode()
            metadata["remainingItemCount"] = len(items) - end
        return 200, {"kind": collection.kind, "apiVersion": collection.api_version, "metadata": metadata,
                     "items": chunk}  # fmt: skip


def metadata_only(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": body["metadata"],
        "items": [{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": i["metadata"]}
                  for i in body["items"]],
    }  # fmt: skip


def _handler(server: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            code, body = server.answer(self.command, self.path, self.headers)
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Audit-Id", str(uuid.uuid4()))
            if code == 429:
                self.send_header("Retry-After", "1")
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request log is `server.requests`

    return Handler


class _QuietTLSServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that refuses the certificate or hangs up (as the TLS and timeout tests make it) is not an
        error of the server's: no traceback on stderr. Anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            return
        super().handle_error(request, client_address)


@contextlib.contextmanager
def fake_apiserver(data_dir: str | Path | None = None) -> Iterator[FakeApiServer]:
    """A running fake apiserver on a free loopback port, serving `data_dir` (default: the sandbox cluster)."""
    collections, objects = load_data(Path(data_dir) if data_dir else DATA_DIR)
    with tempfile.TemporaryDirectory(prefix="ea-fake-apiserver-") as tmp:
        ca_pem, cert_path, key_path = make_certificates(Path(tmp))
        httpd = _QuietTLSServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
        httpd.daemon_threads = True
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert_path, key_path)
        # Handshake in the request's thread, not in the accept loop: one stuck client cannot stall the server.
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        port = httpd.server_address[1]
        server = FakeApiServer(url=f"https://127.0.0.1:{port}", ca_pem=ca_pem, token=secrets.token_urlsafe(24),
                               collections=collections, objects=objects)  # fmt: skip
        httpd.RequestHandlerClass = _handler(server)
        thread = threading.Thread(target=httpd.serve_forever, name="fake-apiserver", daemon=True)
        thread.start()
        try:
            yield server
        finally:
            httpd.shutdown()
            httpd.server_close()
            thread.join(timeout=5)
