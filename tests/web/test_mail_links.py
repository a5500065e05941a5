"""Every link in every mail of a whole booking cycle leads somewhere that works.

Roundtable's own links answer 200 with the booking page while the interview is pending or
upcoming, and 410 with a page that says it was cancelled afterwards (documented in
docs/links.md); the meeting link is one and the same in the API, every mail and every invite,
and it answers (here on a loopback stand-in for the Jitsi server).
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage

from tests.web.conftest import LINK, FakeMeet, LiveServer, link_in
from tests.web.flows import (
    CANCEL,
    GUEST,
    SLOTS,
    UPDATE,
    bearer,
    interview_as,
    request_interview,
    seeded,
    windows,
)
from tests.workers.conftest import all_done, eventually

ASK = """mutation($input: AlternativeTimesInput!) { requestAlternativeTimes(input: $input) {
  errors { code message } } }"""
BOOK = """mutation($input: BookInterviewInput!) { bookInterview(input: $input) {
  interview { conference { url } } errors { code message } } }"""


def links_of(mail: EmailMessage) -> dict[str, set[str]]:
    """URL -> where in the mail it appears (text, html, invite)."""
    found: dict[str, set[str]] = {}
    for part in mail.walk():
        kind = part.get_content_type()
        if part.is_multipart():
            continue
        content = part.get_content()
        text = content.decode() if isinstance(content, bytes) else str(content)
        if kind == "text/html":
            urls = [html.unescape(u) for u in re.findall(r'href="([^"]+)"', text)]
            where = "html"
        elif kind in {"text/calendar", "application/ics"}:
            unfolded = re.sub(r"\r?\n[ \t]", "", text)  # RFC 5545 folds long lines
            urls = LINK.findall(unfolded)
            where = "invite"
        else:
            urls = LINK.findall(text)
            where = "text"
        for url in urls:
            found.setdefault(url.rstrip(".,;"), set()).add(where)
    return found


async def test_every_link_of_a_booking_cycle_works_and_the_meeting_link_is_one(
    live: LiveServer, fake_meet: FakeMeet
) -> None:
    world = await seeded(live)
    side = world.a
    interview_id = await request_interview(live, world, colleague=True, guest=True)
    request_mail = await live.wait_for_mail(
        to=side.candidate.email, subject="choose a time"
    )
    token = link_in(request_mail, "Select an interview time").rsplit("/", 1)[1]
    as_link = {"X-Roundtable-Link": token}

    edited = await live.graphql(
        UPDATE,
        {
            "input": {
                "interviewId": interview_id,
                "windows": windows([4, 6], [("09:00", "10:00"), ("13:00", "14:00")]),
                "notifyParticipants": True,
            }
        },
        **bearer(world, side.member),
    )
    assert edited["data"]["updateInterviewAvailability"]["errors"] == []
    asked = await live.graphql(
        ASK, {"input": {"interviewId": interview_id, "message": "Mornings?"}}, **as_link
    )
    assert asked["data"]["requestAlternativeTimes"]["errors"] == []
    slots = await live.graphql(SLOTS, {"id": interview_id, "tz": "UTC"}, **as_link)
    start = slots["data"]["availableSlots"]["days"][0]["slots"][0]["start"]
    booked = await live.graphql(
        BOOK, {"input": {"interviewId": interview_id, "start": start, "timeZone": "UTC"}}, **as_link
    )
    assert booked["data"]["bookInterview"]["errors"] == []
    conference = booked["data"]["bookInterview"]["interview"]["conference"]["url"]
    assert conference.startswith(fake_meet.url + "/Roundtable-")
    await eventually(all_done(live.engine), what="every mail of the cycle written")

    mails = live.mails()
    ours: dict[str, str] = {}  # Roundtable link -> the subject of its mail
    meeting: set[str] = set()
    for mail in mails:
        links = links_of(mail)
        own = [u for u in links if u.startswith(live.url)]
        assert own, f"a mail without its link: {mail['Subject']} to {mail['To']}"
        for url, places in links.items():
            if url.startswith(live.url):
                assert url.startswith(f"{live.url}/links/"), url
                assert {"text", "html"} <= places, "the same link in both parts"
                ours[url] = str(mail["Subject"])
            elif url.startswith(fake_meet.url):
                meeting.add(url)
            else:
                raise AssertionError(f"a link to elsewhere: {url} in {mail['Subject']}")
    # Requested (5 people), times updated (5), other times asked (2), booked (5).
    assert len(mails) == 17, sorted(f"{m['To']}: {m['Subject']}" for m in mails)
    assert len(ours) == len(mails), "one personal link per mail"
    invites = [m for m in mails if any("invite" in p for p in links_of(m).values())]
    assert {str(m["To"]) for m in invites} == {
        side.candidate.email,
        side.member.email,
        side.colleague.email,
        GUEST,
    }
    assert meeting == {conference}, "one meeting link in the API, every mail and every invite"
    assert (await interview_as(live, world, side.member, interview_id))["conference"][
        "url"
    ] == conference

    for url, subject in ours.items():
        page = await live.http.get(url)
        assert page.status_code == 200, (subject, page.text)
        assert 'id="app"' in page.text and "data-link=" in page.text
    joined = await live.http.get(conference)
    assert joined.status_code == 200

    cancelled = await live.graphql(
        CANCEL,
        {"input": {"interviewId": interview_id, "reason": "position filled"}},
        **bearer(world, side.member),
    )
    assert cancelled["data"]["cancelInterview"]["errors"] == []
    await eventually(all_done(live.engine), what="the cancellation mails written")
    for mail in live.mails():
        for url in links_of(mail):
            assert url.startswith(live.url) or url == conference, url
    for url in ours:
        page = await live.http.get(url)
        assert page.status_code == 410
        assert "This interview was cancelled" in page.text
        assert "position filled" not in page.text
