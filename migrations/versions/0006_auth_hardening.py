"""auth hardening: API token expiry and last use, single-use OAuth states

Revision ID: auth_hardening
Revises: calendar_reconcile
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "auth_hardening"
down_revision: str | None = "calendar_reconcile"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tokens issued before expiry existed get the default lifetime from the upgrade on, rather
# than dying at once (a deploy must not lock every integration out).
GRACE = timedelta(days=90)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    expires = datetime.now(UTC) + GRACE
    if op.get_bind().dialect.name == "sqlite":
        expires = expires.replace(tzinfo=None)  # naive UTC text, as UTCDateTime stores it
    op.execute(
        sa.text("UPDATE api_tokens SET expires_at = :expires WHERE expires_at IS NULL").bindparams(
            sa.bindparam("expires", expires, type_=sa.DateTime(timezone=True))
        )
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column(
            "expires_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    op.create_table(
        "oauth_consumed_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_oauth_consumed_nonces")),
    )
    with op.batch_alter_table("oauth_consumed_nonces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_consumed_nonces_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_consumed_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_consumed_nonces_expires_at"))
    op.drop_table("oauth_consumed_nonces")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("expires_at")
