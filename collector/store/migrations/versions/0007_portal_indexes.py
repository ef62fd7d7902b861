"""portal: indexes for a control's verdicts by moment and its drift by time

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A control page counts its checks' verdicts valid at a moment and those that opened or ended in a
    # window: without these it reads every interval the checks ever had.
    op.create_index(
        "ix_verdict_state_check_time", "verdict_state", ["check_id", "verdict", "ended_at", "first_seen_at"]
    )
    op.create_index("ix_drift_event_check_time", "drift_event", ["check_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_drift_event_check_time", table_name="drift_event")
    op.drop_index("ix_verdict_state_check_time", table_name="verdict_state")
