"""Dynamic admission control: which validating and mutating webhooks the cluster calls (policy engines such
as Gatekeeper or Kyverno register themselves this way), and which of them fail open."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.base import GLOBAL, Evidence, evidence_kind
from connectors.kubernetes.clients import K8sClients, Listing, permissions
from connectors.kubernetes.objects import clean_raw, cluster_id

GROUP = "admissionregistration.k8s.io/v1"
VALIDATING = Listing("AdmissionregistrationV1Api", "list_validating_webhook_configuration", GROUP,
                     "validatingwebhookconfigurations")  # fmt: skip
MUTATING = Listing("AdmissionregistrationV1Api", "list_mutating_webhook_configuration", GROUP,
                   "mutatingwebhookconfigurations")  # fmt: skip


def without_ca_bundles(configuration: dict[str, Any]) -> dict[str, Any]:
    """The configuration for `raw`, without the webhooks' CA bundles (public, but kilobytes of base64 each)."""
    cleaned = clean_raw(configuration)
    cleaned["webhooks"] = [
        {**w, "clientConfig": {k: v for k, v in (w.get("clientConfig") or {}).items() if k != "caBundle"}}
        for w in cleaned.get("webhooks") or []
    ]
    return cleaned


@evidence_kind("k8s.admission.webhook.configurations", regional=False, permissions=permissions(VALIDATING, MUTATING))
def collect_webhook_configurations(k8s: K8sClients, scope: str) -> Iterator[Evidence]:
    """Which validating and mutating admission webhooks the cluster has, and which fail open (failurePolicy Ignore)."""
    validating, mutating, operations = [], [], []
    for listing, into in ((VALIDATING, validating), (MUTATING, mutating)):
        last = None
        for configuration, page in k8s.list(listing):
            into.append(configuration)
            last = page
        operations.append(last or {"operation": listing.method, "method": "GET", "path": listing.path(), "page": 1})
    yield observe_webhook_configurations(k8s.target.cluster, validating, mutating, k8s.source(GROUP, operations))


def webhook_names(configurations: list[dict[str, Any]], fail_open: bool = False) -> list[str]:
    """`CONFIGURATION/WEBHOOK` of every webhook (with `fail_open`, only those whose failure policy is Ignore)."""
    return sorted(
        f"{c['metadata']['name']}/{w['name']}"
        for c in configurations
        for w in c.get("webhooks") or []
        if not fail_open or w.get("failurePolicy") == "Ignore"
    )


def observe_webhook_configurations(
    cluster: str, validating: list[dict[str, Any]], mutating: list[dict[str, Any]], provenance: dict[str, Any]
) -> Evidence:
    return Evidence(
        kind="k8s.admission.webhook.configurations",
        resource_id=cluster_id(cluster),
        resource_type="Cluster",
        region=GLOBAL,
        observed={
            "validating_configurations": sorted(c["metadata"]["name"] for c in validating),
            "mutating_configurations": sorted(c["metadata"]["name"] for c in mutating),
            "validating_webhooks": webhook_names(validating),
            "mutating_webhooks": webhook_names(mutating),
            "fail_open_webhooks": webhook_names(validating + mutating, fail_open=True),
        },
        source=provenance,
        raw={
            "validating": [without_ca_bundles(c) for c in sorted(validating, key=lambda c: c["metadata"]["name"])],
            "mutating": [without_ca_bundles(c) for c in sorted(mutating, key=lambda c: c["metadata"]["name"])],
        },
    )
