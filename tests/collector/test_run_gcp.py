"""A GCP target through the whole run: the recorded organization, planted problems, a disabled API."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.compliance import findings
from collector.config import Config
from collector.run import collect
from collector.sandbox.gcp import ORGANIZATION_ID, fake_gcp
from collector.store.models import Gap
from controls.catalog import load_catalog


def config(db_url: str, endpoint: str) -> Config:
    return Config.model_validate({
        "database_url": db_url,
        "policy": {"allowed_regions": ["europe-*", "eu"]},
        "targets": [{"name": "acme-gcp", "provider": "gcp", "organization_id": ORGANIZATION_ID, "endpoint": endpoint}],
    })  # fmt: skip


def test_organization_collected_and_planted_problems_fail(engine, db_url):
    with fake_gcp() as gcp:
        result = collect(config(db_url, gcp.endpoint), engine)
    assert result.status == "complete", result.gaps
    public = findings(engine, load_catalog(), check="gcp.storage.bucket.not_public", status="fail")
    assert any("acme-web-public-assets" in f["resource_id"] for f in public)
    residency = findings(engine, load_catalog(), check="gcp.residency.resource.in_allowed_regions", status="fail")
    assert any("acme-analytics-us" in f["resource_id"] for f in residency)


def test_disabled_api_is_a_gap_for_exactly_those_units(engine, db_url):
    with fake_gcp() as gcp:
        gcp.fail("/v1/projects/acme-prod/locations", status=403, reason="SERVICE_DISABLED")
        result = collect(config(db_url, gcp.endpoint), engine)
    assert result.status == "partial"
    with Session(engine) as s:
        gaps = s.execute(sa.select(Gap.kind, Gap.scope, Gap.reason)).all()
    assert gaps and all(scope == "projects/acme-prod" and reason == "disabled" for _, scope, reason in gaps)
    assert {kind for kind, _, _ in gaps} <= {"gcp.kms.crypto_key.rotation", "gcp.container.cluster.security"}
