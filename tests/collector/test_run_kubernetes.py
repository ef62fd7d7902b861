"""A Kubernetes target through the whole run: the sandbox cluster, its planted problems, a denied resource type."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.compliance import findings
from collector.config import Config
from collector.run import collect
from collector.sandbox.k8s import fake_apiserver
from collector.store.models import Gap
from controls.catalog import load_catalog


@pytest.fixture
def cluster(tmp_path):
    with fake_apiserver() as server:
        yield server, server.write_kubeconfig(tmp_path / "kubeconfig")


def config(db_url: str, kubeconfig) -> Config:
    return Config.model_validate({
        "database_url": db_url,
        "policy": {"allowed_regions": ["eu-*"]},
        "targets": [{"name": "chat-prod", "provider": "kubernetes", "kubeconfig": str(kubeconfig),
                     "context": "sandbox", "cluster": "chat-prod-eu", "chunk_size": 10}],
    })  # fmt: skip


def failing(engine, check: str) -> set[str]:
    return {f["resource_id"] for f in findings(engine, load_catalog(), check=check, status="fail")}


def test_cluster_collected_and_planted_problems_fail(engine, db_url, cluster):
    server, kubeconfig = cluster
    result = collect(config(db_url, kubeconfig), engine)
    assert result.status == "complete", result.gaps
    assert "k8s://chat-prod-eu//ClusterRoleBinding/oncall-admin" in failing(
        engine, "k8s.rbac.binding.cluster_admin_restricted"
    )
    assert "k8s://chat-prod-eu/logging/DaemonSet/log-collector" in failing(
        engine, "k8s.apps.workload.privileged_disabled"
    )
    assert "k8s://chat-prod-eu//Namespace/legacy-billing" in failing(engine, "k8s.core.namespace.pod_security_enforced")
    residency = findings(engine, load_catalog(), check="k8s.residency.resource.in_allowed_regions", status="fail")
    assert any("us-east-1" in f["reason"] for f in residency)
    assert all(r["method"] == "GET" and "secrets" not in r["path"] for r in server.requests)


def test_forbidden_resource_type_is_a_gap_for_exactly_that_kind(engine, db_url, cluster):
    server, kubeconfig = cluster
    server.fail("/apis/rbac.authorization.k8s.io/v1/clusterroles", 403)
    result = collect(config(db_url, kubeconfig), engine)
    assert result.status == "partial"
    with Session(engine) as s:
        gaps = s.execute(sa.select(Gap.kind, Gap.reason)).all()
    assert gaps == [("k8s.rbac.cluster_role.rules", "denied")]
