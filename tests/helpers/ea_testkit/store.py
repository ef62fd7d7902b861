"""Scripted runs against the store with a frozen clock."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from collector.store.models import RunStatus
from collector.store.writer import UnitKey, open_run, seal_run, write_gap, write_unit
from connectors.base import CollectionError, Evidence, GapReason

T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
UNIT = UnitKey("prod", "aws.s3.bucket.encryption", "global")


def at(hours: float) -> dt.datetime:
    """A frozen clock: T0 plus some hours."""
    return T0 + dt.timedelta(hours=hours)


def bucket_evidence(name: str, when: dt.datetime, **observed: object) -> Evidence:
    return Evidence(
        kind=UNIT.kind,
        resource_id=f"arn:aws:s3:::{name}",
        resource_type="AWS::S3::Bucket",
        region="eu-west-1",
        observed={"encrypted": True, **observed},
        source={
            "provider": "aws",
            "operations": [{"operation": "GetBucketEncryption", "params": {"Bucket": name}}],
        },
        raw={"bucket": {"Name": name}, "observed": observed},
        collected_at=when,
    )


class Script:
    """Scripted runs against a store with a frozen clock: run i happens at T0 + i hours."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.count = 0

    def run(self, buckets: dict[str, dict] | None, unit: UnitKey = UNIT) -> int:
        """One run of one unit: `buckets` name -> observed overrides, or None for a failed unit (a gap)."""
        self.count += 1
        when = at(self.count)
        run_id = open_run(self.engine, [unit.target], "cfg", when)
        if buckets is None:
            write_gap(self.engine, run_id, unit, CollectionError(GapReason.DENIED, "AccessDenied"), when, when)
            status = RunStatus.FAILED
        else:
            items = [bucket_evidence(name, when, **obs) for name, obs in buckets.items()]
            write_unit(self.engine, run_id, unit, items, when, when)
            status = RunStatus.COMPLETE
        seal_run(self.engine, run_id, status, when + dt.timedelta(minutes=1))
        return run_id
