"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_version", sa.String(length=64), nullable=False),
        sa.Column("config_digest", sa.String(length=64), nullable=False),
        sa.Column("catalog_digest", sa.String(length=64), nullable=True),
        sa.Column(
            "targets",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=True),
        sa.Column("prev_digest", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index(op.f("ix_run_started_at"), "run", ["started_at"], unique=False)
    op.create_index(op.f("ix_run_status"), "run", ["status"], unique=False)
    op.create_table(
        "attachment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(length=64), nullable=False),
        sa.Column("control_id", sa.String(length=64), nullable=False),
        sa.Column("blob_sha", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("effective_date", sa.Date(), nullable=False),
        sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["blob_sha"],
            ["blob.sha256"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "drift_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("check_id", sa.String(length=255), nullable=True),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("resource_id", sa.String(length=2048), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_drift_event_created_at"), "drift_event", ["created_at"], unique=False)
    op.create_index(op.f("ix_drift_event_run_id"), "drift_event", ["run_id"], unique=False)
    op.create_table(
        "evidence_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=2048), nullable=False),
        sa.Column("resource_type", sa.String(length=255), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("state_sha", sa.String(length=64), nullable=False),
        sa.Column("blob_sha", sa.String(length=64), nullable=False),
        sa.Column("first_seen_run_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_run_id", sa.Integer(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_run_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["blob_sha"],
            ["blob.sha256"],
        ),
        sa.ForeignKeyConstraint(
            ["ended_run_id"],
            ["run.id"],
        ),
        sa.ForeignKeyConstraint(
            ["first_seen_run_id"],
            ["run.id"],
        ),
        sa.ForeignKeyConstraint(
            ["last_seen_run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_evidence_state_key", "evidence_state", ["target", "kind", "resource_id"], unique=False)
    op.create_index(
        "ix_evidence_state_open", "evidence_state", ["target", "kind", "scope", "ended_run_id"], unique=False
    )
    op.create_index("ix_evidence_state_time", "evidence_state", ["first_seen_at", "ended_at"], unique=False)
    op.create_table(
        "gap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("operation", sa.String(length=255), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_gap_recorded_at"), "gap", ["recorded_at"], unique=False)
    op.create_index(op.f("ix_gap_run_id"), "gap", ["run_id"], unique=False)
    op.create_index("ix_gap_unit", "gap", ["target", "kind", "scope"], unique=False)
    op.create_table(
        "run_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "target", "kind", "scope"),
    )
    op.create_index("ix_run_unit_lookup", "run_unit", ["target", "kind", "scope", "status", "run_id"], unique=False)
    op.create_index(op.f("ix_run_unit_run_id"), "run_unit", ["run_id"], unique=False)
    op.create_table(
        "verdict_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("resource_id", sa.String(length=2048), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence_state_id", sa.Integer(), nullable=True),
        sa.Column("first_seen_run_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_run_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ended_run_id"],
            ["run.id"],
        ),
        sa.ForeignKeyConstraint(
            ["evidence_state_id"],
            ["evidence_state.id"],
        ),
        sa.ForeignKeyConstraint(
            ["first_seen_run_id"],
            ["run.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_verdict_state_key",
        "verdict_state",
        ["check_id", "target", "resource_id", "ended_run_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_verdict_state_key", table_name="verdict_state")
    op.drop_table("verdict_state")
    op.drop_index(op.f("ix_run_unit_run_id"), table_name="run_unit")
    op.drop_index("ix_run_unit_lookup", table_name="run_unit")
    op.drop_table("run_unit")
    op.drop_index("ix_gap_unit", table_name="gap")
    op.drop_index(op.f("ix_gap_run_id"), table_name="gap")
    op.drop_index(op.f("ix_gap_recorded_at"), table_name="gap")
    op.drop_table("gap")
    op.drop_index("ix_evidence_state_time", table_name="evidence_state")
    op.drop_index("ix_evidence_state_open", table_name="evidence_state")
    op.drop_index("ix_evidence_state_key", table_name="evidence_state")
    op.drop_table("evidence_state")
    op.drop_index(op.f("ix_drift_event_run_id"), table_name="drift_event")
    op.drop_index(op.f("ix_drift_event_created_at"), table_name="drift_event")
    op.drop_table("drift_event")
    op.drop_table("attachment")
    op.drop_index(op.f("ix_run_status"), table_name="run")
    op.drop_index(op.f("ix_run_started_at"), table_name="run")
    op.drop_table("run")
    op.drop_table("blob")
