"""drift events with alert state, per-sink delivery records, run.drift_at, verdict indexes by run

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Nothing wrote drift_event before this revision, so the table is rebuilt.
    op.drop_index("ix_drift_event_created_at", table_name="drift_event")
    op.drop_index("ix_drift_event_run_id", table_name="drift_event")
    op.drop_table("drift_event")
    op.create_table(
        "drift_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("check_id", sa.String(length=255), nullable=True),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("resource_id", sa.String(length=2048), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("alert_state", sa.String(length=16), nullable=False),
        sa.Column("verdict_state_id", sa.Integer(), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_drift_event_created_at", "drift_event", ["created_at"])
    op.create_index("ix_drift_event_run_id", "drift_event", ["run_id"])
    op.create_index("ix_drift_event_alert", "drift_event", ["alert_state", "target"])
    op.create_index("ix_drift_event_key", "drift_event", ["check_id", "target", "resource_id"])
    op.create_table(
        "drift_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("sink", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("digest_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["drift_event.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "sink"),
    )
    op.create_index("ix_drift_delivery_event_id", "drift_delivery", ["event_id"])
    op.create_index("ix_drift_delivery_sink", "drift_delivery", ["sink", "status"])
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("drift_at", sa.DateTime(timezone=True), nullable=True))
    # Runs sealed before drift detection existed are not turned into events (and alerts) after the fact.
    op.execute("UPDATE run SET drift_at = finished_at WHERE status <> 'running'")
    op.create_index("ix_verdict_state_opened", "verdict_state", ["first_seen_run_id"])
    op.create_index("ix_verdict_state_ended", "verdict_state", ["ended_run_id"])


def downgrade() -> None:
    raise NotImplementedError("drift events are derived data; restore from a backup to go below 0004")
