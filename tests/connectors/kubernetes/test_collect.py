"""Every Kubernetes kind collected through the real client library against the fake HTTPS apiserver."""

from __future__ import annotations

import json
import re
import ssl
import urllib.request
from collections import Counter
from pathlib import Path

import kubernetes.client
import pytest

from collector.sandbox.k8s import DATA_DIR
from connectors.base import GLOBAL, Evidence, KindSpec, canonical_json, registered_kinds
from connectors.kubernetes import KubernetesTarget, open_target, units
from connectors.kubernetes import clients as k8s_clients

KINDS = registered_kinds("k8s")
RESOURCE_ID = re.compile(r"^k8s://acme-eu-prod/[a-z0-9-]*/[A-Z][A-Za-z]+/[a-z0-9:.-]+$")
# How many records each kind yields from the sandbox cluster.
EXPECTED_COUNTS = {
    "k8s.admission.webhook.configurations": 1,
    # 3 deployments, 1 statefulset, 2 daemonsets, 1 job (the other is a CronJob's), 1 cronjob, 1 bare pod
    "k8s.apps.workload.security": 9,
    "k8s.core.control_plane.flags": 1,
    "k8s.core.namespace.pod_security": 10,
    "k8s.core.node.topology": 4,
    "k8s.core.persistent_volume.topology": 3,
    "k8s.core.service_account.token": 14,
    "k8s.networking.ingress.tls": 3,
    "k8s.networking.namespace.network_policies": 10,
    "k8s.rbac.cluster_role.rules": 9,
    "k8s.rbac.cluster_role_binding.subjects": 6,
    "k8s.rbac.role_binding.subjects": 5,
    "k8s.version.cluster.version": 1,
}  # fmt: skip
# Secret values planted in the sandbox data: in Secret objects, env values and command-line flags.
CANARIES = ("U0FOREJPWC1MRUFLLUNBTkFSWS", "SANDBOX-LEAK-CANARY", "hunter2", "changeme-2025", "Winter2025!",
            "s3cr3t-scrape-token")  # fmt: skip


def collect(spec: KindSpec, clients) -> list[Evidence]:
    plans = units(clients, spec)
    assert [(p.scope, p.argument, p.error) for p in plans] == [("cluster", "cluster", None)]
    return list(spec.collect(plans[0].context, plans[0].argument))


def collect_all(clients) -> dict[str, list[Evidence]]:
    return {spec.name: collect(spec, clients) for spec in KINDS}


def test_every_kind_is_expected():
    assert {k.name for k in KINDS} == set(EXPECTED_COUNTS)


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_kind_collects_through_the_real_client(spec, clients, server):
    evidence = collect(spec, clients)
    assert len(evidence) == EXPECTED_COUNTS[spec.name]
    ids = [e.resource_id for e in evidence]
    assert len(ids) == len(set(ids)), "each resource once"
    for item in evidence:
        assert item.kind == spec.name
        assert RESOURCE_ID.match(item.resource_id), item.resource_id
        assert item.resource_id.split("/")[4] == item.resource_type
        canonical_json(item.raw)
        canonical_json(item.observed)
        source = item.source
        assert source["provider"] == "k8s" and source["cluster"] == "acme-eu-prod"
        assert source["server"] == server.url and source["context"] == "sandbox" and source["in_cluster"] is False
        assert source["operations"] and all(op["path"] and op["audit_id"] for op in source["operations"])
        assert source["agent_version"]
    # Only reads, and the agent says who it is.
    assert {r["method"] for r in server.requests} == {"GET"}
    assert all(r["user_agent"].startswith("evidence-agent/") for r in server.requests)


