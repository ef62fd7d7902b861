"""retention and holds: run records and tombstones, legal_hold, run_unit.fresh_until

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("record", sa.String(length=16), nullable=False, server_default="collection"))
        batch.add_column(sa.Column("details", JSON, nullable=True))
        batch.add_column(sa.Column("pruned_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("tombstone", JSON, nullable=True))
    with op.batch_alter_table("run_unit") as batch:
        # Units collected before this revision have no freshness limit: they never go stale by it.
        batch.add_column(sa.Column("fresh_until", sa.DateTime(timezone=True), nullable=True))
    # Stale-unit detection looks up collection_gap events by type: keep that O(matching rows).
    op.create_index("ix_drift_event_type", "drift_event", ["type", "target"])
    # Drift reads a run's own evidence changes: by the run that opened or ended them.
    op.create_index("ix_evidence_state_opened", "evidence_state", ["first_seen_run_id"])
    op.create_index("ix_evidence_state_ended", "evidence_state", ["ended_run_id"])
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("framework", sa.String(length=64), nullable=False),
        sa.Column("period_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_run_id", sa.Integer(), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=255), nullable=True),
        sa.Column("released_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_run_id"], ["run.id"]),
        sa.ForeignKeyConstraint(["released_run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    raise NotImplementedError("restore from a backup to go below 0005")
