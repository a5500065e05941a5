"""Reminding candidates who have not booked: once per interview, with several workers.

Every worker process runs this sweep. The claim is a conditional UPDATE (`reminded_at IS
NULL AND status = PENDING`) in the same transaction as the reminder's outbox rows, so only
one worker's transaction reminds, and an interview booked or cancelled meanwhile is not
reminded at all.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import begin_write
from app.models import Interview, InterviewStatus, Project, Proposal, ProposalStatus
from app.notifications.kinds import MessageKind
from app.notifications.service import tell
from app.scheduling.audience import load_audience
from app.webhooks.events import EventType, emit_interview

BATCH = 100


async def send_due_reminders(
    *,
    sessions: async_sessionmaker[AsyncSession],
    reminder_after: timedelta,
    now: datetime,
) -> int:
    """Remind every candidate whose pending interview was requested `reminder_after` ago."""
    cutoff = now - reminder_after
    async with sessions() as session:
        due = list(
            await session.scalars(
                select(Interview.id)
                .join(Proposal, Proposal.id == Interview.proposal_id)
                .where(
                    Interview.status == InterviewStatus.PENDING,
                    Interview.reminded_at.is_(None),
                    Interview.requested_at <= cutoff,
                    # The candidate has answered by asking for other times: the team acts.
                    Interview.alternative_times_requested.is_(False),
                    Proposal.status == ProposalStatus.OPEN,
                )
                .order_by(Interview.requested_at)
                .limit(BATCH)
            )
        )
        await session.commit()
    reminded = 0
    for interview_id in due:
        async with sessions() as session:
            await begin_write(session)
            if await remind(session=session, interview_id=interview_id, now=now):
                reminded += 1
            await session.commit()
    return reminded


async def remind(*, session: AsyncSession, interview_id: uuid.UUID, now: datetime) -> bool:
    claim = await session.execute(
        update(Interview)
        .where(
            Interview.id == interview_id,
            Interview.status == InterviewStatus.PENDING,
            Interview.reminded_at.is_(None),
        )
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claim, "rowcount", 0) != 1:
        return False  # another worker reminded, or the interview was booked or cancelled
    row = (
        await session.execute(
            select(Interview, Proposal, Project)
            .join(Proposal, Proposal.id == Interview.proposal_id)
            .join(Project, Project.id == Proposal.project_id)
            .where(Interview.id == interview_id)
        )
    ).one()
    interview, proposal, project = row
    audience = await load_audience(session, interview, proposal, project)
    what = f"round {interview.round} for {project.title}"
    tell(
        session,
        recipients=[audience.candidate_r()],
        kind=MessageKind.BOOKING_REMINDER,
        interview=interview,
        message=f"Reminder: please select a time for your interview ({what}).",
    )
    tell(
        session,
        recipients=[audience.manager_r()],
        kind=MessageKind.REMINDER_SENT,
        interview=interview,
        message=f"{audience.candidate.name} has not booked the interview ({what}) yet and "
        "was reminded.",
    )
    await emit_interview(session, EventType.REMINDED, interview)
    return True
