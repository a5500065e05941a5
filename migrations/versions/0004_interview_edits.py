"""interview edits: who last changed the offered times, and when

Account managers may now edit a team's availability; the interview records who did.

Revision ID: interview_edits
Revises: link_grants
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "interview_edits"
down_revision: str | None = "link_grants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_edited_by_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("last_edited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_interviews_last_edited_by_id_users"),
            "users",
            ["last_edited_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("interviews", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_interviews_last_edited_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("last_edited_at")
        batch_op.drop_column("last_edited_by_id")
