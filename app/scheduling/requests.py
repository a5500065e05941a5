"""The hiring team's side: request, edit, cancel, reschedule, hire."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.calendars.sync import request_sync
from app.config import Settings
from app.errors import ErrorCode, FieldError, ServiceError, validation
from app.links.grants import RevokedBecause, revoke_earlier_rounds, revoke_links
from app.models import (
    Interview,
    InterviewStatus,
    Organization,
    Participant,
    ParticipantKind,
    Project,
    Proposal,
    ProposalStatus,
    Role,
    User,
)
from app.notifications.events import Event, actor_of, window_changes
from app.notifications.kinds import InviteMethod, MessageKind
from app.notifications.service import Recipient, tell, user_recipient
from app.notifications.text import when
from app.participants import state as sync_state
from app.people.service import normalise_email
from app.scheduling import repository
from app.scheduling.access import interview_for, proposal_for, require_open, require_team
from app.scheduling.audience import Audience, load_audience
from app.scheduling.windows import TimeRange, WindowRules, WindowText, parse_windows
from app.text import optional_text, preview
from app.timezones import zone
from app.webhooks.events import EventType, emit_interview, emit_proposal

MIN_DURATION_MINUTES = 15
MAX_DURATION_MINUTES = 240


@dataclass(frozen=True)
class InterviewRequest:
    proposal_id: uuid.UUID
    time_zone: str
    windows: Sequence[WindowText]
    participant_ids: Sequence[uuid.UUID] = ()
    invite_emails: Sequence[str] = ()
    duration_minutes: int = 30


@dataclass
class _Team:
    members: list[User] = field(default_factory=list)
    invitee_emails: list[str] = field(default_factory=list)


async def request_interview(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    request: InterviewRequest,
    now: datetime,
    rescheduled_from: Rescheduling | None = None,
) -> Interview:
    proposal, project = await proposal_for(session, viewer, request.proposal_id, lock=True)
    require_team(viewer, project)
    require_open(proposal)
    windows, team = await _check_request(session, settings, request, project, now)

    interview = Interview(
        id=uuid.uuid4(),
        proposal_id=proposal.id,
        # A reschedule is the same round at other times.
        round=(
            rescheduled_from.old.round
            if rescheduled_from is not None
            else await repository.next_round(session, proposal.id)
        ),
        requested_by_id=viewer.id,
        time_zone=request.time_zone,
        duration_minutes=request.duration_minutes,
        requested_at=now,
        rescheduled_from_id=rescheduled_from.old.id if rescheduled_from else None,
    )
    session.add(interview)
    await session.flush()
    await revoke_earlier_rounds(
        session, proposal_id=proposal.id, new_interview_id=interview.id, now=now
    )
    repository.add_windows(session, interview.id, windows)
    session.add_all(
        Participant(
            interview_id=interview.id, kind=ParticipantKind.MEMBER, user_id=m.id, email=m.email
        )
        for m in team.members
    )
    session.add_all(
        Participant(interview_id=interview.id, kind=ParticipantKind.INVITEE, email=email)
        for email in team.invitee_emails
    )
    await session.flush()

    audience = await load_audience(session, interview, proposal, project)
    title = f"round {interview.round} for {project.title}"
    kind = EventType.RESCHEDULED if rescheduled_from is not None else EventType.REQUESTED
    await emit_interview(session, kind, interview)
    if rescheduled_from is not None:
        _tell_rescheduled(session, interview, audience, rescheduled_from, viewer)
        return interview
    event = Event(actor=actor_of(viewer.user))
    tell(
        session,
        event=event,
        recipients=[audience.candidate_r()],
        kind=MessageKind.INTERVIEW_REQUESTED,
        interview=interview,
        message=f"The hiring team would like to interview you ({title}). Select an interview time.",
    )
    tell(
        session,
        recipients=[*audience.members_r(), *audience.invitees_r()],
        kind=MessageKind.ADDED_TO_INTERVIEW,
        interview=interview,
        event=event,
        message=f"You were added to the interview with {audience.candidate.name} ({title}).",
    )
    tell(
        session,
        recipients=[audience.manager_r()],
        kind=MessageKind.REQUEST_SENT,
        interview=interview,
        event=event,
        message=f"{actor_name(viewer)} sent availability to {audience.candidate.name} ({title}).",
    )
    return interview


@dataclass(frozen=True)
class Rescheduling:
    """The booked interview a new request replaces, and everyone its cancellation concerns."""

    old: Interview
    audience: Audience  # loaded while cancelling: who holds the event by mail
    reason: str | None  # as the team gave it


def _tell_rescheduled(
    session: AsyncSession,
    interview: Interview,
    audience: Audience,
    rescheduling: Rescheduling,
    viewer: Viewer,
) -> None:
    """One message per person: the booking is cancelled (its iCalendar CANCEL attached for
    those who got the invite by mail) and new times are offered."""
    old = rescheduling.old
    assert old.booked_start is not None and old.booked_end is not None
    before = rescheduling.audience
    cancel = InviteMethod.CANCEL
    tell(
        session,
        recipients=[
            before.candidate_r(cancel),
            *before.team_r(cancel),
            # Anyone on the new request the old one did not have (nobody, as it stands).
            *audience.team_r(),
            audience.manager_r(),
        ],
        kind=MessageKind.INTERVIEW_RESCHEDULED,
        interview=interview,
        message=f"{actor_name(viewer)} rescheduled round {interview.round}: the booking of "
        f"{when(old.booked_start, old.time_zone)} is cancelled and new times are offered.",
        event=Event(
            actor=actor_of(viewer.user),
            cancelled_booking=(old.booked_start, old.booked_end),
            reason=rescheduling.reason,
        ),
        # The invite is the old booking's cancellation: its UID and its raised SEQUENCE.
        extra={"invite_interview_id": str(old.id), "sequence": old.ical_sequence},
    )


async def _check_request(
    session: AsyncSession,
    settings: Settings,
    request: InterviewRequest,
    project: Project,
    now: datetime,
) -> tuple[list[TimeRange], _Team]:
    """Every rule at once, so the user sees all their mistakes in one answer."""
    errors: list[FieldError] = []
    tz = zone(request.time_zone)
    if tz is None:
        errors.append(
            validation(f"{preview(request.time_zone)} is not an IANA time zone", "timeZone")
        )
    duration = request.duration_minutes
    if not MIN_DURATION_MINUTES <= duration <= MAX_DURATION_MINUTES:
        errors.append(
            validation(
                f"the duration must be between {MIN_DURATION_MINUTES} and "
                f"{MAX_DURATION_MINUTES} minutes",
                "durationMinutes",
            )
        )
    windows: list[TimeRange] = []
    if tz is not None and not errors:
        try:
            windows = parse_windows(
                request.windows, tz=tz, rules=window_rules(settings, duration, now)
            )
        except ServiceError as exc:
            errors.extend(exc.errors)
    team = await _resolve_team(session, request, project.organization_id, errors)
    if errors:
        raise ServiceError(errors)
    return windows, team


def window_rules(settings: Settings, duration_minutes: int, now: datetime) -> WindowRules:
    return WindowRules(
        duration=timedelta(minutes=duration_minutes),
        now=now,
        max_windows=settings.max_windows,
        max_days_ahead=settings.max_days_ahead,
    )


async def _resolve_team(
    session: AsyncSession,
    request: InterviewRequest,
    organization_id: uuid.UUID,
    errors: list[FieldError],
) -> _Team:
    team = _Team()
    users = await repository.users_by_ids(session, set(request.participant_ids))
    for index, user_id in enumerate(request.participant_ids):
        user = users.get(user_id)
        if (
            user is None
            or user.role is not Role.HIRING_MEMBER
            or (user.organization_id != organization_id)
        ):
            errors.append(
                validation("not a member of the proposal's organization", f"participantIds.{index}")
            )
        elif user in team.members:
            errors.append(validation("listed twice", f"participantIds.{index}"))
        else:
            team.members.append(user)

    emails: list[tuple[int, str]] = []
    for index, raw in enumerate(request.invite_emails):
        try:
            email = normalise_email(raw, f"inviteEmails.{index}")
        except ServiceError as exc:
            errors.extend(exc.errors)
            continue
        if any(email == seen for _, seen in emails):
            errors.append(validation(f"{email} is listed twice", f"inviteEmails.{index}"))
            continue
        emails.append((index, email))

    # An invitee who is a member of the organization takes part as that member.
    members = await repository.members_by_emails(session, organization_id, [e for _, e in emails])
    for _, email in emails:
        member = members.get(email)
        if member is None:
            team.invitee_emails.append(email)
        elif member not in team.members:
            team.members.append(member)
    return team


async def update_availability(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    interview_id: uuid.UUID,
    windows: Sequence[WindowText],
    notify_participants: bool,
    now: datetime,
) -> Interview:
    found = await interview_for(session, viewer, interview_id, lock=True)
    interview = found.interview
    require_team(viewer, found.project)
    if interview.status is not InterviewStatus.PENDING:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            f"only pending interviews can be edited; this one is {interview.status.value.lower()}",
            "interviewId",
        )
    tz = zone(interview.time_zone)
    assert tz is not None  # validated when the interview was requested
    parsed = parse_windows(
        windows, tz=tz, rules=window_rules(settings, interview.duration_minutes, now)
    )
    before = [(w.starts_at, w.ends_at) for w in await repository.windows_of(session, interview.id)]
    await repository.replace_windows(session, interview.id, parsed)
    answers_alternative = interview.alternative_times_requested
    # New times answer a request for other times: the candidate is asked to choose again.
    interview.alternative_times_requested = False
    interview.last_edited_by_id = viewer.id
    interview.last_edited_at = now
    await session.flush()

    audience = await load_audience(session, interview, found.proposal, found.project)
    message = f"{actor_name(viewer)} changed the times offered for round {interview.round}."
    recipients = [audience.candidate_r(), audience.manager_r()]
    if notify_participants:
        recipients += [*audience.members_r(), *audience.invitees_r()]
    tell(
        session,
        recipients=recipients,
        kind=MessageKind.TIMES_UPDATED,
        interview=interview,
        message=message,
        event=Event(
            actor=actor_of(viewer.user),
            changes=window_changes(before, [(w.start, w.end) for w in parsed]),
            answers_alternative=answers_alternative,
        ),
    )
    await emit_interview(session, EventType.UPDATED, interview)
    return interview


async def cancel_interview(
    *,
    session: AsyncSession,
    viewer: Viewer,
    interview_id: uuid.UUID,
    reason: str | None,
    now: datetime,
) -> Interview:
    found = await interview_for(session, viewer, interview_id, lock=True)
    interview = found.interview
    is_candidate = viewer.id == found.proposal.candidate_id
    if interview.status is InterviewStatus.CANCELLED:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE, "the interview is already cancelled", "interviewId"
        )
    if is_candidate and interview.status is not InterviewStatus.BOOKED:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            "only a booked interview can be cancelled by the candidate; to decline the offered "
            "times, ask for other times",
            "interviewId",
        )
    if not is_candidate:
        require_team(viewer, found.project)
    require_not_over(interview, now)
    await mark_cancelled(
        session,
        found.interview,
        found.proposal,
        found.project,
        by=viewer.user,
        reason=clean_reason(reason),
        now=now,
    )
    return interview


def require_not_over(interview: Interview, now: datetime) -> None:
    """An interview that has taken place is history: it cannot be cancelled or moved."""
    if interview.booked_end is not None and interview.booked_end <= now:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            "the interview has already taken place; it cannot be cancelled",
            "interviewId",
        )


def actor_name(viewer: Viewer) -> str:
    """The name an action is told in; staff acting for a team say who they are."""
    match viewer.role:
        case Role.ACCOUNT_MANAGER:
            return f"{viewer.user.name} (account manager)"
        case Role.ADMIN:
            return f"{viewer.user.name} (Roundtable admin)"
        case _:
            return viewer.user.name


def _name(user: User) -> str:
    return actor_name(Viewer(user))


def clean_reason(reason: str | None) -> str | None:
    return optional_text(reason, field="reason")


async def mark_cancelled(
    session: AsyncSession,
    interview: Interview,
    proposal: Proposal,
    project: Project,
    *,
    by: User,
    reason: str | None,
    now: datetime,
    announce: bool = True,
) -> Audience:
    """Cancel, free the reserved time at once, and tell everyone concerned.

    `announce=False` when the caller tells them in its own message (a reschedule, a hire);
    the audience returned says who held the booking and how (calendar or mailed invite).
    """
    was_booked = interview.status is InterviewStatus.BOOKED
    # A reschedule or a hire has revoked them already, saying why; this catches the rest.
    await revoke_links(
        session, interview_ids=[interview.id], because=RevokedBecause.CANCELLED, now=now
    )
    interview.status = InterviewStatus.CANCELLED
    interview.cancelled_at = now
    interview.cancelled_by_id = by.id
    interview.cancel_reason = reason
    audience = await load_audience(session, interview, proposal, project, cancelling=was_booked)
    invite: InviteMethod | None = None
    if was_booked:
        await repository.release_reservations(session, interview.id)
        # Same UID, higher SEQUENCE, METHOD:CANCEL: calendars then remove the event.
        interview.ical_sequence += 1
        invite = InviteMethod.CANCEL
        sync_state.awaiting(audience.participants)
        request_sync(session, interview.id)  # remove the events from connected calendars
    await session.flush()
    await emit_interview(session, EventType.CANCELLED, interview)
    if not announce:
        return audience

    what = f"round {interview.round} for {project.title}"
    if was_booked and interview.booked_start is not None:
        what += f", {when(interview.booked_start, interview.time_zone)}"
    message = f"{_name(by)} cancelled the interview ({what})."
    if reason:
        message += f" Reason: {reason}"
    tell(
        session,
        recipients=[
            *audience.team_r(invite),
            audience.candidate_r(invite),
            audience.manager_r(),
        ],
        kind=MessageKind.INTERVIEW_CANCELLED,
        interview=interview,
        message=message,
        event=Event(actor=actor_of(by), reason=reason),
    )
    return audience


async def reschedule_interview(
    *,
    session: AsyncSession,
    viewer: Viewer,
    settings: Settings,
    interview_id: uuid.UUID,
    time_zone: str,
    windows: Sequence[WindowText],
    reason: str | None,
    now: datetime,
) -> Interview:
    """Cancel a booked interview and request new times with the same team, atomically."""
    found = await interview_for(session, viewer, interview_id, lock=True)
    old = found.interview
    require_team(viewer, found.project)
    if old.status is not InterviewStatus.BOOKED:
        raise ServiceError.one(
            ErrorCode.INVALID_STATE,
            "only a booked interview can be rescheduled; edit the times of a pending one",
            "interviewId",
        )
    require_not_over(old, now)
    participants = await repository.participants_of(session, old.id)
    await revoke_links(session, interview_ids=[old.id], because=RevokedBecause.RESCHEDULED, now=now)
    given = clean_reason(reason)
    cancelled_audience = await mark_cancelled(
        session,
        old,
        found.proposal,
        found.project,
        by=viewer.user,
        reason=given or "rescheduled",
        now=now,
        announce=False,  # one message says both: cancelled, and the new times
    )
    return await request_interview(
        session=session,
        viewer=viewer,
        settings=settings,
        request=InterviewRequest(
            proposal_id=found.proposal.id,
            time_zone=time_zone,
            windows=windows,
            participant_ids=[p.user_id for p in participants if p.user_id is not None],
            invite_emails=[p.email for p in participants if p.kind is ParticipantKind.INVITEE],
            duration_minutes=old.duration_minutes,
        ),
        now=now,
        rescheduled_from=Rescheduling(old=old, audience=cancelled_audience, reason=given),
    )


class UpcomingInterviews(enum.StrEnum):
    """What a hire does with a booked interview still to come."""

    KEEP = "KEEP"
    CANCEL = "CANCEL"


async def hire_candidate(
    *,
    session: AsyncSession,
    viewer: Viewer,
    proposal_id: uuid.UUID,
    now: datetime,
    upcoming: UpcomingInterviews = UpcomingInterviews.KEEP,
) -> Proposal:
    """HIRED: pending requests are withdrawn; a booked interview still to come is kept or
    cancelled as the team chose. One message each to the candidate (about the offer), the
    team and the account manager; calendar cancellations ride on it."""
    proposal, project = await proposal_for(session, viewer, proposal_id, lock=True)
    if not viewer.can_act_for_organization(project.organization_id):
        raise ServiceError.one(ErrorCode.FORBIDDEN, "only the hiring team can hire", "proposalId")
    require_open(proposal)
    proposal.status = ProposalStatus.HIRED
    pending = await repository.interviews_of(session, proposal.id, InterviewStatus.PENDING)
    booked = await repository.interviews_of(session, proposal.id, InterviewStatus.BOOKED)
    coming = sorted(
        (i for i in booked if i.booked_end is not None and i.booked_end > now),
        key=lambda i: i.booked_start or now,
    )
    cancelling = coming if upcoming is UpcomingInterviews.CANCEL else []
    await revoke_links(
        session,
        interview_ids=[i.id for i in [*pending, *cancelling]],
        because=RevokedBecause.HIRED,
        now=now,
    )
    audiences: list[Audience] = []
    for interview in pending:
        audiences.append(
            await mark_cancelled(
                session,
                interview,
                proposal,
                project,
                by=viewer.user,
                reason="the candidate was hired",
                now=now,
                announce=False,
            )
        )
    invited: list[Recipient] = []
    cancel_extra: dict[str, object] = {}
    for index, interview in enumerate(cancelling):
        # The first cancelled booking's CANCEL rides on the hire message; a second booked
        # round still to come (rare) gets its own cancellation message.
        audience = await mark_cancelled(
            session,
            interview,
            proposal,
            project,
            by=viewer.user,
            reason="the candidate was hired",
            now=now,
            announce=index > 0,
        )
        audiences.append(audience)
        if index == 0:
            cancel = InviteMethod.CANCEL
            invited = [audience.candidate_r(cancel), *audience.team_r(cancel)]
            cancel_extra = {
                "invite_interview_id": str(interview.id),
                "sequence": interview.ical_sequence,
            }
    for interview in coming if not cancelling else []:
        audiences.append(await load_audience(session, interview, proposal, project))
    # Those who interviewed the candidate hear of the hire too (members, not invitees).
    interviewed: list[Recipient] = []
    for interview in booked:
        if interview.booked_end is not None and interview.booked_end <= now:
            past = await load_audience(session, interview, proposal, project)
            interviewed += [*past.members_r(), past.requester_r()]
    people = await repository.users_by_ids(
        session, {project.account_manager_id, proposal.candidate_id}
    )
    manager, candidate = people[project.account_manager_id], people[proposal.candidate_id]
    organization = await session.get(Organization, project.organization_id)
    first_cancelled = cancelling[0] if cancelling else None
    first_kept = coming[0] if coming and not cancelling else None
    team = [r for audience in audiences for r in audience.team_r()] + interviewed
    if viewer.role is Role.HIRING_MEMBER:
        team.insert(0, user_recipient(viewer.user))
    tell(
        session,
        recipients=[*invited, user_recipient(candidate), *team, user_recipient(manager)],
        kind=MessageKind.CANDIDATE_HIRED,
        interview=None,
        message=f"{actor_name(viewer)} hired {candidate.name} for {project.title}.",
        event=Event(
            actor=actor_of(viewer.user),
            cancelled_booking=_span(first_cancelled),
            kept_booking=_span(first_kept),
            withdrawn_requests=len(pending),
            candidate_id=candidate.id,
            candidate_name=candidate.name,
            project_title=project.title,
            organization=organization.name if organization else None,
            manager_id=manager.id,
            manager_name=manager.name,
            manager_email=manager.email,
        ),
        extra={"proposal_id": str(proposal.id), **cancel_extra},
    )
    await emit_proposal(session, EventType.HIRED, proposal)
    await session.flush()
    return proposal


def _span(interview: Interview | None) -> tuple[datetime, datetime] | None:
    if interview is None or interview.booked_start is None or interview.booked_end is None:
        return None
    return interview.booked_start, interview.booked_end
