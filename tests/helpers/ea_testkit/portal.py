"""Portal test kit: a store with a known history, tokens of each kind, and the real app served on loopback."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from collector.bundle.create import BundleRequest, create_bundle
from collector.bundle.scope import parse_period
from collector.config import PortalToken
from collector.drift import compute_run
from collector.portal.app import create_app
from collector.portal.auth import TokenBook, hash_token
from collector.run import judge_unit
from collector.store.models import RunStatus
from collector.store.writer import UnitKey, open_run, seal_run, write_gap, write_unit
from connectors.base import CollectionError, Evidence, GapReason
from controls.base import Policy
from controls.catalog import Catalog, load_catalog

T0 = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
UNIT = UnitKey("prod", "aws.s3.bucket.encryption", "global")
ACCESS_UNIT = UnitKey("prod", "aws.s3.bucket.public_access_block", "global")

# Raw tokens exist only here and in the requests the tests make; the app holds their hashes.
TOKENS = {
    "engineer": "eng-token-0123456789abcdef0123456789abcdef",
    "auditor": "aud-token-0123456789abcdef0123456789abcdef",  # ISO 27001, March 2026
    "outsider": "old-token-0123456789abcdef0123456789abcdef",  # GDPR, January 2025: sees none of the above
}
WINDOW = ("2026-03-01", "2026-03-31")


def book() -> TokenBook:
    return TokenBook(
        [
            PortalToken.model_validate(
                {"name": "erin-engineer", "sha256": hash_token(TOKENS["engineer"]), "role": "engineer"}
            ),
            PortalToken.model_validate(
                {
                    "name": "ada-auditor",
                    "sha256": hash_token(TOKENS["auditor"]),
                    "role": "auditor",
                    "frameworks": ["iso27001-2022"],
                    "window": {"from": WINDOW[0], "to": WINDOW[1]},
                }
            ),
            PortalToken.model_validate(
                {
                    "name": "olaf-outsider",
                    "sha256": hash_token(TOKENS["outsider"]),
                    "role": "auditor",
                    "frameworks": ["gdpr"],
                    "window": {"from": "2025-01-01", "to": "2025-01-31"},
                }
            ),
        ]
    )


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


def bucket(name: str, when: dt.datetime, encrypted: bool) -> Evidence:
    return Evidence(
        kind=UNIT.kind,
        resource_id=f"arn:aws:s3:::{name}",
        resource_type="AWS::S3::Bucket",
        region="eu-west-1",
        observed={
            "encrypted": encrypted,
            "algorithm": "AES256" if encrypted else None,
            "kms_key_id": None,
            "bucket_key_enabled": False,
        },
        source={"provider": "aws", "operations": [{"operation": "GetBucketEncryption", "params": {"Bucket": name}}]},
        raw={"Bucket": name, "ServerSideEncryptionConfiguration": {"Rules": []} if encrypted else None},
        collected_at=when,
    )


@dataclass
class History:
    runs: list[int]
    flipped: int  # the evidence id of `logs`, first encrypted, then not (a failing item with history)


def build_history(engine: sa.Engine, catalog: Catalog) -> History:
    """Four daily runs from T0: `logs` loses its encryption on day 2, `media` gains it on day 2, `backups`
    stays encrypted; day 4 cannot read the public access block (a gap). Drift is computed for each run."""
    plan = [
        {"logs": True, "media": False, "backups": True},
        {"logs": False, "media": True, "backups": True},
        {"logs": False, "media": True, "backups": True},
        {"logs": False, "media": True, "backups": True},
    ]
    runs = []
    for day, buckets in enumerate(plan):
        when = T0 + dt.timedelta(days=day)
        run_id = open_run(engine, ["prod"], "cfg", when, catalog.digest)
        items = [bucket(name, when, enc) for name, enc in buckets.items()]
        write_unit(engine, run_id, UNIT, items, when, when, judge_unit(UNIT, items, Policy()))
        status = RunStatus.COMPLETE
        if day == 3:
            write_gap(engine, run_id, ACCESS_UNIT, CollectionError(GapReason.DENIED, "AccessDenied"), when, when)
            status = RunStatus.PARTIAL
        seal_run(engine, run_id, status, when + dt.timedelta(minutes=2))
        compute_run(engine, run_id, catalog, 1, when + dt.timedelta(minutes=3))
        runs.append(run_id)
    with engine.connect() as conn:
        flipped = conn.execute(sa.text("SELECT min(id) FROM evidence_state WHERE resource_id = 'arn:aws:s3:::logs'"))
        return History(runs, int(flipped.scalar_one()))


def bundle_maker(engine: sa.Engine, catalog: Catalog):
    def make(framework: str, first: str, last: str, out: Path) -> Path:
        return create_bundle(engine, catalog, BundleRequest(framework, parse_period(first, last), out)).path

    return make


def empty_bundle(framework: str, first: str, last: str, out: Path) -> Path:
    """A stand-in for tests about who may download, not what: an empty zip."""
    out.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    return out


def portal_app(engine: sa.Engine, catalog: Catalog | None = None, *, real_bundles: bool = True):
    catalog = catalog or load_catalog()
    maker = bundle_maker(engine, catalog) if real_bundles else empty_bundle
    return create_app(engine, catalog, book(), make_bundle=maker, verify_in_background=False)


@contextlib.contextmanager
def served(app) -> Iterator[str]:
    """The app on a real HTTP server on 127.0.0.1. The socket listens before the server starts, so the first
    request queues instead of racing the start (no waiting on time)."""
    import uvicorn

    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that name it (else ~40 ms per answer)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
