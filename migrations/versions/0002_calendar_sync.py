"""calendar sync: connected calendars and the events written to them

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 21:08:33.446475
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_connections",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "provider",
            sa.Enum("GOOGLE", "MICROSOFT", name="calendarprovider", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("account_email", sa.String(length=320), nullable=False),
        sa.Column("calendar_id", sa.String(length=1024), nullable=False),
        sa.Column("token_ciphertext", sa.Text(), nullable=False),
        sa.Column(
            "state",
            sa.Enum("CONNECTED", "BROKEN", name="connectionstate", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("broken_reason", sa.Text(), nullable=True),
        sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_calendar_connections_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_connections")),
        sa.UniqueConstraint("user_id", "provider", name=op.f("uq_calendar_connections_user_id")),
    )
    with op.batch_alter_table("calendar_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_connections_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "calendar_events",
        sa.Column("interview_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=True),
        sa.Column(
            "provider",
            sa.Enum("GOOGLE", "MICROSOFT", name="calendarprovider", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("provider_event_id", sa.String(length=1024), nullable=True),
        sa.Column("ical_uid", sa.String(length=255), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "PENDING",
                "SYNCED",
                "FAILED",
                "DELETED",
                name="calendareventstate",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["calendar_connections.id"],
            name=op.f("fk_calendar_events_connection_id_calendar_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["interview_id"],
            ["interviews.id"],
            name=op.f("fk_calendar_events_interview_id_interviews"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_calendar_events_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_events")),
        sa.UniqueConstraint(
            "interview_id", "participant_id", name=op.f("uq_calendar_events_interview_id")
        ),
    )
    with op.batch_alter_table("calendar_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_events_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_calendar_events_interview_id"), ["interview_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_calendar_events_participant_id"), ["participant_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_calendar_events_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("calendar_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_events_state"))
        batch_op.drop_index(batch_op.f("ix_calendar_events_participant_id"))
        batch_op.drop_index(batch_op.f("ix_calendar_events_interview_id"))
        batch_op.drop_index(batch_op.f("ix_calendar_events_connection_id"))

    op.drop_table("calendar_events")
    with op.batch_alter_table("calendar_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_connections_user_id"))

    op.drop_table("calendar_connections")
