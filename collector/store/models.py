"""Tables of the temporal evidence log (see docs/store.md).

Every timestamp is timezone-aware UTC on both SQLite and PostgreSQL (`UTCDateTime`).
Schema changes go through Alembic migrations in `collector/store/migrations`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator):
    """Stores UTC; always hands back an aware UTC datetime (SQLite would drop the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def utc_column(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def json_column(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=sa.Column(JSONType, nullable=nullable))


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    PARTIAL = "partial"
    FAILED = "failed"
    ABORTED = "aborted"


class UnitStatus(enum.StrEnum):
    COLLECTED = "collected"
    GAP = "gap"
    SKIPPED = "skipped"  # not collected on purpose (e.g. a region not enabled for the account)


class EndReason(enum.StrEnum):
    CHANGED = "changed"
    REMOVED = "removed"


class Run(SQLModel, table=True):
    __tablename__ = "run"
    id: int | None = Field(default=None, primary_key=True)
    # Position in the digest chain, given when the run is sealed (complete / partial / failed / aborted).
    seq: int | None = Field(default=None, sa_column=sa.Column(sa.Integer, unique=True, nullable=True))
    status: str = Field(max_length=16, index=True)
    started_at: dt.datetime = utc_column(index=True)
    finished_at: dt.datetime | None = utc_column(nullable=True)
    agent_version: str = Field(max_length=64)
    config_digest: str = Field(max_length=64)
    catalog_digest: str | None = Field(default=None, max_length=64)
    targets: list[str] = json_column()
    host: str = Field(max_length=255)
    pid: int
    digest: str | None = Field(default=None, max_length=64)
    prev_digest: str | None = Field(default=None, max_length=64)
    # when this run's drift events were computed (None: not yet; the next run of its targets does it)
    drift_at: dt.datetime | None = utc_column(nullable=True)
    # `collection`, or a record the chain keeps of a store operation: `prune`, `hold`, `release`
    record: str = Field(default="collection", max_length=16)
    details: dict[str, Any] | None = json_column(nullable=True)  # what a non-collection record did
    # set when retention pruned this run's evidence: the run stays as a tombstone in the chain
    pruned_at: dt.datetime | None = utc_column(nullable=True)
    tombstone: dict[str, Any] | None = json_column(nullable=True)  # its counts, kept when its rows went


class RunUnit(SQLModel, table=True):
    """Outcome of one unit (target, kind, scope) in one run."""

    __tablename__ = "run_unit"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "target", "kind", "scope"),
        sa.Index("ix_run_unit_lookup", "target", "kind", "scope", "status", "run_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    target: str = Field(max_length=255)
    kind: str = Field(max_length=255)
    scope: str = Field(max_length=64)
    status: str = Field(max_length=16)
    collected_at: dt.datetime = utc_column()
    finished_at: dt.datetime = utc_column()
    observed: int = 0
    opened: int = 0
    changed: int = 0
    removed: int = 0
    note: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    # a collected unit counts as current until then (collected_at + the kind's freshness limit)
    fresh_until: dt.datetime | None = utc_column(nullable=True)


class Blob(SQLModel, table=True):
    """Content-addressed canonical JSON: {observed, raw, source} of a state's first observation, or a file."""

    __tablename__ = "blob"
    sha256: str = Field(primary_key=True, max_length=64)
    content: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    size: int


class EvidenceState(SQLModel, table=True):
    """An interval in which one resource's observed setting family did not change.

    `last_seen_*` is written when the interval ends; while it is open, it was last seen in the
    newest run whose unit (target, kind, scope) was collected.
    """

    __tablename__ = "evidence_state"
    __table_args__ = (
        sa.Index("ix_evidence_state_open", "target", "kind", "scope", "ended_run_id"),
        sa.Index("ix_evidence_state_key", "target", "kind", "resource_id"),
        sa.Index("ix_evidence_state_time", "first_seen_at", "ended_at"),
        sa.Index("ix_evidence_state_opened", "first_seen_run_id"),
        sa.Index("ix_evidence_state_ended", "ended_run_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=255)
    kind: str = Field(max_length=255)
    scope: str = Field(max_length=64)
    resource_id: str = Field(max_length=2048)
    resource_type: str = Field(max_length=255)
    region: str = Field(max_length=64)
    state_sha: str = Field(max_length=64)
    blob_sha: str = Field(foreign_key="blob.sha256", max_length=64)
    first_seen_run_id: int = Field(foreign_key="run.id")
    first_seen_at: dt.datetime = utc_column()
    last_seen_run_id: int | None = Field(default=None, foreign_key="run.id")
    last_seen_at: dt.datetime | None = utc_column(nullable=True)
    ended_run_id: int | None = Field(default=None, foreign_key="run.id")
    ended_at: dt.datetime | None = utc_column(nullable=True)
    end_reason: str | None = Field(default=None, max_length=16)


class Gap(SQLModel, table=True):
    """A unit that could not be collected in a run: an auditor must see what was not collected."""

    __tablename__ = "gap"
    __table_args__ = (sa.Index("ix_gap_unit", "target", "kind", "scope"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    target: str = Field(max_length=255)
    kind: str = Field(max_length=255)
    scope: str = Field(max_length=64)
    reason: str = Field(max_length=16)
    operation: str | None = Field(default=None, max_length=255)
    message: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    recorded_at: dt.datetime = utc_column(index=True)


class VerdictState(SQLModel, table=True):
    """Interval in which one check's verdict (and reason) on one resource did not change.

    Written with the evidence of the unit (target, kind, scope) the check read, by the same rules:
    unchanged moves nothing, a change ends and opens, a resource gone ends it (`removed`), a unit
    that failed leaves it open.
    """

    __tablename__ = "verdict_state"
    __table_args__ = (
        sa.Index("ix_verdict_state_key", "check_id", "target", "resource_id", "ended_run_id"),
        sa.Index("ix_verdict_state_unit", "target", "kind", "scope", "ended_run_id"),
        sa.Index("ix_verdict_state_time", "first_seen_at", "ended_at"),
        sa.Index("ix_verdict_state_opened", "first_seen_run_id"),
        sa.Index("ix_verdict_state_ended", "ended_run_id"),
        # the portal's control page: verdict counts at a moment and the timeline, per check and verdict
        sa.Index("ix_verdict_state_check_time", "check_id", "verdict", "ended_at", "first_seen_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    check_id: str = Field(max_length=255)
    target: str = Field(max_length=255)
    kind: str = Field(max_length=255)
    scope: str = Field(max_length=64)
    resource_id: str = Field(max_length=2048)
    region: str = Field(max_length=64)
    verdict: str = Field(max_length=16)
    reason: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    first_seen_run_id: int = Field(foreign_key="run.id")
    first_seen_at: dt.datetime = utc_column()
    ended_run_id: int | None = Field(default=None, foreign_key="run.id")
    ended_at: dt.datetime | None = utc_column(nullable=True)
    end_reason: str | None = Field(default=None, max_length=16)


class AlertState(enum.StrEnum):
    """Where a drift event is on its way to the alert sinks (see docs/alerts.md)."""

    PENDING = "pending"  # a failure waiting to hold for `alerts.confirm_runs` collections
    DUE = "due"  # to be sent to every sink whose filters match
    SUPPRESSED = "suppressed"  # a blip that ended before it was confirmed, or the end of one: never sent


class DriftEvent(SQLModel, table=True):
    """A verdict or collection transition found in one run (regressed, new_failure, remediated, removed,
    collection_gap, gap_resolved). `details` holds the controls affected, reasons and evidence ids."""

    __tablename__ = "drift_event"
    __table_args__ = (
        sa.Index("ix_drift_event_alert", "alert_state", "target"),
        sa.Index("ix_drift_event_key", "check_id", "target", "resource_id"),
        sa.Index("ix_drift_event_type", "type", "target"),
        sa.Index("ix_drift_event_check_time", "check_id", "created_at"),  # a control's drift in a window
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    type: str = Field(max_length=32)
    check_id: str | None = Field(default=None, max_length=255)
    target: str = Field(max_length=255)
    kind: str = Field(default="", max_length=255)
    scope: str = Field(default="", max_length=64)
    region: str | None = Field(default=None, max_length=64)
    resource_id: str | None = Field(default=None, max_length=2048)
    severity: str = Field(default="low", max_length=16)
    alert_state: str = Field(default=AlertState.DUE, max_length=16)
    # the verdict interval a failure opened: its end before confirmation makes the event a blip
    verdict_state_id: int | None = Field(default=None)
    details: dict[str, Any] = json_column()
    sha256: str = Field(max_length=64)
    created_at: dt.datetime = utc_column(index=True)


class DeliveryStatus(enum.StrEnum):
    FAILED = "failed"  # tried and not accepted; tried again on the next run until `alerts.max_age`
    DELIVERED = "delivered"
    EXPIRED = "expired"  # older than `alerts.max_age` and never delivered: given up, and logged


class DriftDelivery(SQLModel, table=True):
    """One drift event's delivery to one sink: what was tried, how often, and how it ended."""

    __tablename__ = "drift_delivery"
    __table_args__ = (sa.UniqueConstraint("event_id", "sink"), sa.Index("ix_drift_delivery_sink", "sink", "status"))
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="drift_event.id", index=True)
    sink: str = Field(max_length=64)
    status: str = Field(max_length=16)
    attempts: int = 0
    first_attempt_at: dt.datetime = utc_column()
    last_attempt_at: dt.datetime = utc_column()
    delivered_at: dt.datetime | None = utc_column(nullable=True)
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    digest_id: str | None = Field(default=None, max_length=64)


class LegalHold(SQLModel, table=True):
    """A period of a framework's evidence that prune must keep, whatever the retention says."""

    __tablename__ = "legal_hold"
    id: int | None = Field(default=None, primary_key=True)
    framework: str = Field(max_length=64)
    period_from: dt.datetime = utc_column()
    period_to: dt.datetime = utc_column()
    reason: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_by: str = Field(max_length=255)
    created_at: dt.datetime = utc_column()
    created_run_id: int | None = Field(default=None, foreign_key="run.id")
    released_at: dt.datetime | None = utc_column(nullable=True)
    released_by: str | None = Field(default=None, max_length=255)
    released_run_id: int | None = Field(default=None, foreign_key="run.id")


class Attachment(SQLModel, table=True):
    """Manual evidence (a policy, a training record) for a control no API can show."""

    __tablename__ = "attachment"
    id: int | None = Field(default=None, primary_key=True)
    framework: str = Field(max_length=64)
    control_id: str = Field(max_length=64)
    blob_sha: str = Field(foreign_key="blob.sha256", max_length=64)
    filename: str = Field(max_length=255)
    note: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    effective_date: dt.date
    attached_at: dt.datetime = utc_column()
    run_id: int | None = Field(default=None, foreign_key="run.id")


class AccessEntry(SQLModel, table=True):
    """One request to the portal: who (the token's name and role), what, when, and how it was answered.

    Never the token itself. Views, downloads and refusals alike, so an auditor's access can be shown.
    """

    __tablename__ = "access_log"
    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = utc_column(index=True)
    principal: str | None = Field(default=None, max_length=255)  # the token's name; None: no valid token
    role: str | None = Field(default=None, max_length=16)
    action: str = Field(max_length=16)  # view, api, download, login, logout, denied
    method: str = Field(max_length=8)
    path: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    query: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    framework: str | None = Field(default=None, max_length=64)
    status: int
    client: str | None = Field(default=None, max_length=64)
