"""A whole cycle through the API, every mail of every person read back from a real SMTP
server and checked against the facts the API gives at that moment.

Request, edit, other times, book, reschedule, book, cancel, a second round booked, hire.
Each step's mails are delivered by the mail worker's own code to aiosmtpd, parsed back,
and read as their reader would: whom they address, who acted, what changed, the times in
the reader's own zone (the candidate's chosen at booking), the links, and the in-app twin.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from icalendar import Calendar

from app.config import Settings
from app.models import utcnow
from app.notifications.delivery import SmtpTransport
from app.notifications.text import when
from app.notifications.wording import span
from app.outbox.topics import MAIL_TOPIC
from app.workers.options import WorkerOptions
from app.workers.runtime import WorkerRuntime
from tests.calendars.drain import Drainer, MailBox, SkippingClock, real_time
from tests.conftest import Clock, GraphQLClient
from tests.factories import World, make_world
from tests.workers.smtp import SmtpServer

GUEST = "guest@outside.example"
TEAM_ZONE = "America/New_York"
CHOSEN_ZONE = "Asia/Kathmandu"  # the candidate's choice at booking: UTC+05:45
ZONE_SHOWN = re.compile(r"\(([A-Za-z_]+(?:/[A-Za-z_+-]+)*), UTC[+-]\d{4}\)")
LINK = re.compile(r"^([A-Z][^:\n]+): (https?://\S+)$", re.M)

INTERVIEW = """query($id: ID!) { interview(id: $id) { id round status timeZone
  windows { start end } bookedStart bookedEnd conference { url }
  requestedBy { id name } lastEditedBy { id name } cancellation { by { id name } reason }
  alternativeTimesMessage } }"""
ME = "{ me { id name email timeZone } }"
NOTIFICATIONS = "{ notifications(first: 100) { edges { node { kind message } } } }"
REQUEST = """mutation($input: RequestInterviewInput!) { requestInterview(input: $input) {
  interview { id } errors { message } } }"""
UPDATE = """mutation($input: UpdateAvailabilityInput!) { updateInterviewAvailability(input: $input)
  { interview { id } errors { message } } }"""
ALTERNATIVE = """mutation($input: AlternativeTimesInput!) { requestAlternativeTimes(input: $input)
  { interview { id } errors { message } } }"""
SLOTS = """query($id: ID!, $tz: String!) { availableSlots(interviewId: $id, timeZone: $tz) {
  days { slots { start } } } }"""
BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { id } errors { message } } }"""
RESCHEDULE = """mutation($input: RescheduleInterviewInput!) { rescheduleInterview(input: $input) {
  interview { id } errors { message } } }"""
CANCEL = """mutation($input: CancelInterviewInput!) { cancelInterview(input: $input) {
  interview { id } errors { message } } }"""
HIRE = """mutation($id: ID!) { hireCandidate(proposalId: $id, upcomingInterviews: CANCEL) {
  proposal { status } errors { message } } }"""


@dataclass
class Person:
    key: str
    email: str
    name: str
    token: str | None  # None: the invitee, who has no login


