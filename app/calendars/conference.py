"""One conference link per interview.

When the requesting member has a connected Google or Microsoft calendar, the sync creates a
Meet or Teams meeting on their copy of the interview, seconds (or, when the provider is
busy, minutes) after the booking. Rather than mail the fallback link first and the
provider's link later (two links, and an update for everyone), the booking marks the
conference *pending*: mails that show the link or carry an invite wait (a short, free
retry; see `notifications.delivery.Deferred`) until the sync writes the provider's link or
gives up for good and keeps the fallback. A deadline makes sure no mail waits for ever.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars.providers import PROVIDERS, configured
from app.config import Settings
from app.models import (
    CalendarConnection,
    CalendarProvider,
    ConnectionState,
    Interview,
    Notification,
    utcnow,
)
from app.notifications.kinds import MessageKind

CONFERENCE_PROVIDERS = {provider: spec.conference for provider, spec in PROVIDERS.items()}


async def expect_provider_conference(
    *, session: AsyncSession, settings: Settings, interview: Interview
) -> bool:
    """At booking: mark the conference pending when the requester's calendar will make one.

    `interview.conference_url` keeps the fallback link meanwhile.
    """
    providers = [p for p in CalendarProvider if configured(settings, p)]
    connected = providers and await session.scalar(
        select(func.count())
        .select_from(CalendarConnection)
        .where(
            CalendarConnection.user_id == interview.requested_by_id,
            CalendarConnection.state == ConnectionState.CONNECTED,
            CalendarConnection.provider.in_(providers),
        )
    )  # no provider configured: no calendar can make the meeting, nothing to ask
    # The workers' real time, like the outbox rows whose waiting it governs (the domain's
    # clock may be set elsewhere in tests and demos).
    interview.conference_pending_since = utcnow() if connected else None
    return bool(connected)


async def settle_conference(
    session: AsyncSession,
    interview: Interview,
    *,
    url: str | None = None,
    provider: CalendarProvider | None = None,
) -> None:
    """Clear the pending mark: with the provider's link, or (no url) the fallback stays.

    In-app messages of the booking that showed the fallback link are brought up to date,
    so the API shows one link too.
    """
    if interview.conference_pending_since is None:
        return
    interview.conference_pending_since = None
    if url is None or provider is None or url == interview.conference_url:
        return
    old = interview.conference_url
    interview.conference_url = url
    interview.conference_provider = CONFERENCE_PROVIDERS[provider]
    if old:
        await session.execute(
            update(Notification)
            .where(
                Notification.interview_id == interview.id,
                Notification.kind.in_(
                    [MessageKind.INTERVIEW_BOOKED.value, MessageKind.INTERVIEW_MOVED.value]
                ),
            )
            .values(message=func.replace(Notification.message, old, url))
            .execution_options(synchronize_session=False)
        )


def conference_pending(interview: Interview) -> bool:
    return interview.conference_pending_since is not None
