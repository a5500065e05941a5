"""The hiring team's side of the browser tests, through the GraphQL API like a client."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.models import utcnow
from tests.factories import World, make_world
from tests.web.conftest import LiveServer

REQUEST = """mutation($input: RequestInterviewInput!) { requestInterview(input: $input) {
  interview { id } errors { code message field } } }"""
RESCHEDULE = """mutation($input: RescheduleInterviewInput!) { rescheduleInterview(input: $input) {
  interview { id } errors { code message } } }"""
UPDATE = """mutation($input: UpdateAvailabilityInput!) { updateInterviewAvailability(input: $input) {
  interview { id } errors { code message } } }"""
CANCEL = """mutation($input: CancelInterviewInput!) { cancelInterview(input: $input) {
  interview { id status } errors { code message } } }"""
INTERVIEW = """query($id: ID!) { interview(id: $id) { id status bookedStart bookedEnd
  conference { url provider } alternativeTimesRequested alternativeTimesMessage } }"""
ME = "{ me { timeZone } }"
SLOTS = """query($id: ID!, $tz: String!) { availableSlots(interviewId: $id, timeZone: $tz) {
  days { date slots { start end } } warning } }"""
GUEST = "guest@outside.example"
TEAM_TZ = "America/New_York"


def windows(days_ahead: list[int], spans: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Windows on the team's local dates `days_ahead` from now."""
    today = utcnow().astimezone(ZoneInfo(TEAM_TZ)).date()
    result = []
    for days in days_ahead:
        local = (today + timedelta(days=days)).isoformat()
        result += [{"start": f"{local}T{a}", "end": f"{local}T{b}"} for a, b in spans]
    return result


async def seeded(live: LiveServer) -> World:
    async with live.sessions() as session:
        return await make_world(session)


def bearer(world: World, user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.token(user)}"}


async def request_interview(
    live: LiveServer,
    world: World,
    *,
    days_ahead: list[int] | None = None,
    colleague: bool = False,
    guest: bool = True,
) -> str:
    side = world.a
    body = await live.graphql(
        REQUEST,
        {
            "input": {
                "proposalId": str(side.proposal.id),
                "timeZone": TEAM_TZ,
                "windows": windows(days_ahead or [3, 5], [("09:00", "10:30"), ("14:00", "15:00")]),
                "participantIds": [str(side.member.id)]
                + ([str(side.colleague.id)] if colleague else []),
                "inviteEmails": [GUEST] if guest else [],
            }
        },
        **bearer(world, side.member),
    )
    payload = body["data"]["requestInterview"]
    assert payload["errors"] == [], payload
    interview_id: str = payload["interview"]["id"]
    return interview_id


async def interview_as(live: LiveServer, world: World, user: Any, interview_id: str) -> Any:
    body = await live.graphql(INTERVIEW, {"id": interview_id}, **bearer(world, user))
    return body["data"]["interview"]
