"""Tamper evidence: any edited, inserted or deleted evidence row or blob breaks `verify`, naming the run."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from collector.cli import app
from collector.store.chain import verify
from collector.store.models import Blob, EvidenceState, Run
from ea_testkit.store import at


@pytest.fixture
def history(engine, script):
    """Three runs: media and logs seen, media changes in run 2, logs removed in run 3."""
    script.run({"media": {}, "logs": {}})
    script.run({"media": {"encrypted": False}, "logs": {}})
    script.run({"media": {"encrypted": False}})
    result = verify(engine)
    assert result.ok, result.as_dict()
    assert result.runs_checked == 3
    return engine


def tamper(engine: sa.Engine, statement) -> None:
    with engine.begin() as conn:
        assert conn.execute(statement).rowcount == 1


es = EvidenceState.__table__


def first_broken(engine: sa.Engine) -> int:
    result = verify(engine)
    assert not result.ok
    return result.problems[0].run_id


def test_clean_chain_links_each_run_to_the_one_before(history):
    with history.connect() as conn:
        runs = conn.execute(sa.select(Run.seq, Run.digest, Run.prev_digest).order_by(Run.seq)).all()
    assert [r.seq for r in runs] == [1, 2, 3]
    assert runs[0].prev_digest == "0" * 64
    assert runs[1].prev_digest == runs[0].digest and runs[2].prev_digest == runs[1].digest


def test_editing_an_evidence_row_names_the_run(history):
    # the media state opened in run 2 now claims another state hash
    tamper(history, es.update().where(es.c.first_seen_run_id == 2).values(state_sha="f" * 64))
    assert first_broken(history) == 2


def test_editing_when_an_interval_ended_names_the_run(history):
    tamper(history, es.update().where(es.c.end_reason == "removed").values(ended_at=at(9)))
    assert first_broken(history) == 3


def test_inserting_an_evidence_row_names_the_run(history):
    with history.connect() as conn:
        row = conn.execute(sa.select(es).where(es.c.first_seen_run_id == 2)).mappings().one()
    forged = {k: v for k, v in row.items() if k != "id"} | {"resource_id": "arn:aws:s3:::forged"}
    with history.begin() as conn:
        conn.execute(es.insert().values(**forged))
    assert first_broken(history) == 2


def test_inserting_an_evidence_row_into_an_uncollected_run_is_caught(history, script):
    gap_run = script.run(None)
    with history.connect() as conn:
        row = conn.execute(sa.select(es).where(es.c.first_seen_run_id == 2)).mappings().one()
    forged = {k: v for k, v in row.items() if k != "id"} | {"first_seen_run_id": gap_run, "resource_id": "x"}
    with history.begin() as conn:
        conn.execute(es.insert().values(**forged))
    result = verify(history)
    assert any(p.run_id == gap_run and "did not collect its unit" in p.message for p in result.problems)


def test_deleting_an_evidence_row_names_the_first_run_that_saw_it(history):
    tamper(history, es.delete().where(es.c.resource_id == "arn:aws:s3:::logs"))
    assert first_broken(history) == 1


def test_editing_a_blob_names_the_run(history):
    with history.connect() as conn:
        sha = conn.execute(sa.select(es.c.blob_sha).where(es.c.first_seen_run_id == 2)).scalar_one()
        content = conn.execute(sa.select(Blob.content).where(Blob.sha256 == sha)).scalar_one()
    edited = bytes(content).replace(b'"encrypted":false', b'"encrypted":true')
    assert edited != bytes(content)
    tamper(history, Blob.__table__.update().where(Blob.sha256 == sha).values(content=edited))
    result = verify(history)
    assert result.problems[0].run_id == 2
    assert "blob" in result.problems[0].message


def test_editing_a_run_digest_breaks_the_link_to_the_next(history):
    tamper(history, Run.__table__.update().where(Run.seq == 2).values(digest="0" * 64))
    assert first_broken(history) == 2


def test_verify_cli_exits_1_and_names_the_run(history, db_url, monkeypatch):
    monkeypatch.setenv("EVIDENCE_AGENT_DATABASE_URL", db_url)
    ok = CliRunner().invoke(app, ["verify", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    tamper(history, es.delete().where(es.c.resource_id == "arn:aws:s3:::logs"))
    broken = CliRunner().invoke(app, ["verify"])
    assert broken.exit_code == 1
    assert "first broken run 1" in broken.output


@pytest.mark.parametrize(("column", "value"), [("region", "us-east-1"), ("first_seen_at", at(0)), ("scope", "x")])
def test_editing_where_or_when_a_state_began_names_the_run_that_opened_it(history, column, value):
    tamper(history, es.update().where(es.c.first_seen_run_id == 2).values(**{column: value}))
    assert first_broken(history) == 2
