"""Interviewer load limits: at most N interviews a day and M a week per member.

A member's own limit wins; unset, the organization's default applies; unset there too, no
limit (SPEC section 5). Days and weeks are the member's own: local dates in their zone,
weeks from Monday (ISO). An interview counts on the day it starts.

Pure functions over the member's booked starts; booking checks them with the members'
rows locked (app.scheduling.repository.lock_people), so two concurrent bookings cannot
both take a member's last interview of the day.
"""

from __future__ import annotations

import enum
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo


class LoadPeriod(enum.StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"


@dataclass(frozen=True)
class LoadLimit:
    user_id: uuid.UUID
    time_zone: ZoneInfo
    per_day: int | None
    per_week: int | None

    @property
    def limited(self) -> bool:
        return self.per_day is not None or self.per_week is not None


def effective_limit(
    *,
    user_id: uuid.UUID,
    time_zone: ZoneInfo,
    own: tuple[int | None, int | None],
    organization: tuple[int | None, int | None],
) -> LoadLimit:
    """Each of the two limits falls back to the organization's on its own."""
    per_day = own[0] if own[0] is not None else organization[0]
    per_week = own[1] if own[1] is not None else organization[1]
    return LoadLimit(user_id, time_zone, per_day, per_week)


def _week(day: date) -> tuple[int, int]:
    iso = day.isocalendar()
    return iso.year, iso.week


@dataclass
class LoadBook:
    """A member's booked interviews counted by their local day and week."""

    limit: LoadLimit
    per_day: Counter[date] = field(default_factory=Counter)
    per_week: Counter[tuple[int, int]] = field(default_factory=Counter)

    @classmethod
    def of(cls, limit: LoadLimit, booked_starts: Iterable[datetime]) -> LoadBook:
        book = cls(limit)
        for start in booked_starts:
            book.add(start)
        return book

    def add(self, start: datetime) -> None:
        day = start.astimezone(self.limit.time_zone).date()
        self.per_day[day] += 1
        self.per_week[_week(day)] += 1

    def exceeded_by(self, start: datetime) -> LoadPeriod | None:
        """The limit one more interview starting at `start` would pass, if any."""
        day = start.astimezone(self.limit.time_zone).date()
        if self.limit.per_day is not None and self.per_day[day] >= self.limit.per_day:
            return LoadPeriod.DAY
        if self.limit.per_week is not None and self.per_week[_week(day)] >= self.limit.per_week:
            return LoadPeriod.WEEK
        return None


def over_limits(books: Iterable[LoadBook], start: datetime) -> list[tuple[uuid.UUID, LoadPeriod]]:
    """Members a slot starting at `start` would take over one of their limits."""
    found = []
    for book in books:
        period = book.exceeded_by(start)
        if period is not None:
            found.append((book.limit.user_id, period))
    return found
