"""Find times and slot explanations for the hiring team: the facts read once, then the
pure rules of app.scheduling.finding and app.scheduling.explaining.

Queries: the people, their bookings and their load limits (a fixed number of statements
whatever the number of members or windows), then one provider call per connected calendar
for the whole range, shared with availableSlots through the free/busy cache.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.calendars.freebusy import BusyByUser, calendar_busy_by_user
from app.config import Settings
from app.errors import ErrorCode, FieldError, ServiceError, validation
from app.models import InterviewStatus, Role, User
from app.scheduling import repository
from app.scheduling.access import interview_for, proposal_for
from app.scheduling.explaining import CalendarState, PersonTime, SlotVerdict, explain_slots
from app.scheduling.finding import MemberTime, Suggestion, suggest_windows
from app.scheduling.hours import from_stored, working_ranges
from app.scheduling.load import LoadBook
from app.scheduling.requests import MAX_DURATION_MINUTES, MIN_DURATION_MINUTES
from app.scheduling.windows import TimeRange

MAX_SUGGESTIONS = 50


@dataclass(frozen=True)
class PeopleFacts:
    users: dict[uuid.UUID, User]
    booked: dict[uuid.UUID, list[tuple[TimeRange, uuid.UUID]]]
    calendars: BusyByUser
    books: dict[uuid.UUID, LoadBook]

    def bookings(self, user_id: uuid.UUID) -> list[TimeRange]:
        return [time for time, _ in self.booked[user_id]]

    def calendar_state(self, user_id: uuid.UUID) -> CalendarState:
        if user_id in self.calendars.unchecked:
            return CalendarState.UNCHECKED
        if user_id in self.calendars.unconnected:
            return CalendarState.NONE
        return CalendarState.CHECKED

    def working(self, user_id: uuid.UUID, start: datetime, end: datetime) -> list[TimeRange]:
        user = self.users[user_id]
        tz = ZoneInfo(user.time_zone)
        return working_ranges(from_stored(user.working_hours), tz, start, end)


async def _people_facts(
    session: AsyncSession,
    settings: Settings,
    *,
    members: Sequence[uuid.UUID],
    others: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
    exclude_interview_id: uuid.UUID | None = None,
) -> PeopleFacts:
    everyone = [*members, *others]
    users = await repository.users_by_ids(session, everyone)
    bookings = await repository.bookings_by_user(
        session, everyone, start=start, end=end, exclude_interview_id=exclude_interview_id
    )
    books = await repository.load_books(
        session, members, start=start, end=end, exclude_interview_id=exclude_interview_id
    )
    calendars = await calendar_busy_by_user(session, list(members), start, end, settings=settings)
    return PeopleFacts(users, bookings, calendars, {b.limit.user_id: b for b in books})


def _require_team(viewer: Viewer, organization_id: uuid.UUID, field: str) -> None:
    if not viewer.can_schedule_for_organization(organization_id):
        raise ServiceError.one(
            ErrorCode.FORBIDDEN, "only the hiring team and its account manager can see this", field
        )


# -- find times ------------------------------------------------------------------------


@dataclass(frozen=True)
class FoundTimes:
    suggestions: list[Suggestion]
    users: dict[uuid.UUID, User]
    unchecked: frozenset[uuid.UUID]  # members whose calendar was not read (none, or failing)


async def find_times(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    proposal_id: uuid.UUID,
    participant_ids: Sequence[uuid.UUID],
    duration_minutes: int,
    days: int,
    now: datetime,
) -> FoundTimes:
    proposal, project = await proposal_for(session, viewer, proposal_id)
    _require_team(viewer, project.organization_id, "proposalId")
    errors: list[FieldError] = []
    if not MIN_DURATION_MINUTES <= duration_minutes <= MAX_DURATION_MINUTES:
        errors.append(
            validation(
                f"give a duration from {MIN_DURATION_MINUTES} to {MAX_DURATION_MINUTES} minutes",
                "durationMinutes",
            )
        )
    if not 1 <= days <= settings.max_days_ahead:
        errors.append(validation(f"give from 1 to {settings.max_days_ahead} days", "days"))
    if not participant_ids:
        errors.append(validation("choose at least one member", "participantIds"))
    if len(participant_ids) > settings.max_participants:
        errors.append(
            validation(f"choose at most {settings.max_participants} members", "participantIds")
        )
    if errors:
        raise ServiceError(errors)
    members = list(dict.fromkeys(participant_ids))
    known = await repository.users_by_ids(session, members)
    for index, member_id in enumerate(participant_ids):
        user = known.get(member_id)
        if (
            user is None
            or user.role is not Role.HIRING_MEMBER
            or user.organization_id != project.organization_id
        ):
            errors.append(
                validation("not a member of the proposal's organization", f"participantIds.{index}")
            )
    if errors:
        raise ServiceError(errors)

    start = now + timedelta(minutes=settings.min_notice_minutes)
    end = now + timedelta(days=days)
    facts = await _people_facts(
        session, settings, members=members, others=[proposal.candidate_id], start=start, end=end
    )
    member_times = [
        MemberTime(
            user_id=member,
            working=facts.working(member, start, end),
            busy=[*facts.bookings(member), *facts.calendars.ranges.get(member, [])],
            load=facts.books.get(member),
        )
        for member in members
    ]
    suggestions = suggest_windows(
        member_times,
        candidate_busy=facts.bookings(proposal.candidate_id),
        start=start,
        end=end,
        duration=timedelta(minutes=duration_minutes),
        limit=MAX_SUGGESTIONS,
    )
    unchecked = frozenset(
        m for m in members if facts.calendar_state(m) is not CalendarState.CHECKED
    )
    return FoundTimes(suggestions, facts.users, unchecked)


# -- slot explanations -----------------------------------------------------------------


@dataclass(frozen=True)
class Explained:
    verdicts: list[SlotVerdict]
    users: dict[uuid.UUID, User]
    calendar_labels: dict[uuid.UUID, str]  # "<account> (<provider>)" of unreadable calendars


async def explain_interview(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    interview_id: uuid.UUID,
    now: datetime,
) -> Explained:
    """Every slot of the interview's windows with its reasons; for the team and its account
    manager (the candidate gets FORBIDDEN: their view is availableSlots, as it was)."""
    found = await interview_for(session, viewer, interview_id)
    _require_team(viewer, found.project.organization_id, "interviewId")
    interview = found.interview
    windows = [
        TimeRange(w.starts_at, w.ends_at)
        for w in await repository.windows_of(session, interview.id)
    ]
    if interview.status is InterviewStatus.CANCELLED or not windows:
        return Explained([], {}, {})
    participants = await repository.participants_of(session, interview.id)
    members = sorted({p.user_id for p in participants if p.user_id is not None})
    candidate = found.proposal.candidate_id
    # The same range as availableSlots, so both read the same cached calendar answers.
    start, end = min(w.start for w in windows), max(w.end for w in windows)
    facts = await _people_facts(
        session,
        settings,
        members=members,
        others=[candidate],
        start=start,
        end=end,
        exclude_interview_id=interview.id,
    )
    people = [
        PersonTime(
            user_id=member,
            bookings=facts.bookings(member),
            booking_interviews=[i for _, i in facts.booked[member]],
            calendar_busy=facts.calendars.ranges.get(member, []),
            calendar=facts.calendar_state(member),
            working=facts.working(member, start, end),
            load=facts.books.get(member),
        )
        for member in members
    ]
    people.append(
        PersonTime(
            user_id=candidate,
            bookings=facts.bookings(candidate),
            booking_interviews=[i for _, i in facts.booked[candidate]],
        )
    )
    verdicts = explain_slots(
        windows,
        duration=timedelta(minutes=interview.duration_minutes),
        people=people,
        earliest_start=now + timedelta(minutes=settings.min_notice_minutes),
    )
    # The other interview is named only to a viewer who may see it (another organization's,
    # say, is not): for the rest the reason says whose time is taken, and nothing more.
    named = {r.interview for v in verdicts for r in v.reasons if r.interview is not None}
    visible = await repository.visible_interview_ids(session, viewer, named)
    for verdict in verdicts:
        verdict.reasons[:] = [
            r if r.interview is None or r.interview in visible else replace(r, interview=None)
            for r in verdict.reasons
        ]
    return Explained(verdicts, facts.users, dict(facts.calendars.unchecked))
