"""verdict_state: kept per unit like evidence (kind, scope, region, end reason)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No verdict rows existed before this revision (nothing wrote them), so the table is rebuilt.
    op.drop_index("ix_verdict_state_key", table_name="verdict_state")
    op.drop_table("verdict_state")
    op.create_table(
        "verdict_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.String(length=2048), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_seen_run_id", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_run_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["ended_run_id"], ["run.id"]),
        sa.ForeignKeyConstraint(["first_seen_run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_verdict_state_key", "verdict_state", ["check_id", "target", "resource_id", "ended_run_id"])
    op.create_index("ix_verdict_state_unit", "verdict_state", ["target", "kind", "scope", "ended_run_id"])
    op.create_index("ix_verdict_state_time", "verdict_state", ["first_seen_at", "ended_at"])


def downgrade() -> None:
    raise NotImplementedError("verdict_state is derived data; restore from a backup to go below 0003")