def test_planted_problems_and_their_clean_counterparts(clients):
    found = {kind: {e.resource_id.removeprefix("k8s://acme-eu-prod/"): e for e in items}
             for kind, items in collect_all(clients).items()}  # fmt: skip

    bindings = found["k8s.rbac.cluster_role_binding.subjects"]
    admin = bindings["/ClusterRoleBinding/oncall-admin"].observed
    assert admin["grants_cluster_admin"] and not admin["rbac_default"]
    assert admin["subjects"] == [{"kind": "User", "name": "jane.doe@acme.example", "namespace": None}]
    default_admin = bindings["/ClusterRoleBinding/cluster-admin"].observed
    assert default_admin["grants_cluster_admin"] and default_admin["rbac_default"]
    assert bindings["/ClusterRoleBinding/anonymous-metrics"].observed["binds_anonymous"] is True
    assert bindings["/ClusterRoleBinding/auditors-view"].observed["binds_anonymous"] is False

    workloads = found["k8s.apps.workload.security"]
    assert workloads["logging/DaemonSet/log-collector"].observed["privileged"] is True
    assert workloads["monitoring/DaemonSet/node-exporter"].observed["privileged"] is False
    assert workloads["web/Deployment/frontend"].observed["images_latest_or_untagged"] == ["nginx:latest"]
    assert workloads["payments/Deployment/api"].observed["images_latest_or_untagged"] == []
    assert workloads["payments/Deployment/api"].observed["images_not_pinned"] == []

    namespaces = found["k8s.core.namespace.pod_security"]
    assert namespaces["/Namespace/legacy-billing"].observed["enforce"] is None
    assert namespaces["/Namespace/payments"].observed["enforce"] == "restricted"

    nodes = found["k8s.core.node.topology"]
    assert Counter(n.region for n in nodes.values()) == {"eu-central-1": 3, "us-east-1": 1}
    assert nodes["/Node/worker-us1.us-east-1.acme.internal"].observed["region"] == "us-east-1"


def test_lists_are_read_in_chunks_each_item_once(make_clients, server):
    """With two items per response, every list spans several pages; nothing is read twice or skipped."""
    clients = make_clients(chunk_size=2)
    evidence = collect_all(clients)
    for kind, count in EXPECTED_COUNTS.items():
        assert len(evidence[kind]) == count, kind
        assert len({e.resource_id for e in evidence[kind]}) == count, kind

    lists = [r for r in server.requests if r["items"] is not None]
    assert lists and all(r["query"].get("limit") == "2" for r in lists)
    assert max(r["items"] for r in lists) <= 2, "no response exceeded the chunk size"
    continued = [r for r in lists if "continue" in r["query"]]
    assert len(continued) >= 10, "several lists needed more than one page"
    # Every namespace page was asked for exactly once per kind that lists namespaces (two kinds do).
    namespace_pages = [r for r in lists if r["path"] == "/api/v1/namespaces"]
    assert sum(r["items"] for r in namespace_pages) == 2 * 10
    # Each page lists different items: the workload kind reads 5 pods (2+2+1) for 1 bare pod it keeps.
    pods = [r for r in lists if r["path"] == "/api/v1/pods"]
    assert [r["items"] for r in pods] == [2, 2, 1]
    # Provenance names the page each record came from: three deployments over two pages.
    pages = [e.source["operations"][0]["page"] for e in evidence["k8s.apps.workload.security"]
             if "/Deployment/" in e.resource_id]  # fmt: skip
    assert pages == [1, 1, 2]


def test_no_secret_is_ever_requested_or_kept(clients, server):
    evidence = collect_all(clients)
    paths = server.paths()
    assert paths and not [p for p in paths if "secret" in p.lower()]
    for items in evidence.values():
        for item in items:
            text = canonical_json({"observed": item.observed, "raw": item.raw, "source": item.source})
            assert not [c for c in CANARIES if c in text], item.resource_id


def test_the_fake_would_leak_if_asked_and_serves_metadata_only_on_request(server):
    """The guard above means something: a plain secrets list carries the data, the metadata-only one does not."""
    tls = ssl.create_default_context(cadata=server.ca_pem.decode())

    def get(accept: str) -> dict:
        headers = {"Authorization": f"Bearer {server.token}", "Accept": accept}
        request = urllib.request.Request(f"{server.url}/api/v1/namespaces/payments/secrets", headers=headers)
        with urllib.request.urlopen(request, context=tls) as response:
            return json.loads(response.read())

    full = get("application/json")
    assert full["kind"] == "SecretList" and all("data" in s for s in full["items"])
    meta = get("application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json")
    assert meta["kind"] == "PartialObjectMetadataList" and all(set(s) == {"kind", "apiVersion", "metadata"}
                                                               for s in meta["items"])  # fmt: skip
    assert [r["path"] for r in server.requests] == ["/api/v1/namespaces/payments/secrets"] * 2


