"""SQLAlchemy tables, one small module per aggregate."""

from app.models.base import Base, utcnow
from app.models.calendars import (
    CalendarConnection,
    CalendarEvent,
    CalendarEventState,
    CalendarProvider,
    ConnectionState,
    ConsumedOAuthNonce,
)
from app.models.hiring import Project, Proposal, ProposalStatus
from app.models.interviews import (
    AvailabilityWindow,
    Interview,
    InterviewStatus,
    Participant,
    ParticipantKind,
    SlotReservation,
    SyncState,
)
from app.models.links import LinkGrant, LinkScope
from app.models.messaging import Notification, OutboxMessage, OutboxStatus
from app.models.people import ApiToken, Organization, Role, User
from app.models.webhooks import WebhookEndpoint

__all__ = [
    "ApiToken",
    "AvailabilityWindow",
    "Base",
    "CalendarConnection",
    "CalendarEvent",
    "CalendarEventState",
    "CalendarProvider",
    "ConnectionState",
    "ConsumedOAuthNonce",
    "Interview",
    "InterviewStatus",
    "LinkGrant",
    "LinkScope",
    "Notification",
    "Organization",
    "OutboxMessage",
    "OutboxStatus",
    "Participant",
    "ParticipantKind",
    "Project",
    "Proposal",
    "ProposalStatus",
    "Role",
    "SlotReservation",
    "SyncState",
    "User",
    "WebhookEndpoint",
    "utcnow",
]
