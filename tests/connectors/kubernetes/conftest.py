"""A fake HTTPS apiserver serving the sandbox cluster, and connector clients pointed at it through a kubeconfig."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector.sandbox.k8s import FakeApiServer, fake_apiserver
from connectors.kubernetes import K8sClients, KubernetesTarget, open_target

CLUSTER = "acme-eu-prod"


@pytest.fixture(scope="module")
def apiserver() -> Iterator[FakeApiServer]:
    with fake_apiserver() as server:
        yield server


@pytest.fixture
def server(apiserver: FakeApiServer) -> Iterator[FakeApiServer]:
    """The module's fake apiserver with an empty request log and no injected failure."""
    apiserver.reset()
    yield apiserver
    apiserver.reset()


@pytest.fixture
def kubeconfig(server: FakeApiServer, tmp_path: Path) -> Path:
    return server.write_kubeconfig(tmp_path / "kubeconfig", context="sandbox")


@pytest.fixture
def make_clients(kubeconfig: Path) -> Iterator[Callable[..., K8sClients]]:
    """Opens connector clients on the fake through the kubeconfig; all closed after the test."""
    opened: list[K8sClients] = []

    def make(chunk_size: int = 500, path: Path | None = None, context: str | None = "sandbox") -> K8sClients:
        target = KubernetesTarget(name="sandbox-k8s", cluster=CLUSTER, kubeconfig=str(path or kubeconfig),
                                  context=context, chunk_size=chunk_size)  # fmt: skip
        clients = open_target(target)
        clients.sleep = lambda seconds: None  # no real backoff in tests
        opened.append(clients)
        return clients

    yield make
    for clients in opened:
        clients.close()


@pytest.fixture
def clients(make_clients: Callable[..., K8sClients]) -> K8sClients:
    return make_clients()
