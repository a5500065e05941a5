"""scheduling rules: moves of a booking, interviewer load limits, working hours

Revision ID: scheduling_rules
Revises: messages
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "scheduling_rules"
down_revision: str | None = "messages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("move_count", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_interviews_per_day", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_interviews_per_week", sa.Integer(), nullable=True))
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_interviews_per_day", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_interviews_per_week", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("working_hours", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("working_hours")
        batch_op.drop_column("max_interviews_per_week")
        batch_op.drop_column("max_interviews_per_day")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("max_interviews_per_week")
        batch_op.drop_column("max_interviews_per_day")
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_column("move_count")
