"""In-app messages written when they are read: in the reader's zone of now, with the
interview's current times, names and links, from the facts kept when they were made."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from app.access import Viewer
from app.config import Settings
from app.models import Notification, Role
from app.notifications.events import from_json
from app.notifications.facts import InterviewFacts, load_many_interview_facts
from app.notifications.mail import signed_link
from app.notifications.wording import Message, compose
from app.timezones import zone


def may_read_now(viewer: Viewer, facts: InterviewFacts) -> bool:
    """Whether the reader still sees the interview (an account manager moved off the
    project keeps the old words, not the interview's current times and links)."""
    if viewer.role is Role.CANDIDATE:
        return facts.candidate_id == viewer.id
    return facts.organization_id is not None and viewer.sees_organization(facts.organization_id)


def in_app_text(
    notification: Notification,
    facts: InterviewFacts | None,
    *,
    viewer: Viewer,
    settings: Settings,
) -> str:
    """The notification's words for its reader; the stored text when facts were not kept
    or the reader no longer sees the interview."""
    stored = notification.facts
    event = from_json(stored)
    if stored is None or event is None:
        return notification.message
    if facts is not None and not may_read_now(viewer, facts):
        return notification.message
    reader = viewer.user
    grant = stored.get("link_grant_id")
    link = (
        signed_link(settings, uuid.UUID(str(grant)), notification.created_at, facts)
        if grant and facts is not None
        else None
    )
    body = compose(
        Message(
            kind=notification.kind,
            reader_id=reader.id,
            reader_email=reader.email,
            time_zone=reader.time_zone if zone(reader.time_zone) is not None else "UTC",
            facts=facts,
            event=event,
            link=link,
        )
    )
    return body.in_app() if body is not None else notification.message


async def in_app_texts(
    session: AsyncSession,
    notifications: Sequence[Notification],
    *,
    viewer: Viewer,
    settings: Settings,
) -> dict[uuid.UUID, str]:
    """The texts of a page of notifications: four statements however long the page."""
    facts = await load_many_interview_facts(
        session, {n.interview_id for n in notifications if n.interview_id is not None}
    )
    return {
        n.id: in_app_text(
            n,
            facts.get(n.interview_id) if n.interview_id else None,
            viewer=viewer,
            settings=settings,
        )
        for n in notifications
    }
