"""Everyone concerned by an interview, loaded once so each flow can pick whom to tell."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars.connections import connections_of_users
from app.models import (
    Interview,
    Participant,
    ParticipantKind,
    Project,
    Proposal,
    User,
)
from app.notifications.kinds import InviteMethod
from app.notifications.service import Recipient, user_recipient
from app.participants.channel import calendars_by_member
from app.scheduling import repository


@dataclass(frozen=True)
class Audience:
    interview: Interview
    proposal: Proposal
    project: Project
    candidate: User
    account_manager: User
    requester: User
    participants: list[Participant]
    members: list[User]  # member participants, as users
    # Members whose copy of the interview lives in their own calendar, written by the sync:
    # they get no iCalendar invite (or cancellation) by mail.
    calendar_member_ids: frozenset[uuid.UUID] = frozenset()

    @property
    def invitee_emails(self) -> list[str]:
        return [p.email for p in self.participants if p.kind is ParticipantKind.INVITEE]

    def candidate_r(self, invite: InviteMethod | None = None) -> Recipient:
        return user_recipient(self.candidate, invite)

    def manager_r(self) -> Recipient:
        return user_recipient(self.account_manager)

    def requester_r(self) -> Recipient:
        return user_recipient(self.requester)

    def members_r(self, invite: InviteMethod | None = None) -> list[Recipient]:
        return [
            user_recipient(member, None if member.id in self.calendar_member_ids else invite)
            for member in self.members
        ]

    def invitees_r(self, invite: InviteMethod | None = None) -> list[Recipient]:
        tz = self.interview.time_zone  # invitees see the team's time zone
        return [Recipient(email=e, time_zone=tz, invite=invite) for e in self.invitee_emails]

    def team_r(self, invite: InviteMethod | None = None) -> list[Recipient]:
        # Members first: a requester who also takes part keeps the member's invite.
        return [*self.members_r(invite), *self.invitees_r(invite), self.requester_r()]


async def load_audience(
    session: AsyncSession,
    interview: Interview,
    proposal: Proposal,
    project: Project,
    *,
    cancelling: bool = False,
) -> Audience:
    """Everyone concerned; `cancelling` when the booked interview is being withdrawn.

    Who holds the interview in their calendar is decided differently then: not by who is
    connected now, but by whom the sync wrote an event for. A member who connected after
    the booking got the invite by mail, so the cancellation must go by mail too.
    """
    participants = await repository.participants_of(session, interview.id)
    member_ids = {p.user_id for p in participants if p.user_id is not None}
    people = await repository.users_by_ids(
        session,
        member_ids | {proposal.candidate_id, project.account_manager_id, interview.requested_by_id},
    )
    if cancelling:
        calendar_members = await repository.members_with_calendar_events(session, interview.id)
    else:
        connected = await connections_of_users(session=session, user_ids=sorted(member_ids))
        calendar_members = set(calendars_by_member(connected))
    return Audience(
        interview=interview,
        proposal=proposal,
        project=project,
        candidate=people[proposal.candidate_id],
        account_manager=people[project.account_manager_id],
        requester=people[interview.requested_by_id],
        participants=participants,
        members=[people[p.user_id] for p in participants if p.user_id is not None],
        calendar_member_ids=frozenset(calendar_members),
    )
