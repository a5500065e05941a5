"""Find times, slot explanations, working hours and load limits: parse, call, map."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app import models
from app.scheduling import insight, preferences
from app.scheduling.explaining import ReasonCode, describe
from app.scheduling.hours import clock_text, from_stored
from app.schema.context import Info
from app.schema.errors import query_errors, user_errors
from app.schema.ids import parse_id
from app.schema.organizations import Organization
from app.schema.people import OrganizationPayload, UserPayload
from app.schema.permissions import IsAuthenticated
from app.schema.types import Interview, User

strawberry.enum(ReasonCode, name="SlotReasonCode")


@strawberry.enum
class Weekday(enum.IntEnum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


@strawberry.type
class WorkingHours:
    weekday: Weekday
    start: str = strawberry.field(description='Local "09:00" in the member\'s zone.')
    end: str = strawberry.field(description='Local "17:00"; "24:00" is the end of the day.')


@strawberry.type
class SchedulingPreferences:
    max_interviews_per_day: int | None = strawberry.field(
        description="The member's own limit; null: the organization's default applies."
    )
    max_interviews_per_week: int | None
    working_hours: list[WorkingHours] = strawberry.field(
        description="In the member's zone; 09:00-17:00 Monday to Friday until set."
    )
    working_hours_set: bool


@strawberry.type
class WindowSuggestion:
    start: datetime
    end: datetime
    free_participants: list[User]
    busy_participants: list[User]
    unchecked_participants: list[User] = strawberry.field(
        description="Free members whose calendar could not be checked (none connected, or "
        "unreadable): they may still be busy."
    )


@strawberry.type
class SlotReason:
    code: ReasonCode
    participant: User | None
    blocking: bool = strawberry.field(description="Whether this reason alone hides the slot.")
    message: str
    interview_id: strawberry.Private[uuid.UUID | None] = None

    @strawberry.field(
        description="OTHER_INTERVIEW: that interview, when you may see it; else null."
    )
    async def interview(self, info: Info) -> Interview | None:
        if self.interview_id is None:
            return None
        row = await info.context.loaders.interview_by_id.load(self.interview_id)
        return Interview.of(row) if row is not None else None


@strawberry.type
class SlotExplanation:
    start: datetime
    end: datetime
    offered: bool
    reasons: list[SlotReason]


@strawberry.input
class WorkingHoursInput:
    weekday: Weekday
    start: str
    end: str


@strawberry.input
class SchedulingPreferencesInput:
    user_id: strawberry.ID | None = strawberry.field(
        default=None, description="A member of a team you serve; yourself when left out."
    )
    max_interviews_per_day: int | None = None
    max_interviews_per_week: int | None = None
    working_hours: list[WorkingHoursInput] | None = strawberry.field(
        default=None, description="The whole week; left out: 09:00-17:00 Monday to Friday."
    )


@strawberry.input
class OrganizationLoadLimitsInput:
    organization_id: strawberry.ID
    max_interviews_per_day: int | None = None
    max_interviews_per_week: int | None = None


def preferences_of(model: models.User) -> SchedulingPreferences:
    return SchedulingPreferences(
        max_interviews_per_day=model.max_interviews_per_day,
        max_interviews_per_week=model.max_interviews_per_week,
        working_hours=[
            WorkingHours(
                weekday=Weekday(h.weekday), start=clock_text(h.start), end=clock_text(h.end)
            )
            for h in from_stored(model.working_hours)
        ],
        working_hours_set=model.working_hours is not None,
    )


def _local(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz)


@strawberry.type
class SchedulingQuery:
    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Windows the chosen members could offer in the next `days` days, ranked by how "
            "many are free, then soonest; times in your zone. For the hiring team."
        ),
    )
    async def suggest_windows(
        self,
        info: Info,
        proposal_id: strawberry.ID,
        participant_ids: list[strawberry.ID],
        duration_minutes: int | None = 30,
        days: int | None = 14,
    ) -> list[WindowSuggestion]:
        ctx = info.context
        with query_errors():
            viewer = ctx.require_viewer()
            async with ctx.db() as session:
                found = await insight.find_times(
                    session=session,
                    viewer=viewer,
                    settings=ctx.settings,
                    proposal_id=parse_id(proposal_id, "proposalId", "proposal"),
                    participant_ids=[
                        parse_id(value, f"participantIds.{i}", "member")
                        for i, value in enumerate(participant_ids)
                    ],
                    duration_minutes=30 if duration_minutes is None else duration_minutes,
                    days=14 if days is None else days,
                    now=ctx.clock(),
                )
        tz = ZoneInfo(viewer.user.time_zone)

        def users(ids: Any) -> list[User]:
            return [User.of(found.users[i]) for i in sorted(ids, key=str)]

        return [
            WindowSuggestion(
                start=_local(s.window.start, tz),
                end=_local(s.window.end, tz),
                free_participants=users(s.free),
                busy_participants=users(s.busy),
                unchecked_participants=users(s.free & found.unchecked),
            )
            for s in found.suggestions
        ]

    @strawberry.field(
        permission_classes=[IsAuthenticated],
        description=(
            "Every slot of the interview's windows, offered or not, with the reasons; times "
            "in your zone. For the hiring team and its account manager (FORBIDDEN for the "
            "candidate, whose view is availableSlots)."
        ),
    )
    async def slot_explanations(
        self, info: Info, interview_id: strawberry.ID
    ) -> list[SlotExplanation]:
        ctx = info.context
        with query_errors():
            viewer = ctx.require_viewer()
            async with ctx.db() as session:
                explained = await insight.explain_interview(
                    session=session,
                    viewer=viewer,
                    settings=ctx.settings,
                    interview_id=parse_id(interview_id, "interviewId", "interview"),
                    now=ctx.clock(),
                )
        tz = ZoneInfo(viewer.user.time_zone)

        def reason(r: Any) -> SlotReason:
            user = explained.users.get(r.participant) if r.participant else None
            return SlotReason(
                code=r.code,
                participant=User.of(user) if user else None,
                blocking=r.blocking,
                interview_id=r.interview,
                message=describe(
                    r,
                    user.name if user else None,
                    explained.calendar_labels.get(r.participant) if r.participant else None,
                ),
            )

        return [
            SlotExplanation(
                start=_local(v.slot.start, tz),
                end=_local(v.slot.end, tz),
                offered=v.offered,
                reasons=[reason(r) for r in v.reasons],
            )
            for v in explained.verdicts
        ]


@strawberry.type
class SchedulingMutation:
    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description=(
            "A member's working hours and load limits (the full set: what is left out goes "
            "back to the default). Members set their own; account managers and admins those "
            "of the teams they serve."
        ),
    )
    async def update_scheduling_preferences(
        self, info: Info, input: SchedulingPreferencesInput
    ) -> UserPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> models.User:
            viewer = ctx.require_viewer()
            return await preferences.update_member_preferences(
                session=session,
                viewer=viewer,
                user_id=(
                    viewer.id
                    if input.user_id is None
                    else parse_id(input.user_id, "userId", "user")
                ),
                limits=preferences.LoadLimits(
                    input.max_interviews_per_day, input.max_interviews_per_week
                ),
                working_hours=(
                    None
                    if input.working_hours is None
                    else [(int(h.weekday), h.start, h.end) for h in input.working_hours]
                ),
            )

        user, errors = await ctx.unit_of_work(work)
        return UserPayload(user=User.of(user) if user else None, errors=user_errors(errors))

    @strawberry.mutation(
        permission_classes=[IsAuthenticated],
        description="The default load limits of an organization's members (null: no limit).",
    )
    async def update_organization_load_limits(
        self, info: Info, input: OrganizationLoadLimitsInput
    ) -> OrganizationPayload:
        ctx = info.context

        async def work(session: AsyncSession) -> models.Organization:
            return await preferences.update_organization_limits(
                session=session,
                viewer=ctx.require_viewer(),
                organization_id=parse_id(input.organization_id, "organizationId", "organization"),
                limits=preferences.LoadLimits(
                    input.max_interviews_per_day, input.max_interviews_per_week
                ),
            )

        organization, errors = await ctx.unit_of_work(work)
        return OrganizationPayload(
            organization=Organization.of(organization) if organization else None,
            errors=user_errors(errors),
        )
