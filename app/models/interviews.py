"""Interviews (one round on a proposal), their windows, participants and reservations."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, utcnow


class InterviewStatus(enum.StrEnum):
    PENDING = "PENDING"
    BOOKED = "BOOKED"
    CANCELLED = "CANCELLED"


class ParticipantKind(enum.StrEnum):
    MEMBER = "MEMBER"
    INVITEE = "INVITEE"


class SyncState(enum.StrEnum):
    NOT_SCHEDULED = "NOT_SCHEDULED"  # nothing to write yet: the interview is not booked
    PENDING = "PENDING"
    SYNCED = "SYNCED"
    FAILED = "FAILED"
    # The member's calendar cannot be reached (access revoked): the interview, or its
    # cancellation, was mailed instead; sync_error says what to do.
    DISCONNECTED = "DISCONNECTED"


class Interview(IdMixin, Base):
    __tablename__ = "interviews"

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id"), index=True)
    # Counts rounds, not requests: a reschedule keeps its round's number, and a request
    # cancelled before it was booked gives its number back (repository.next_round).
    round: Mapped[int] = mapped_column(Integer)
    requested_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    time_zone: Mapped[str] = mapped_column(String(64))
    duration_minutes: Mapped[int] = mapped_column(Integer, default=30)
    status: Mapped[InterviewStatus] = mapped_column(
        Enum(InterviewStatus, native_enum=False, length=10),
        default=InterviewStatus.PENDING,
        index=True,
    )
    requested_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    booked_start: Mapped[datetime | None] = mapped_column(default=None, index=True)
    booked_end: Mapped[datetime | None] = mapped_column(default=None)
    booked_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    conference_url: Mapped[str | None] = mapped_column(String(1000), default=None)
    conference_provider: Mapped[str | None] = mapped_column(String(40), default=None)
    # Set at booking when the requester's calendar will create the Meet / Teams meeting:
    # mails that show the link wait until the sync has written it (or given up, leaving
    # the fallback link), so everyone gets one link (app.calendars.conference).
    conference_pending_since: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    cancelled_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    cancel_reason: Mapped[str | None] = mapped_column(Text, default=None)
    alternative_times_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    alternative_times_message: Mapped[str | None] = mapped_column(Text, default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    # iCalendar SEQUENCE of the invite: raised on every change mailed to attendees.
    ical_sequence: Mapped[int] = mapped_column(Integer, default=0)
    rescheduled_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("interviews.id"), default=None
    )
    # Who last changed the offered times (a member, or an account manager acting for them).
    last_edited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id"), default=None
    )
    last_edited_at: Mapped[datetime | None] = mapped_column(default=None)
    # How many times the booking was moved to another offered slot (moveBooking).
    move_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Raised with every webhook event about the interview (the row is locked then): the
    # order in which one endpoint receives them (app.webhooks.delivery).
    event_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class AvailabilityWindow(IdMixin, Base):
    __tablename__ = "availability_windows"

    interview_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class Participant(IdMixin, Base):
    __tablename__ = "participants"
    __table_args__ = (UniqueConstraint("interview_id", "email"),)

    interview_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ParticipantKind] = mapped_column(
        Enum(ParticipantKind, native_enum=False, length=10)
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    sync_state: Mapped[SyncState] = mapped_column(
        Enum(SyncState, native_enum=False, length=20), default=SyncState.NOT_SCHEDULED
    )
    sync_error: Mapped[str | None] = mapped_column(Text, default=None)
    # When the reconcile sweep last compared this person's calendar copy with the booking.
    sync_checked_at: Mapped[datetime | None] = mapped_column(default=None)


class SlotReservation(IdMixin, Base):
    """A person's time taken by a booked interview.

    One row per person (member participants and the candidate) while the interview is
    booked; cancelling deletes them. On PostgreSQL an exclusion constraint forbids two
    overlapping rows of one person, so double booking is impossible even across servers.
    """

    __tablename__ = "slot_reservations"
    __table_args__ = (UniqueConstraint("interview_id", "user_id"),)

    interview_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("interviews.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