@dataclass
class Cycle:
    gql: GraphQLClient
    http: httpx.AsyncClient
    world: World
    smtp: SmtpServer
    drainer: Drainer
    people: dict[str, Person]
    seen: int = 0

    async def as_(self, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        token = self.people[key].token
        assert token is not None
        body = await self.gql(query, variables, token=token)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        for value in data.values():
            if isinstance(value, dict) and "errors" in value:
                assert value["errors"] == [], value
        return data

    async def interview(self, interview_id: str) -> dict[str, Any]:
        data = await self.as_("member", INTERVIEW, {"id": interview_id})
        interview: dict[str, Any] = data["interview"]
        return interview

    async def zone_of(self, key: str) -> str:
        if self.people[key].token is None:
            return TEAM_ZONE  # invitees read the team's zone
        zone: str = (await self.as_(key, ME, {}))["me"]["timeZone"]
        return zone

    async def step_mails(self) -> dict[str, list[EmailMessage]]:
        """Deliver what the step queued, through SMTP; each person's new mails."""
        await self.drainer.drain(MAIL_TOPIC)
        messages = self.smtp.handler.messages()
        new, self.seen = messages[self.seen :], len(messages)
        by_person: dict[str, list[EmailMessage]] = {k: [] for k in self.people}
        keys = {p.email: k for k, p in self.people.items()}
        for mail in new:
            by_person[keys[str(mail["To"])]].append(mail)
        return by_person


def _local_windows(day: datetime, spans: list[tuple[str, str]]) -> list[dict[str, str]]:
    local = day.astimezone(ZoneInfo(TEAM_ZONE)).date().isoformat()
    return [{"start": f"{local}T{a}", "end": f"{local}T{b}"} for a, b in spans]


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class Read:
    subject: str
    text: str
    html: str
    links: dict[str, str]
    mail: EmailMessage


def _read(mail: EmailMessage, zone: str) -> Read:
    text_part, html_part = mail.get_body(("plain",)), mail.get_body(("html",))
    assert text_part is not None and html_part is not None
    text, page = str(text_part.get_content()), str(html_part.get_content())
    text = text.replace("\r\n", "\n")
    subject = " ".join(str(mail["Subject"]).split())
    # Times in the reader's own zone, and only there.
    assert set(ZONE_SHOWN.findall(subject + text)) <= {zone}, (zone, subject, text)
    # Both parts say the same.
    for line in text.splitlines():
        stripped = line.removeprefix("  - ")
        if stripped and not LINK.match(line) and stripped != "-- Roundtable":
            assert html.escape(stripped) in page, line
    links = dict(LINK.findall(text))
    for label, url in links.items():
        assert f'<a href="{html.escape(url, quote=True)}">{html.escape(label)}</a>' in page
    greeting, body = text.split("\n\n", 1)
    assert greeting.startswith("Hello")
    return Read(subject, body, page, links, mail)


def _calendar(read: Read) -> tuple[str, str, int] | None:
    parts = [p for p in read.mail.walk() if p.get_content_type() == "text/calendar"]
    if not parts:
        return None
    [part] = parts
    calendar = Calendar.from_ical(part.get_content())
    [event] = calendar.walk("VEVENT")
    return str(calendar["METHOD"]), str(event["UID"]), int(str(event["SEQUENCE"]))


async def _link_works(cycle: Cycle, url: str) -> None:
    path = url.split("://", 1)[1].split("/", 1)[1]
    response = await cycle.http.get("/" + path)
    assert response.status_code == 200, (url, response.status_code)


async def _in_app_matches(cycle: Cycle, key: str, kind: str, read: Read) -> None:
    """The person's in-app message of this kind says what the mail's first paragraph says."""
    if cycle.people[key].token is None:
        return
    data = await cycle.as_(key, NOTIFICATIONS, {})
    texts = [
        e["node"]["message"] for e in data["notifications"]["edges"] if e["node"]["kind"] == kind
    ]
    first = read.text.split("\n\n")[0]
    assert any(first in t for t in texts), (key, kind, first, texts)


async def test_a_whole_cycle_mails_everyone_words_that_match_the_facts(
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    session: Any,
    settings: Settings,
    clock: Clock,
) -> None:
    real_time(clock)  # links and times are checked against the workers' real clock
    world = await make_world(session)
    side = world.a
    people = {
        "candidate": Person(
            "candidate", side.candidate.email, side.candidate.name, world.token(side.candidate)
        ),
        "member": Person("member", side.member.email, side.member.name, world.token(side.member)),
        "colleague": Person(
            "colleague", side.colleague.email, side.colleague.name, world.token(side.colleague)
        ),
        "manager": Person(
            "manager", side.manager.email, side.manager.name, world.token(side.manager)
        ),
        "guest": Person("guest", GUEST, GUEST, None),
    }
    org = side.organization.name
    who = {
        "member": f"{side.member.name} (hiring team, {org})",
        "manager": f"{side.manager.name} (account manager)",
        "candidate": f"{side.candidate.name} (candidate)",
    }
    with SmtpServer() as smtp:
        runtime = WorkerRuntime(
            settings,
            WorkerOptions(min_backoff_seconds=1, max_backoff_seconds=60, max_attempts=8),
            transport=SmtpTransport.from_url(smtp.url),
            clock=SkippingClock(),
        )
        drainer = Drainer(runtime, SkippingClock(), MailBox())
        cycle = Cycle(gql, client, world, smtp, drainer, people)
        try:
            await _run(cycle, who, clock)
        finally:
            await drainer.close()


def _round_text(interview: dict[str, Any], project: str) -> str:
    return f"round {interview['round']} of interviews for {project}"


def _assert_who(read: Read, reader: str, actor: str, who: dict[str, str]) -> None:
    if reader == actor:
        assert re.search(r"(^|\n|\. )You ", read.text), read.text
        assert who[actor] not in read.text
    else:
        assert who[actor] in read.text, (reader, who[actor], read.text)


def _assert_addressed(read: Read, reader: str, candidate_name: str) -> None:
    if reader == "candidate":
        assert candidate_name not in read.subject + read.text
        assert re.search(r"\b[Yy]our?\b", read.text)


async def _run(cycle: Cycle, who: dict[str, str], clock: Clock) -> None:
    side = cycle.world.a
    project = side.project.title
    candidate_name = side.candidate.name
    day = utcnow() + timedelta(days=3)
    everyone = set(cycle.people)

    # 1. Request.
    data = await cycle.as_(
        "member",
        REQUEST,
        {
            "input": {
                "proposalId": str(side.proposal.id),
                "timeZone": TEAM_ZONE,
                "windows": _local_windows(day, [("09:00", "11:00"), ("14:00", "15:00")]),
                "participantIds": [str(side.member.id), str(side.colleague.id)],
                "inviteEmails": [GUEST],
            }
        },
    )
    first_id = data["requestInterview"]["interview"]["id"]
    facts = await cycle.interview(first_id)
    mails = await cycle.step_mails()
    assert {k for k, v in mails.items() if v} == everyone
    for key, [mail] in ((k, v) for k, v in mails.items() if v):
        zone = await cycle.zone_of(key)
        read = _read(mail, zone)
        _assert_addressed(read, key, candidate_name)
        _assert_who(read, key, "member", who)
        assert _round_text(facts, project) in read.text
        for window in facts["windows"]:
            assert span(_when(window["start"]), _when(window["end"]), zone) in read.text
        label = "Select an interview time" if key == "candidate" else "View the interview"
        await _link_works(cycle, read.links[label])
        await _in_app_matches(cycle, key, _request_kind(key), read)

    # 2. Edit: 14:00-15:00 moved to 16:00-17:00, a window added the next day.
    await cycle.as_(
        "member",
        UPDATE,
        {
            "input": {
                "interviewId": first_id,
                "windows": [
                    *_local_windows(day, [("09:00", "11:00"), ("16:00", "17:00")]),
                    *_local_windows(day + timedelta(days=1), [("10:00", "11:00")]),
                ],
                "notifyParticipants": True,
            }
        },
    )
    before, facts = facts, await cycle.interview(first_id)
    assert facts["lastEditedBy"]["id"] == str(side.member.id)
    mails = await cycle.step_mails()
    assert {k for k, v in mails.items() if v} == everyone  # participants asked to be told
    for key, [mail] in ((k, v) for k, v in mails.items() if v):
        zone = await cycle.zone_of(key)
        read = _read(mail, zone)
        _assert_addressed(read, key, candidate_name)
        _assert_who(read, key, "member", who)
        old = before["windows"][1]
        new_windows = facts["windows"]
        moved = f"moved {span(_when(old['start']), _when(old['end']), zone)}, now "
        moved += span(_when(new_windows[1]["start"]), _when(new_windows[1]["end"]), zone)
        assert moved in read.text, read.text
        added = span(_when(new_windows[2]["start"]), _when(new_windows[2]["end"]), zone)
        assert f"added {added}" in read.text
        await _in_app_matches(cycle, key, "TIMES_UPDATED", read)

    # 3. Other times.
    await cycle.as_(
        "candidate", ALTERNATIVE, {"input": {"interviewId": first_id, "message": "Evenings"}}
    )
    facts = await cycle.interview(first_id)
    mails = await cycle.step_mails()
    assert {k for k, v in mails.items() if v} == {"member", "manager"}
    for key in ("member", "manager"):
        [mail] = mails[key]
        read = _read(mail, await cycle.zone_of(key))
        _assert_who(read, key, "candidate", who)
        assert f'"{facts["alternativeTimesMessage"]}"' in read.text
        if key == "manager":
            assert "edit" not in read.text.lower()
        await _in_app_matches(cycle, key, "ALTERNATIVE_TIMES_REQUESTED", read)

    # 4. Book, in a zone the candidate chooses now: their mails use it from here on.
    first_booking = await _book(cycle, first_id)
    facts = await cycle.interview(first_id)
    assert await cycle.zone_of("candidate") == CHOSEN_ZONE
    mails = await cycle.step_mails()
    assert {k for k, v in mails.items() if v} == everyone
    for key, [mail] in ((k, v) for k, v in mails.items() if v):
        zone = await cycle.zone_of(key)
        read = _read(mail, zone)
        _assert_addressed(read, key, candidate_name)
        _assert_who(read, key, "candidate", who)
        assert (
            f"When: {span(_when(facts['bookedStart']), _when(facts['bookedEnd']), zone)}"
            in read.text
        )
        assert read.links["Join the interview"] == facts["conference"]["url"]
        if key == "candidate":
            assert CHOSEN_ZONE in read.subject
        await _in_app_matches(cycle, key, "INTERVIEW_BOOKED", read)
    assert _when(first_booking) == _when(facts["bookedStart"])

    # 5. Reschedule, by the account manager: one message to each person.
    data = await cycle.as_(
        "manager",
        RESCHEDULE,
        {
            "input": {
                "interviewId": first_id,
                "timeZone": TEAM_ZONE,
                "windows": _local_windows(
                    day + timedelta(days=3), [("10:00", "11:00"), ("13:00", "14:00")]
                ),
                "reason": "the panel changed",
            }
        },
    )
    second_id = data["rescheduleInterview"]["interview"]["id"]
    old, facts = await cycle.interview(first_id), await cycle.interview(second_id)
    assert old["status"] == "CANCELLED" and facts["round"] == old["round"] == 1
    mails = await cycle.step_mails()
    assert Counter({k: len(v) for k, v in mails.items()}) == Counter(dict.fromkeys(everyone, 1))
    for key, [mail] in mails.items():
        zone = await cycle.zone_of(key)
        read = _read(mail, zone)
        _assert_addressed(read, key, candidate_name)
        _assert_who(read, key, "manager", who)
        old_span = span(_when(old["bookedStart"]), _when(old["bookedEnd"]), zone)
        assert f"interview of {old_span} is cancelled" in read.text
        for window in facts["windows"]:
            assert span(_when(window["start"]), _when(window["end"]), zone) in read.text
        if key == "candidate":
            assert read.subject.startswith(
                f"New times offered: your interview of {when(_when(old['bookedStart']), zone)} "
                "is cancelled"
            )
            await _link_works(cycle, read.links["Select an interview time"])
        elif key != "manager":
            await _link_works(cycle, read.links["View the interview"])
        invite = _calendar(read)
        if key in {"candidate", "member", "colleague", "guest"}:
            assert invite is not None
            assert invite[:2] == ("CANCEL", f"interview-{first_id}@roundtable") and invite[2] >= 1
        else:
            assert invite is None
        await _in_app_matches(cycle, key, "INTERVIEW_RESCHEDULED", read)

    # 6. Book again.
    await _book(cycle, second_id)
    facts = await cycle.interview(second_id)
    mails = await cycle.step_mails()
    assert {k for k, v in mails.items() if v} == everyone

    # 7. Cancel, by the member.
    await cycle.as_("member", CANCEL, {"input": {"interviewId": second_id, "reason": "filled"}})
    facts = await cycle.interview(second_id)
    assert facts["cancellation"]["by"]["id"] == str(side.member.id)
    mails = await cycle.step_mails()
    assert {k for k, v in mails.items() if v} == everyone
    for key, [mail] in ((k, v) for k, v in mails.items() if v):
        zone = await cycle.zone_of(key)
        read = _read(mail, zone)
        _assert_addressed(read, key, candidate_name)
        _assert_who(read, key, "member", who)
        assert span(_when(facts["bookedStart"]), _when(facts["bookedEnd"]), zone) in read.text
        assert f"Reason given: {facts['cancellation']['reason']}" in read.text
        assert "Next step:" in read.text
        await _in_app_matches(cycle, key, "INTERVIEW_CANCELLED", read)

    # 8. A second round, booked; then the hire cancels it.
    data = await cycle.as_(
        "member",
        REQUEST,
        {
            "input": {
                "proposalId": str(side.proposal.id),
                "timeZone": TEAM_ZONE,
                "windows": _local_windows(
                    day + timedelta(days=5), [("09:00", "10:00"), ("11:00", "12:00")]
                ),
                "participantIds": [str(side.member.id)],
            }
        },
    )
    third_id = data["requestInterview"]["interview"]["id"]
    assert (await cycle.interview(third_id))["round"] == 2, "the rescheduled round counts once"
    await _book(cycle, third_id)
    booked = await cycle.interview(third_id)
    await cycle.step_mails()
    hired = await cycle.as_("member", HIRE, {"id": str(side.proposal.id)})
    assert hired["hireCandidate"]["proposal"]["status"] == "HIRED"
    facts = await cycle.interview(third_id)
    assert facts["status"] == "CANCELLED"
    mails = await cycle.step_mails()
    assert {k for k, v in mails.items() if v} == {"candidate", "member", "manager"}
    for key in ("candidate", "member", "manager"):
        [mail] = mails[key]
        zone = await cycle.zone_of(key)
        read = _read(mail, zone)
        _assert_addressed(read, key, candidate_name)
        _assert_who(read, key, "member", who)
        assert span(_when(booked["bookedStart"]), _when(booked["bookedEnd"]), zone) in read.text
        if key == "candidate":
            assert read.subject == f"Offer from {side.organization.name}: {project}"
            assert "cancel" not in read.text.lower()
        invite = _calendar(read)
        if key in {"candidate", "member"}:
            assert invite is not None and invite[:2] == (
                "CANCEL",
                f"interview-{third_id}@roundtable",
            )
        await _in_app_matches(cycle, key, "CANDIDATE_HIRED", read)


def _request_kind(key: str) -> str:
    return {"candidate": "INTERVIEW_REQUESTED", "manager": "REQUEST_SENT"}.get(
        key, "ADDED_TO_INTERVIEW"
    )


async def _book(cycle: Cycle, interview_id: str) -> str:
    data = await cycle.as_("candidate", SLOTS, {"id": interview_id, "tz": CHOSEN_ZONE})
    start: str = data["availableSlots"]["days"][0]["slots"][0]["start"]
    await cycle.as_(
        "candidate",
        BOOK,
        {"input": {"interviewId": interview_id, "start": start, "timeZone": CHOSEN_ZONE}},
    )
    return start
