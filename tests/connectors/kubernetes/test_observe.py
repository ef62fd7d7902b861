"""Golden tests: recorded Kubernetes API objects -> the documented `observed` of every k8s kind. Pure, no mocks."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connectors.base import Evidence
from connectors.kubernetes import admission, control_plane, core, networking, rbac, version, workloads
from ea_testkit.golden import PROVENANCE, check_golden, golden_params

OBSERVERS: dict[str, Callable[[dict], Evidence]] = {
    "k8s.version.cluster.version": lambda c: version.observe_cluster_version(c["cluster"], c["object"], PROVENANCE),
    "k8s.core.node.topology": lambda c: core.observe_node_topology(c["cluster"], c["object"], PROVENANCE),
    "k8s.core.persistent_volume.topology": lambda c: core.observe_persistent_volume_topology(
        c["cluster"], c["object"], c["storage_class"], PROVENANCE
    ),
    "k8s.core.namespace.pod_security": lambda c: core.observe_namespace_pod_security(
        c["cluster"], c["object"], PROVENANCE
    ),
    "k8s.core.service_account.token": lambda c: core.observe_service_account_token(
        c["cluster"], c["object"], PROVENANCE
    ),
    "k8s.core.control_plane.flags": lambda c: control_plane.observe_control_plane_flags(
        c["cluster"], c["object"], PROVENANCE
    ),
    "k8s.rbac.cluster_role_binding.subjects": lambda c: rbac.observe_cluster_role_binding_subjects(
        c["cluster"], c["object"], PROVENANCE
    ),
    "k8s.rbac.role_binding.subjects": lambda c: rbac.observe_role_binding_subjects(
        c["cluster"], c["object"], PROVENANCE
    ),
    "k8s.rbac.cluster_role.rules": lambda c: rbac.observe_cluster_role_rules(c["cluster"], c["object"], PROVENANCE),
    "k8s.networking.namespace.network_policies": lambda c: networking.observe_namespace_network_policies(
        c["cluster"], c["object"], c["policies"], PROVENANCE
    ),
    "k8s.networking.ingress.tls": lambda c: networking.observe_ingress_tls(c["cluster"], c["object"], PROVENANCE),
    "k8s.apps.workload.security": lambda c: workloads.observe_workload_security(
        c["cluster"], c["workload_kind"], c["object"], PROVENANCE
    ),
    "k8s.admission.webhook.configurations": lambda c: admission.observe_webhook_configurations(
        c["cluster"], c["validating"], c["mutating"], PROVENANCE
    ),
}


@pytest.mark.parametrize(("kind", "case"), golden_params(sorted(OBSERVERS)))
def test_observe_matches_golden(kind, case):
    evidence = OBSERVERS[kind](case)
    check_golden(evidence, kind, case)
    assert evidence.source is PROVENANCE
    text = json.dumps(evidence.raw)
    assert '"managedFields"' not in text and '"resourceVersion"' not in text
    assert "last-applied-configuration" not in text


def test_every_k8s_kind_has_an_observer():
    from connectors.base import registered_kinds

    assert {k.name for k in registered_kinds("k8s")} == set(OBSERVERS)


@pytest.mark.parametrize(
    ("zone", "region"),
    [("eu-central-1a", "eu-central-1"), ("us-gov-west-1b", "us-gov-west-1"), ("europe-west3-a", "europe-west3"),
     ("westeurope-1", "westeurope"), ("zone-a", None)],
)  # fmt: skip
def test_region_of_zone(zone, region):
    assert core.region_of_zone(zone) == region


@pytest.mark.parametrize(
    ("image", "tag", "latest_or_untagged"),
    [("nginx", None, True), ("nginx:latest", "latest", True), ("nginx:1.27", "1.27", False),
     ("localhost:5000/app", None, True), ("localhost:5000/app:2", "2", False),
     ("ghcr.io/a/b@sha256:" + "0" * 64, None, False), ("ghcr.io/a/b:latest@sha256:" + "0" * 64, "latest", False)],
)  # fmt: skip
def test_image_tags(image, tag, latest_or_untagged):
    assert workloads.image_tag(image) == tag
    assert workloads.latest_or_untagged(image) is latest_or_untagged


def test_raw_never_keeps_env_values_or_secret_flags():
    from connectors.kubernetes.objects import clean_raw

    pod = {
        "metadata": {"name": "p", "namespace": "n", "resourceVersion": "1", "generation": 3,
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "team": "a"}},
        "spec": {"containers": [{
            "name": "c", "image": "i",
            "env": [{"name": "DB_URL", "value": "postgres://u:hunter2@db/x"}, {"name": "EMPTY", "value": ""},
                    {"name": "REF", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            "command": ["app", "--db-password=hunter2", "--token-auth-file=/etc/tokens.csv", "--port=8080"],
            "args": ["--api-key", "--client-secret=abc"],
        }]},
        "status": {"phase": "Running"},
    }  # fmt: skip
    raw = clean_raw(pod)
    text = json.dumps(raw)
    assert "hunter2" not in text and "abc" not in text
    container = raw["spec"]["containers"][0]
    assert container["env"][0] == {"name": "DB_URL", "value": "[redacted]"}
    assert container["env"][2]["valueFrom"]["secretKeyRef"] == {"name": "s", "key": "k"}
    assert container["command"] == ["app", "--db-password=[redacted]", "--token-auth-file=/etc/tokens.csv",
                                    "--port=8080"]  # fmt: skip
    assert raw["metadata"] == {"name": "p", "namespace": "n", "annotations": {"team": "a"}}
    assert "status" not in raw
