"""Could not look is never an empty result: API failures come out as typed gaps, for exactly the kind affected."""

from __future__ import annotations

import base64
import socket

import pytest
import urllib3.exceptions
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from collector.sandbox.k8s import make_certificates
from connectors.base import CollectionError, GapReason, registered_kinds
from connectors.kubernetes import KubernetesTarget, open_target, translate_error, units
from connectors.kubernetes import clients as k8s_clients

KINDS = registered_kinds("k8s")


def run_all(clients) -> tuple[dict[str, int], dict[str, CollectionError]]:
    """Every kind as the runner would: evidence counts of the kinds that succeeded, errors of the others."""
    counts, errors = {}, {}
    for spec in KINDS:
        [plan] = units(clients, spec)
        try:
            if plan.error:
                raise plan.error
            counts[spec.name] = len(list(spec.collect(plan.context, plan.argument)))
        except CollectionError as exc:
            errors[spec.name] = exc
    return counts, errors


@pytest.mark.parametrize(
    ("status", "reason"),
    [(401, GapReason.DENIED), (403, GapReason.DENIED), (404, GapReason.DISABLED), (429, GapReason.THROTTLED),
     (500, GapReason.ERROR), (410, GapReason.ERROR)],
)  # fmt: skip
def test_api_statuses(status, reason):
    error = translate_error(ApiException(status=status, reason="Because"))
    assert error is not None and error.reason == reason and str(status) in error.message


@pytest.mark.parametrize(
    "exc",
    [
        urllib3.exceptions.MaxRetryError(None, "/api/v1/nodes", urllib3.exceptions.NewConnectionError(None, "refused")),
        urllib3.exceptions.ReadTimeoutError(None, "/api/v1/nodes", "read timed out"),
        urllib3.exceptions.ConnectTimeoutError(),
        ConnectionRefusedError(),
        TimeoutError(),
    ],
)
def test_unreachable_is_a_timeout(exc):
    error = translate_error(exc)
    assert error is not None and error.reason == GapReason.TIMEOUT


def test_tls_failure_is_an_error_not_a_timeout():
    exc = urllib3.exceptions.MaxRetryError(None, "/version", urllib3.exceptions.SSLError("certificate verify failed"))
    error = translate_error(exc)
    assert error is not None and error.reason == GapReason.ERROR and "TLS" in error.message


def test_unusable_credentials_are_denied_and_other_errors_untranslated():
    denied = translate_error(ConfigException("Invalid kube-config file. No configuration found."))
    assert denied is not None and denied.reason == GapReason.DENIED
    assert translate_error(KeyError("spec")) is None
    same = CollectionError(GapReason.THROTTLED, "x")
    assert translate_error(same) is same


@pytest.mark.parametrize(
    ("path", "status", "kinds", "reason"),
    [
        ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", 403, {"k8s.rbac.cluster_role_binding.subjects"},
         GapReason.DENIED),
        ("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", 404,
         {"k8s.admission.webhook.configurations"}, GapReason.DISABLED),
        ("/apis/storage.k8s.io/v1/storageclasses", 403, {"k8s.core.persistent_volume.topology"}, GapReason.DENIED),
        ("/apis/batch/v1/cronjobs", 404, {"k8s.apps.workload.security"}, GapReason.DISABLED),
        # Namespaces feed two kinds: both lose their unit, nothing else does.
        ("/api/v1/namespaces", 403, {"k8s.core.namespace.pod_security", "k8s.networking.namespace.network_policies"},
         GapReason.DENIED),
        ("/version", 403, {"k8s.version.cluster.version"}, GapReason.DENIED),
    ],
)  # fmt: skip
def test_an_injected_failure_is_a_typed_gap_for_exactly_that_kind(clients, server, path, status, kinds, reason):
    server.fail(path, status)
    counts, errors = run_all(clients)
    assert set(errors) == kinds
    for error in errors.values():
        assert error.reason == reason
        assert error.operation == f"GET {path}"
        assert f"injected failure for {path}" in error.message, "the apiserver's Status message is kept"
    assert len(counts) == len(KINDS) - len(kinds) and all(n > 0 for n in counts.values())


def test_throttling_is_retried_then_a_gap(clients, server):
    server.fail("/api/v1/nodes", 429)
    with pytest.raises(CollectionError) as caught:
        list(_kind("k8s.core.node.topology").collect(clients, "cluster"))
    assert caught.value.reason == GapReason.THROTTLED
    assert server.paths().count("/api/v1/nodes") == k8s_clients.MAX_ATTEMPTS


def test_transient_throttling_recovers(clients, server, monkeypatch):
    slept: list[float] = []
    clients.sleep = slept.append
    original = server.answer

    def answer_once_throttled(method, raw_path, headers):
        if not slept and raw_path.startswith("/api/v1/nodes"):
            server.fail("/api/v1/nodes", 429)
        else:
            server.fail("/api/v1/nodes", None)
        return original(method, raw_path, headers)

    monkeypatch.setattr(server, "answer", answer_once_throttled)
    evidence = list(_kind("k8s.core.node.topology").collect(clients, "cluster"))
    assert len(evidence) == 4
    assert slept == [1.0], "the server's Retry-After is honoured"


def test_a_wrong_token_is_denied(server, tmp_path, make_clients):
    path = server.write_kubeconfig(tmp_path / "kc")
    path.write_text(path.read_text().replace(server.token, "not-the-token"))
    counts, errors = run_all(make_clients(path=path))
    assert counts == {} and {e.reason for e in errors.values()} == {GapReason.DENIED}


def test_an_unreachable_cluster_is_a_timeout_gap(server, tmp_path, make_clients):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = server.write_kubeconfig(tmp_path / "kc")
    path.write_text(path.read_text().replace(server.url, f"https://127.0.0.1:{port}"))
    clients = make_clients(path=path)
    with pytest.raises(CollectionError) as caught:
        list(_kind("k8s.core.node.topology").collect(clients, "cluster"))
    assert caught.value.reason == GapReason.TIMEOUT


def test_a_cluster_ca_that_does_not_match_is_an_error(server, tmp_path, make_clients):
    other_ca, _, _ = make_certificates(tmp_path)
    path = server.write_kubeconfig(tmp_path / "kc")
    path.write_text(path.read_text().replace(base64.b64encode(server.ca_pem).decode(),
                                             base64.b64encode(other_ca).decode()))  # fmt: skip
    with pytest.raises(CollectionError) as caught:
        list(_kind("k8s.version.cluster.version").collect(make_clients(path=path), "cluster"))
    assert caught.value.reason == GapReason.ERROR and "TLS" in caught.value.message


def test_a_missing_kubeconfig_is_a_gap_per_unit_not_a_crash(tmp_path):
    clients = open_target(KubernetesTarget(name="k", cluster="k", kubeconfig=str(tmp_path / "missing")))
    plans = units(clients, _kind("k8s.core.node.topology"))
    assert [(p.scope, p.error.reason if p.error else None) for p in plans] == [("cluster", GapReason.DENIED)]
    with pytest.raises(CollectionError):
        list(_kind("k8s.core.node.topology").collect(clients, "cluster"))
    clients.close()


def test_an_unknown_context_is_a_gap(server, kubeconfig, make_clients):
    clients = make_clients(context="no-such-context")
    [plan] = units(clients, _kind("k8s.version.cluster.version"))
    assert plan.error is not None and plan.error.reason == GapReason.DENIED


def _kind(name: str):
    return next(k for k in KINDS if k.name == name)