def test_raw_keeps_configuration_without_volatile_metadata_or_status(clients):
    workloads = {e.resource_id: e for e in collect(_kind("k8s.apps.workload.security"), clients)}
    raw = workloads["k8s://acme-eu-prod/web/Deployment/frontend"].raw
    assert raw["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:latest"
    assert "status" not in raw
    assert not {"managedFields", "resourceVersion", "generation"} & set(raw["metadata"])
    assert "deployment.kubernetes.io/revision" not in raw["metadata"].get("annotations", {})
    nodes = collect(_kind("k8s.core.node.topology"), clients)
    for node in nodes:
        assert set(node.raw["status"]) == {"nodeInfo", "addresses", "capacity"}  # no heartbeats, no images
        assert "bootID" not in node.raw["status"]["nodeInfo"]
    webhooks = collect(_kind("k8s.admission.webhook.configurations"), clients)[0]
    assert "caBundle" not in json.dumps(webhooks.raw)


def test_the_apiserver_static_pod_is_found_by_label(clients, server):
    [evidence] = collect(_kind("k8s.core.control_plane.flags"), clients)
    assert evidence.observed["audit_log_path"] == "/var/log/kubernetes/audit/audit.log"
    [request] = server.requests
    assert request["path"] == "/api/v1/namespaces/kube-system/pods"
    assert request["query"]["labelSelector"] == "component=kube-apiserver"


def test_in_cluster_service_account(server, tmp_path, monkeypatch):
    """The CronJob's way in: the mounted token and CA, the service host from the environment."""
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text(server.token)
    ca.write_bytes(server.ca_pem)
    monkeypatch.setattr(k8s_clients, "IN_CLUSTER_TOKEN_FILE", str(token))
    monkeypatch.setattr(k8s_clients, "IN_CLUSTER_CA_FILE", str(ca))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", server.url.rsplit(":", 1)[1])
    clients = open_target(KubernetesTarget(name="in-cluster", cluster="acme-eu-prod", in_cluster=True))
    try:
        evidence = collect(_kind("k8s.version.cluster.version"), clients)
    finally:
        clients.close()
    assert evidence[0].observed["git_version"] == "v1.31.4"
    assert evidence[0].source["in_cluster"] is True and evidence[0].source["context"] is None
    assert server.paths() == ["/version"]


def test_the_library_default_configuration_is_never_touched(make_clients):
    before = kubernetes.client.Configuration.get_default_copy().host
    clients = make_clients()
    collect(_kind("k8s.version.cluster.version"), clients)
    assert kubernetes.client.Configuration.get_default_copy().host == before
    assert clients.api_client.configuration is not kubernetes.client.Configuration.get_default_copy()


def test_sandbox_data_is_wellformed():
    """Every data file is a served list or object; nothing in the demo data needs the network."""
    files = sorted(DATA_DIR.glob("*.json"))
    assert len(files) >= 15
    for file in files:
        doc = json.loads(file.read_text())
        assert doc["path"].startswith(("/api/", "/apis/", "/version"))
        for item in doc.get("items", []):
            assert item["metadata"]["name"] and item["metadata"]["uid"]


def _kind(name: str) -> KindSpec:
    return next(k for k in KINDS if k.name == name)


def test_region_is_global_for_cluster_scoped_facts(clients):
    evidence = collect(_kind("k8s.rbac.cluster_role.rules"), clients)
    assert {e.region for e in evidence} == {GLOBAL}


def test_kubeconfig_written_by_the_fake_is_private(server, tmp_path: Path):
    path = server.write_kubeconfig(tmp_path / "kc")
    assert path.stat().st_mode & 0o077 == 0
