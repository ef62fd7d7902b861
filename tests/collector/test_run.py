"""One collection run end to end against moto's server: statuses, gaps, and what is stored."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session
from structlog.testing import capture_logs

from collector.run import collect
from collector.store.models import EvidenceState, Gap, Run, RunUnit
from collector.store.query import EvidenceFilter, evidence
from connectors.base import registered_kinds
from ea_testkit.aws import aws_config, faulty_session, opener


def stored(engine: sa.Engine) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for row in evidence(engine, EvidenceFilter()):
        kinds.setdefault(row["kind"], set()).add(row["resource_id"])
    return kinds


def test_full_run_stores_every_kind_and_is_complete(engine, sandbox_endpoint):
    result = collect(aws_config(sandbox_endpoint, str(engine.url)), engine)
    assert result.status == "complete" and result.gaps == []
    kinds = stored(engine)
    names = ("acme-chat-media-eu", "acme-audit-logs-eu", "acme-legacy-exports", "acme-web-assets")
    buckets = {f"arn:aws:s3:::{b}" for b in names}
    assert buckets <= kinds["aws.s3.bucket.encryption"]
    assert kinds["aws.s3.bucket.public_access_block"] == kinds["aws.s3.bucket.encryption"]
    assert kinds["aws.iam.account.password_policy"] == {"arn:aws:iam::123456789012:root"}
    with Session(engine) as s:
        run = s.execute(sa.select(Run)).scalar_one()
    assert run.status == "complete" and run.seq == 1 and run.digest


def test_access_denied_on_one_kind_gives_partial_run_and_one_gap(engine, sandbox_endpoint):
    session = faulty_session({"s3.GetBucketEncryption": ("AccessDenied", 403)})
    with capture_logs() as logs:
        result = collect(aws_config(sandbox_endpoint, str(engine.url)), engine, open_target=opener(session))
    assert result.status == "partial"
    with Session(engine) as s:
        gaps = s.execute(sa.select(Gap)).scalars().all()
        units = {(u.kind, u.scope): u.status for u in s.execute(sa.select(RunUnit)).scalars()}
        run_status = s.execute(sa.select(Run.status)).scalar_one()
    assert [(g.target, g.kind, g.scope, g.reason, g.operation) for g in gaps] == [
        ("prod", "aws.s3.bucket.encryption", "global", "denied", "GetBucketEncryption")
    ]
    assert "AccessDenied" in gaps[0].message
    assert run_status == "partial"
    assert units.pop(("aws.s3.bucket.encryption", "global")) == "gap"
    assert units and set(units.values()) == {"collected"}
    kinds = stored(engine)
    assert "aws.s3.bucket.encryption" not in kinds, "a denied unit must yield no evidence at all"
    assert len(kinds["aws.s3.bucket.public_access_block"]) >= 4
    assert len(kinds["aws.iam.account.password_policy"]) == 1
    gap_logs = [e for e in logs if e["event"] == "collection gap"]
    assert [(e["kind"], e["reason"]) for e in gap_logs] == [("aws.s3.bucket.encryption", "denied")]


def test_gap_after_success_keeps_earlier_evidence_current(engine, sandbox_endpoint):
    cfg = aws_config(sandbox_endpoint, str(engine.url))
    collect(cfg, engine)
    with Session(engine) as s:
        rows_after_first = s.execute(sa.select(sa.func.count()).select_from(EvidenceState)).scalar()
    denied = faulty_session({"s3.GetBucketEncryption": ("AccessDenied", 403)})
    collect(cfg, engine, open_target=opener(denied))
    current = [r for r in evidence(engine, EvidenceFilter(kind="aws.s3.bucket.encryption"))]
    assert len(current) >= 4 and all(r["last_seen"]["run"] == 1 for r in current)
    with Session(engine) as s:
        assert s.execute(sa.select(sa.func.count()).select_from(EvidenceState)).scalar() == rows_after_first


def test_every_unit_failing_makes_the_run_failed(engine, sandbox_endpoint):
    session = faulty_session({"*": ("AccessDenied", 403)})
    result = collect(aws_config(sandbox_endpoint, str(engine.url)), engine, open_target=opener(session))
    assert result.status == "failed"
    assert {u.status for u in result.units} == {"gap"}
    assert len(result.gaps) == len(result.units) > 3


def test_a_crashing_connector_is_a_gap_not_a_crash(engine, sandbox_endpoint, monkeypatch):
    import connectors.aws.iam as iam

    def broken(*_args, **_kwargs):
        raise KeyError("PasswordPolicy")

    monkeypatch.setattr(iam, "observe_password_policy", broken)
    result = collect(aws_config(sandbox_endpoint, str(engine.url)), engine)
    assert result.status == "partial"
    ((unit, error),) = result.gaps
    assert unit.kind == "aws.iam.account.password_policy"
    assert error.reason == "error" and "KeyError" in error.message


def test_target_kind_filter_limits_units(engine, sandbox_endpoint):
    result = collect(aws_config(sandbox_endpoint, str(engine.url), kinds=["aws.s3.*"]), engine)
    kinds = {u.kind for u in result.units}
    assert kinds == {k.name for k in registered_kinds("aws") if k.name.startswith("aws.s3.")}
    assert "aws.iam.account.password_policy" not in kinds


def test_denied_service_in_one_region_and_a_region_not_enabled(engine, sandbox_endpoint):
    session = faulty_session({"kms.ListKeys@eu-west-1": ("AccessDeniedException", 400)})
    cfg = aws_config(sandbox_endpoint, str(engine.url), regions=["eu-west-1", "us-east-1", "ap-east-1"])
    result = collect(cfg, engine, open_target=opener(session))
    assert result.status == "partial"
    with Session(engine) as s:
        gaps = s.execute(sa.select(Gap.kind, Gap.scope, Gap.reason)).all()
        units = s.execute(sa.select(RunUnit)).scalars().all()
    assert gaps == [("aws.kms.key.rotation", "eu-west-1", "denied")]
    skipped = [u for u in units if u.status == "skipped"]
    regional = {k.name for k in registered_kinds("aws") if k.regional}
    assert {(u.kind, u.scope) for u in skipped} == {(k, "ap-east-1") for k in regional}
    assert all(u.note == "region ap-east-1 is not enabled for account 123456789012" for u in skipped)
    collected = {(u.kind, u.scope) for u in units if u.status == "collected"}
    assert ("aws.kms.key.rotation", "us-east-1") in collected
    assert ("aws.rds.db_instance.backup", "eu-west-1") in collected
    regions = {r["region"] for r in evidence(engine, EvidenceFilter(kind="aws.kms.key.rotation"))}
    assert regions == {"us-east-1"}
