"""calendar reconcile: pending conference, sync positions, last checks

Revision ID: calendar_reconcile
Revises: interview_edits
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "calendar_reconcile"
down_revision: str | None = "interview_edits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("conference_pending_since", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_checked_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("calendar_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sync_token", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("reconcile_requested_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calendar_connections", schema=None) as batch_op:
        batch_op.drop_column("reconciled_at")
        batch_op.drop_column("reconcile_requested_at")
        batch_op.drop_column("sync_token")
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("sync_checked_at")
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_column("conference_pending_since")
