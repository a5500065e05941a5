"""link grants: the signed links in mails, revocable

Revision ID: link_grants
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "link_grants"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_grants",
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "scope",
            sa.Enum("CANDIDATE", "VIEWER", name="linkscope", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=40), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_link_grants_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_link_grants_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_grants")),
    )
    with op.batch_alter_table("link_grants", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_grants_interview_id"), ["interview_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_link_grants_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_grants_user_id"))
        batch_op.drop_index(batch_op.f("ix_link_grants_interview_id"))
    op.drop_table("link_grants")
