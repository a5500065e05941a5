"""Queries and mutations of proposals and interviews: parse input, call a service, map."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.errors import ServiceError, validation
from app.links.access import LinkAction
from app.models import Interview as InterviewModel
from app.pagination import Cursor
from app.scheduling import booking, listing, moving, requests
from app.scheduling.access import interview_for, proposal_for
from app.scheduling.listing import InterviewGroup as DomainInterviewGroup
from app.scheduling.slots import Availability
from app.scheduling.windows import WindowText
from app.schema.connections import connection, paging
from app.schema.context import Info
from app.schema.errors import UserError, query_errors, user_errors
from app.schema.ids import parse_id, try_parse_id
from app.schema.people import ProposalPayload
from app.schema.permissions import IsAuthenticated, IsAuthenticatedOrLink
from app.schema.prefetch import prefetch_interviews, selected_below
from app.schema.types import (
    Application,
    Interview,
    InterviewConnection,
    Proposal,
    TimeWindow,
)

strawberry.enum(DomainInterviewGroup)
InterviewGroup = DomainInterviewGroup


@strawberry.enum(description="What hiring does with a booked interview still to come.")
class UpcomingInterviews(enum.Enum):
    KEEP = "KEEP"  # it takes place as booked
    CANCEL = "CANCEL"  # cancelled; everyone told, calendars updated


@strawberry.input
class WindowInput:
    start: str = strawberry.field(description='Local "2026-12-01T09:00", or with an offset.')
    end: str


@strawberry.input
class RequestInterviewInput:
    proposal_id: strawberry.ID
    time_zone: str
    windows: list[WindowInput]
    participant_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    invite_emails: list[str] = strawberry.field(default_factory=list)
    duration_minutes: int | None = 30


@strawberry.input
class UpdateAvailabilityInput:
    interview_id: strawberry.ID
    windows: list[WindowInput] = strawberry.field(
        description="The full set after the edit, in the interview's time zone."
    )
    notify_participants: bool = False


@strawberry.input
class BookInterviewInput:
    interview_id: strawberry.ID
    start: datetime
    time_zone: str


@strawberry.input
class MoveBookingInput:
    interview_id: strawberry.ID
    start: datetime = strawberry.field(description="Another offered slot of the same request.")
    time_zone: str


@strawberry.input
class AlternativeTimesInput:
    interview_id: strawberry.ID
    message: str | None = None


@strawberry.input
class CancelInterviewInput:
    interview_id: strawberry.ID
    reason: str | None = None


@strawberry.input
class RescheduleInterviewInput:
    interview_id: strawberry.ID
    time_zone: str
    windows: list[WindowInput]
    reason: str | None = None


@strawberry.type
class InterviewPayload:
    interview: Interview | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SlotDay:
    date: date
    slots: list[TimeWindow]


@strawberry.type
class SlotAvailability:
    days: list[SlotDay]
    warning: str | None
    unchecked_calendars: list[str] = strawberry.field(
        description="Connected calendars that could not be read: their busy time is unknown."
    )


def _windows(windows: list[WindowInput]) -> list[WindowText]:
    return [WindowText(start=w.start, end=w.end) for w in windows]


async def _interview_mutation(info: Info, work: Any) -> InterviewPayload:
    result, errors = await info.context.unit_of_work(work)
    if errors:
        return InterviewPayload(errors=user_errors(errors))
    assert isinstance(result, InterviewModel)
    return InterviewPayload(interview=Interview.of(result))


@strawberry.type
class InterviewQuery:
    @strawberry.field(permission_classes=[IsAuthenticated])
    async def proposal(self, info: Info, id: strawberry.ID) -> Proposal | None:
        proposal_id = try_parse_id(id)
        if proposal_id is None:
            return None
        try:
            async with info.context.db() as session:
                found, _ = await proposal_for(session, info.context.require_viewer(), proposal_id)
        except ServiceError:
            return None  # not found and not yours read the same
        return Proposal.of(found)

    @strawberry.field(permission_classes=[IsAuthenticatedOrLink])
    async def interview(self, info: Info, id: strawberry.ID) -> Interview | None:
        interview_id = try_parse_id(id)
        if interview_id is None:
            return None
        link = info.context.link
        if info.context.viewer is None and link is not None:
            # The link is the permission: its own interview, and no other.
            if not link.allows(interview_id, LinkAction.VIEW):
                return None
            row = await info.context.loaders.interview_by_id.load(interview_id)
            return Interview.of(row) if row is not None else None
        try:
            async with info.context.db() as session:
                found = await interview_for(session, info.context.require_viewer(), interview_id)
        except ServiceError:
            return None
        return Interview.of(found.interview)

    @strawberry.field(permission_classes=[IsAuthenticated])
    async def my_interviews(
        self,
        info: Info,
        group: InterviewGroup,
        first: int | None = 20,
        after: str | None = None,
    ) -> InterviewConnection:
        viewer, now = info.context.require_viewer(), info.context.clock()
        size, cursor = paging(first, after)
        page = await connection(
            info,
            fetch=lambda session: listing.my_interviews(
                session=session, viewer=viewer, group=group, first=size, after=cursor, now=now
            ),
            count=lambda session: listing.count_my_interviews(
                session=session, viewer=viewer, group=group, now=now
            ),
            cursor_of=lambda row: Cursor(listing.sort_key(row, group), row.id),
            node=lambda row: Interview.of(row),
            after=cursor,
        )
        wanted = selected_below(info, "edges", "node")
        await prefetch_interviews(info, [edge.node for edge in page.edges], wanted)
        return page

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Your applications as a candidate, newest first; empty for members and staff, "
            "who page through `proposals` instead."
        ),
    )
    async def my_applications(self, info: Info) -> list[Application]:
        async with info.context.db() as session:
            views = await listing.my_applications(
                session=session, viewer=info.context.require_viewer()
            )
        return [
            Application(proposal=Proposal.of(v.proposal), action_required=v.action_required)
            for v in views
        ]

    @strawberry.field(permission_classes=[IsAuthenticatedOrLink])
    async def available_slots(
        self, info: Info, interview_id: strawberry.ID, time_zone: str
    ) -> SlotAvailability:
        with query_errors():
            parsed_id = parse_id(interview_id, "interviewId", "interview")
            viewer = info.context.acting_viewer(parsed_id, LinkAction.LIST_SLOTS)
            async with info.context.db() as session:
                result = await booking.available_slots(
                    session=session,
                    viewer=viewer,
                    settings=info.context.settings,
                    interview_id=parsed_id,
                    time_zone=time_zone,
                    now=info.context.clock(),
                )
        return _slot_availability(result, ZoneInfo(time_zone))

    @strawberry.field(
        permission_classes=[IsAuthenticatedOrLink],
        description=(
            "The other slots a booked interview may move to (moveBooking), in `timeZone`; "
            "empty unless booked, INVALID_STATE once moving is no longer allowed."
        ),
    )
    async def move_options(
        self, info: Info, interview_id: strawberry.ID, time_zone: str
    ) -> SlotAvailability:
        with query_errors():
            parsed_id = parse_id(interview_id, "interviewId", "interview")
            viewer = info.context.acting_viewer(parsed_id, LinkAction.MOVE)
            async with info.context.db() as session:
                result = await moving.move_options(
                    session=session,
                    viewer=viewer,
                    settings=info.context.settings,
                    interview_id=parsed_id,
                    time_zone=time_zone,
                    now=info.context.clock(),
                )
        return _slot_availability(result, ZoneInfo(time_zone))


async def _calendars_first(
    info: Info, interview_id: strawberry.ID, action: LinkAction, *, moving: bool
) -> tuple[uuid.UUID, Viewer, booking.CalendarAnswer]:
    """The first step of booking or moving: the connected calendars are asked with no
    transaction open, before the mutation's own transaction (booking.ask_member_calendars)."""
    parsed_id = parse_id(interview_id, "interviewId", "interview")
    viewer = info.context.acting_viewer(parsed_id, action)
    async with info.context.db() as session:
        calendars = await booking.ask_member_calendars(
            session=session,
            viewer=viewer,
            settings=info.context.settings,
            interview_id=parsed_id,
            moving=moving,
        )
    return parsed_id, viewer, calendars


