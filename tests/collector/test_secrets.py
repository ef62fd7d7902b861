"""No secret is ever stored: credentials, session tokens and database passwords never reach the store."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from collector.run import collect
from collector.sandbox import aws_data, aws_iam
from collector.store.engine import make_engine, upgrade
from ea_testkit.aws import aws_config

PLANTED = {
    "AWS_SECRET_ACCESS_KEY": "PLANTED-secret-access-key-9f2c7a",
    "AWS_SESSION_TOKEN": "PLANTED-session-token-41d0b3",
}
DB_PASSWORD = "PLANTED-db-password-77e1"


def everything_stored(engine: sa.Engine) -> str:
    """Every row of every table as text (blobs decoded), for grepping."""
    dump = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                dump.extend(v.decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else str(v)
                            for v in (bytes(x) if isinstance(x, memoryview) else x for x in row))  # fmt: skip
    return "\n".join(dump)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_credentials_or_passwords_in_the_store(backend, tmp_path, sandbox_endpoint, monkeypatch, request):
    for key, value in PLANTED.items():
        monkeypatch.setenv(key, value)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'evidence.db'}"
    else:
        # trust authentication ignores the password, which lets the test plant one in the URL
        url = request.getfixturevalue("pg_url").replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
    engine = make_engine(url)
    upgrade(engine)
    result = collect(aws_config(sandbox_endpoint, url), engine)
    assert result.status == "complete"
    dump = everything_stored(engine)
    assert "acme-chat-media-eu" in dump, "the dump must contain the evidence, or the grep proves nothing"
    # The sandbox itself plants secret values: Secrets Manager values, RDS master passwords, IAM login
    # passwords. None of them may reach the store; access key secrets of the session neither.
    sandbox_secrets = (aws_data.SANDBOX_PASSWORD, "sandbox-only-not-a-key", aws_iam.PASSWORD)
    assert "prod/push/apns-key" in dump, "the secret's metadata is collected, so its absence below means something"
    for secret in (*PLANTED.values(), DB_PASSWORD, *sandbox_secrets):
        assert secret not in dump
    if backend == "sqlite":
        raw_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("evidence.db*"))
        assert not any(s.encode() in raw_bytes for s in (*PLANTED.values(), DB_PASSWORD))
