"""One interface for every calendar provider, and the errors a caller must tell apart.

A client is built for one connection (its tokens and calendar) and is used by one task at a
time. The provider libraries are blocking; the clients run them in a worker thread, so the
async methods here never block the event loop.

What a caller does with each error:

- `Retryable`: try again later, after `retry_after` seconds when the provider said so
  (429 / 403 rate limits with Retry-After, 5xx, timeouts, a token endpoint that is down).
- `AuthExpired`: the provider still refused the access token after one refresh; retry once
  more later, then treat as broken.
- `Revoked`: the refresh token is dead (`invalid_grant`): mark the connection broken and
  ask the user to connect again. Retrying cannot help.
- `AlreadyExists`: the deterministic id is taken by an event that cannot be reused (for
  example deleted on Google, which keeps the ids of deleted events).
- `Gone`: the event is not there any more (404 / 410); for a delete this means done.
- `CalendarError` itself: a permanent refusal (400, 403 forbidden): record and give up.
"""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from app.calendars.tokens import TokenSet
from app.models import CalendarProvider
from app.notifications.ical import interview_uid as interview_uid  # shared with the invites
from app.scheduling.windows import TimeRange

# Namespace of Roundtable's deterministic provider ids: the same interview and participant
# always give the same id, so a create retried after a timeout finds the first event.
EVENT_ID_NAMESPACE = uuid.UUID("9f4c1f5e-3a52-4d3e-9c1e-5d3f4a1b7c20")


def event_key(interview_id: uuid.UUID, participant_id: uuid.UUID) -> str:
    """The idempotency key of one participant's copy of an interview.

    32 lowercase hex characters: a valid Google event id (base32hex, 5 to 1024 long) and a
    valid Graph transactionId.
    """
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{interview_id}/{participant_id}").hex


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class CalendarError(Exception):
    """The provider refused the request for good; the message says why."""


class Retryable(CalendarError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthExpired(CalendarError):
    """The access token was refused even after a refresh."""


class Revoked(CalendarError):
    """The refresh token was refused: the user has to connect the calendar again."""


class AlreadyExists(CalendarError):
    def __init__(self, message: str, provider_event_id: str) -> None:
        super().__init__(message)
        self.provider_event_id = provider_event_id


class Gone(CalendarError):
    """The event does not exist (any more) at the provider."""


class SyncTokenExpired(CalendarError):
    """The incremental sync position is no longer valid (Google 410 `fullSyncRequired`,
    Graph 410 `syncStateNotFound`): list everything again."""


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str | None = None


@dataclass(frozen=True)
class EventSpec:
    """What to write: the same for every participant's copy except `key`."""

    key: str  # event_key(): Google event id, Graph transactionId
    ical_uid: str
    sequence: int
    title: str
    description: str
    start: datetime
    end: datetime
    time_zone: str  # IANA name the event is shown in
    attendees: tuple[Attendee, ...] = ()
    location: str | None = None
    # True on the requesting member's copy only: that provider creates the Meet / Teams
    # meeting, the other copies carry its link in the description.
    create_conference: bool = False

    def __post_init__(self) -> None:
        for value in (self.start, self.end):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError("event times must be aware")
        if self.end <= self.start:
            raise ValueError("an event must end after it starts")


@dataclass(frozen=True)
class WrittenEvent:
    provider_event_id: str
    conference_url: str | None = None
    web_link: str | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """One event as the provider lists it in a full or incremental sync."""

    id: str
    removed: bool  # deleted (Google keeps it as "cancelled"; Graph sends "@removed")
    start: datetime | None = None
    end: datetime | None = None
    text: str = ""  # title and description: where Roundtable's reference is found


@dataclass(frozen=True)
class Changes:
    """What changed since `sync_token` (or, for a full sync, everything in the window)."""

    events: list[ProviderEvent]
    sync_token: str | None  # the position to pass next time
    full: bool


@dataclass(frozen=True)
class AccountInfo:
    """Who connected and which calendar we write to, read right after the OAuth exchange."""

    email: str
    calendar_id: str


@dataclass
class TokenHolder:
    """The connection's tokens as the client sees them; `changed` after a refresh."""

    tokens: TokenSet
    changed: bool = field(default=False)

    def replace(self, tokens: TokenSet) -> None:
        self.tokens = tokens
        self.changed = True


class CalendarClient(ABC):
    """Create, update and delete events in one calendar, and read its busy times."""

    provider: CalendarProvider

    def __init__(self, *, holder: TokenHolder, calendar_id: str) -> None:
        self.holder = holder
        self.calendar_id = calendar_id

    @property
    def tokens(self) -> TokenSet:
        return self.holder.tokens

    @property
    def tokens_changed(self) -> bool:
        """Whether a refresh happened: the caller stores the new tokens."""
        return self.holder.changed

    @abstractmethod
    def close(self) -> None:
        """Close the client's HTTP connections."""

    async def __aenter__(self) -> CalendarClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        self.close()

    @abstractmethod
    async def account(self) -> AccountInfo:
        """The account's email address and default calendar."""

    @abstractmethod
    async def create_event(self, spec: EventSpec) -> WrittenEvent:
        """Create the event, or return the one a previous attempt with spec.key created."""

    @abstractmethod
    async def update_event(self, provider_event_id: str, spec: EventSpec) -> WrittenEvent:
        """Replace times, text and attendees; Gone when the event was deleted."""

    @abstractmethod
    async def delete_event(self, provider_event_id: str) -> None:
        """Remove the event; Gone when it was already removed (treat as done)."""

    @abstractmethod
    async def restore_event(self, provider_event_id: str, spec: EventSpec) -> WrittenEvent:
        """Write again an event someone deleted by hand; its id may change."""

    @abstractmethod
    async def changes(self, *, sync_token: str | None, start: datetime, end: datetime) -> Changes:
        """Events changed since `sync_token`, or all of [start, end) when it is None.

        SyncTokenExpired when the provider no longer knows the position.
        """

    @abstractmethod
    async def busy(self, start: datetime, end: datetime) -> list[TimeRange]:
        """The calendar's busy blocks that overlap [start, end), in one provider call."""
