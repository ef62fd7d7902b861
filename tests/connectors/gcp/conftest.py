"""The GCP fake on loopback and clients pointed at it; retries shortened so error tests stay fast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import connectors
from collector.sandbox.gcp import ORGANIZATION_ID, FakeGcp, fake_gcp
from connectors.gcp import GcpClients, GcpTarget, clients, open_target, translate_error, units


@pytest.fixture(autouse=True)
def gcp_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """`collect_unit` finds the GCP provider (registered here until the collector wires it)."""
    if "gcp" not in connectors.PROVIDERS:
        monkeypatch.setitem(connectors.PROVIDERS, "gcp", connectors.Provider("gcp", units, translate_error))


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "RETRY_INITIAL", 0.01)
    monkeypatch.setattr(clients, "RETRY_MAXIMUM", 0.02)
    monkeypatch.setattr(clients, "RETRY_DEADLINE", 1.0)


@pytest.fixture
def fake() -> Iterator[FakeGcp]:
    with fake_gcp() as server:
        yield server


@pytest.fixture
def gcp(fake: FakeGcp) -> Iterator[GcpClients]:
    """The sandbox organization: every ACTIVE project found under it."""
    context = open_target(GcpTarget(name="sandbox-gcp", organization_id=ORGANIZATION_ID, endpoint=fake.endpoint))
    yield context
    context.close()
