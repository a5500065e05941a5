"""How a member's copy of a booked interview reaches them: decided here, once.

A member with a connected calendar gets an event written into it by the calendar sync, and
no iCalendar invite by mail; everyone else (invitees, the candidate, members without a
connected calendar) gets the invite by mail. With both providers connected, the calendar
connected last is the one written to. The audience of mails (app.scheduling.audience) and
the sync plan (app.calendars.sync_plan) both ask this module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from app.models import CalendarConnection, ConnectionState


def calendars_by_member(
    connections: Iterable[CalendarConnection],
) -> dict[uuid.UUID, CalendarConnection]:
    """The calendar each member's event goes to; members missing from it get mail."""
    return one_per_user(c for c in connections if c.state is ConnectionState.CONNECTED)


def one_per_user(
    connections: Iterable[CalendarConnection],
) -> dict[uuid.UUID, CalendarConnection]:
    """A user with both providers connected gets the event in the latest one connected."""
    chosen: dict[uuid.UUID, CalendarConnection] = {}
    for connection in connections:
        current = chosen.get(connection.user_id)
        if current is None or connection.updated_at > current.updated_at:
            chosen[connection.user_id] = connection
    return chosen
