"""Throttling: retried transparently within the budget; beyond it, a gap for that unit only."""

from __future__ import annotations

from unittest import mock

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from collector.run import collect
from collector.store.models import EvidenceState, Gap
from collector.store.query import EvidenceFilter, evidence
from ea_testkit.aws import aws_config, opener, throttling_session


@pytest.fixture(autouse=True)
def no_backoff_sleep():
    """botocore's standard retry mode sleeps between attempts; the retry decisions stay real."""
    with mock.patch("botocore.retries.standard.ExponentialBackoff.delay_amount", return_value=0):
        yield


def snapshot(engine: sa.Engine) -> dict[tuple[str, str], dict]:
    return {(r["kind"], r["resource_id"]): r["observed"] for r in evidence(engine, EvidenceFilter())}


def test_thirty_percent_throttled_still_yields_complete_evidence_without_duplicates(engine, sandbox_endpoint, tmp_path):
    cfg = aws_config(sandbox_endpoint, str(engine.url))
    session, stats = throttling_session(0.3)
    result = collect(cfg, engine, open_target=opener(session))
    assert result.status == "complete", result.gaps
    assert 0.15 < stats["throttled"] / (stats["sent"] - stats["throttled"]) < 0.45, stats
    # the same account collected without any throttling, into a second store, must give the same evidence
    from collector.store.engine import make_engine, upgrade

    baseline = make_engine(f"sqlite:///{tmp_path / 'baseline.db'}")
    upgrade(baseline)
    collect(aws_config(sandbox_endpoint, str(baseline.url)), baseline)
    assert snapshot(engine) == snapshot(baseline) and snapshot(engine)
    with Session(engine) as s:
        keys = s.execute(sa.select(EvidenceState.kind, EvidenceState.resource_id)).all()
    assert len(keys) == len(set(keys)), "a retried call must not produce a duplicate"


def test_throttling_beyond_the_retry_budget_is_a_gap_for_that_unit_only(engine, sandbox_endpoint):
    session, stats = throttling_session(0.0, always={"s3.GetBucketVersioning"})
    result = collect(aws_config(sandbox_endpoint, str(engine.url), max_attempts=3), engine, open_target=opener(session))
    assert result.status == "partial"
    with Session(engine) as s:
        gaps = s.execute(sa.select(Gap.kind, Gap.scope, Gap.reason, Gap.operation)).all()
    assert gaps == [("aws.s3.bucket.versioning", "global", "throttled", "GetBucketVersioning")]
    kinds = {r["kind"] for r in evidence(engine, EvidenceFilter())}
    assert "aws.s3.bucket.versioning" not in kinds and "aws.s3.bucket.encryption" in kinds
    versioning = [n for key, n in stats["attempts"].items() if b"?versioning" in key]
    assert versioning and set(versioning) == {4}, "each call sent once plus max_attempts (3) retries, then given up"
