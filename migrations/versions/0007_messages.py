"""messages: rounds count rounds (a reschedule keeps its number), stored facts of notifications

Revision ID: messages
Revises: auth_hardening
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "messages"
down_revision: str | None = "auth_hardening"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A reschedule keeps its round's number and a request cancelled before booking gives
    # its number back: two interviews of one proposal may now share a round.
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_interviews_proposal_id"), type_="unique")
    # What a notification is about (who acted, what changed), so its text is written when
    # it is read: in the reader's zone of that moment, with the interview's current link.
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("facts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("facts")
    # Numbers unique again before the constraint returns: each proposal's interviews
    # numbered 1, 2, 3... in the order they were requested.
    op.execute(
        "UPDATE interviews SET round = (SELECT COUNT(*) FROM interviews AS earlier"
        " WHERE earlier.proposal_id = interviews.proposal_id"
        " AND (earlier.requested_at < interviews.requested_at"
        " OR (earlier.requested_at = interviews.requested_at AND earlier.id <= interviews.id)))"
    )
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            op.f("uq_interviews_proposal_id"), ["proposal_id", "round"]
        )