def _slot_availability(result: Availability, tz: ZoneInfo) -> SlotAvailability:
    return SlotAvailability(
        days=[
            SlotDay(
                date=day.date,
                slots=[
                    TimeWindow(start=s.start.astimezone(tz), end=s.end.astimezone(tz))
                    for s in day.slots
                ],
            )
            for day in result.days
        ],
        warning=result.warning,
        unchecked_calendars=result.unchecked_calendars,
    )


@strawberry.type
class InterviewMutation:
    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def request_interview(self, info: Info, input: RequestInterviewInput) -> InterviewPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> InterviewModel:
            return await requests.request_interview(
                session=session,
                viewer=ctx.require_viewer(),
                settings=ctx.settings,
                request=requests.InterviewRequest(
                    proposal_id=parse_id(input.proposal_id, "proposalId", "proposal"),
                    time_zone=input.time_zone,
                    windows=_windows(input.windows),
                    participant_ids=[
                        _participant_id(value, index)
                        for index, value in enumerate(input.participant_ids)
                    ],
                    invite_emails=input.invite_emails,
                    duration_minutes=(
                        30 if input.duration_minutes is None else input.duration_minutes
                    ),
                ),
                now=ctx.clock(),
            )

        return await _interview_mutation(info, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def update_interview_availability(
        self, info: Info, input: UpdateAvailabilityInput
    ) -> InterviewPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> InterviewModel:
            return await requests.update_availability(
                session=session,
                viewer=ctx.require_viewer(),
                settings=ctx.settings,
                interview_id=parse_id(input.interview_id, "interviewId", "interview"),
                windows=_windows(input.windows),
                notify_participants=input.notify_participants,
                now=ctx.clock(),
            )

        return await _interview_mutation(info, work)

    @strawberry.mutation(permission_classes=[IsAuthenticatedOrLink])
    async def book_interview(self, info: Info, input: BookInterviewInput) -> InterviewPayload:
        ctx = info.context
        try:
            interview_id, viewer, calendars = await _calendars_first(
                info, input.interview_id, LinkAction.BOOK, moving=False
            )
        except ServiceError as exc:
            return InterviewPayload(errors=user_errors(exc.errors))

        async def work(session: AsyncSession) -> InterviewModel:
            return await booking.book_slot(
                session=session,
                viewer=viewer,
                settings=ctx.settings,
                interview_id=interview_id,
                start=input.start,
                time_zone=input.time_zone,
                now=ctx.clock(),
                calendars=calendars,
            )

        return await _interview_mutation(info, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticatedOrLink],
        description=(
            "Move a booked interview to another offered slot of its request, in one step: the "
            "old slot stays booked when the new one is gone (SLOT_UNAVAILABLE). The candidate "
            "and the team may move it until the cut-off before the start (24 hours unless "
            "set) and a limited number of times (3 unless set): INVALID_STATE beyond."
        ),
    )
    async def move_booking(self, info: Info, input: MoveBookingInput) -> InterviewPayload:
        ctx = info.context
        try:
            interview_id, viewer, calendars = await _calendars_first(
                info, input.interview_id, LinkAction.MOVE, moving=True
            )
        except ServiceError as exc:
            return InterviewPayload(errors=user_errors(exc.errors))

        async def work(session: AsyncSession) -> InterviewModel:
            return await moving.move_booking(
                session=session,
                viewer=viewer,
                settings=ctx.settings,
                interview_id=interview_id,
                start=input.start,
                time_zone=input.time_zone,
                now=ctx.clock(),
                calendars=calendars,
            )

        return await _interview_mutation(info, work)

    @strawberry.mutation(permission_classes=[IsAuthenticatedOrLink])
    async def request_alternative_times(
        self, info: Info, input: AlternativeTimesInput
    ) -> InterviewPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> InterviewModel:
            interview_id = parse_id(input.interview_id, "interviewId", "interview")
            return await booking.request_alternative_times(
                session=session,
                viewer=ctx.acting_viewer(interview_id, LinkAction.REQUEST_ALTERNATIVE_TIMES),
                interview_id=interview_id,
                message=input.message,
            )

        return await _interview_mutation(info, work)

    @strawberry.mutation(permission_classes=[IsAuthenticatedOrLink])
    async def cancel_interview(self, info: Info, input: CancelInterviewInput) -> InterviewPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> InterviewModel:
            interview_id = parse_id(input.interview_id, "interviewId", "interview")
            return await requests.cancel_interview(
                session=session,
                viewer=ctx.acting_viewer(interview_id, LinkAction.CANCEL),
                interview_id=interview_id,
                reason=input.reason,
                now=ctx.clock(),
            )

        return await _interview_mutation(info, work)

    @strawberry.mutation(permission_classes=[IsAuthenticated])
    async def reschedule_interview(
        self, info: Info, input: RescheduleInterviewInput
    ) -> InterviewPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> InterviewModel:
            return await requests.reschedule_interview(
                session=session,
                viewer=ctx.require_viewer(),
                settings=ctx.settings,
                interview_id=parse_id(input.interview_id, "interviewId", "interview"),
                time_zone=input.time_zone,
                windows=_windows(input.windows),
                reason=input.reason,
                now=ctx.clock(),
            )

        return await _interview_mutation(info, work)

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "Closes the proposal as hired; pending requests are withdrawn. A booked interview "
            "still to come is kept unless `upcomingInterviews: CANCEL`. The candidate, the "
            "team and the account manager are each told."
        ),
    )
    async def hire_candidate(
        self,
        info: Info,
        proposal_id: strawberry.ID,
        upcoming_interviews: UpcomingInterviews = UpcomingInterviews.KEEP,
    ) -> ProposalPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> Any:
            return await requests.hire_candidate(
                session=session,
                viewer=ctx.require_viewer(),
                proposal_id=parse_id(proposal_id, "proposalId", "proposal"),
                now=ctx.clock(),
                upcoming=requests.UpcomingInterviews(upcoming_interviews.value),
            )

        proposal, errors = await ctx.unit_of_work(work)
        if errors:
            return ProposalPayload(errors=user_errors(errors))
        assert proposal is not None
        return ProposalPayload(proposal=Proposal.of(proposal))


def _participant_id(value: str, index: int) -> uuid.UUID:
    parsed = try_parse_id(value)
    if parsed is None:
        raise ServiceError(
            [validation("not a member of the proposal's organization", f"participantIds.{index}")]
        )
    return parsed
