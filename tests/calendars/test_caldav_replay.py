"""Every invite and cancellation of a booking, reschedule and cancel cycle, replayed into a
real CalDAV server (Radicale) as each recipient's calendar client would apply them.

Per recipient one calendar; each mailed iCalendar object is applied in the order the mails
were sent, as iTIP (RFC 5546) says: a REQUEST stores the event under its UID unless the
calendar already holds a higher SEQUENCE, a CANCEL removes it. Afterwards each calendar must
hold exactly the interviews still booked that the person takes part in, at the booked
instants, read back through CalDAV.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.db import begin_write
from app.models import Interview, User
from app.outbox.topics import MAIL_TOPIC
from app.scheduling import requests
from tests.calendars.drain import Drainer, real_time
from tests.conftest import Clock
from tests.factories import Side, book_first_slot, local_windows, make_interview, make_world

caldav = pytest.importorskip("caldav")
pytest.importorskip("radicale")

GUEST = "guest@outside.example"
TEAM_ZONE = "America/New_York"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Radicale on a loopback port, any user and password accepted, files in a tmp folder."""
    folder: Path = tmp_path_factory.mktemp("radicale")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "radicale",
            "--server-hosts",
            f"127.0.0.1:{port}",
            "--auth-type",
            "none",
            "--storage-filesystem-folder",
            str(folder),
            "--web-type",
            "none",
            "--logging-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise RuntimeError("Radicale did not start") from None
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=10)


class Replayer:
    """One CalDAV calendar per recipient, fed with the iCalendar parts of their mails."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.calendars: dict[str, Any] = {}

    def calendar_of(self, email: str) -> Any:
        if email not in self.calendars:
            user = "u" + uuid.uuid4().hex[:12]
            client = caldav.DAVClient(url=self.url, username=user, password="x")
            self.calendars[email] = client.principal().make_calendar(name="Interviews")
        return self.calendars[email]

    def apply(self, mail: EmailMessage) -> None:
        for part in mail.walk():
            if part.get_content_type() != "text/calendar":
                continue
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            self._apply(str(mail["To"]), Calendar.from_ical(payload))

    def _apply(self, email: str, itip: Calendar) -> None:
        method = str(itip.get("METHOD"))
        [event] = itip.walk("VEVENT")
        uid, sequence = str(event["UID"]), int(event.get("SEQUENCE", 0))
        calendar = self.calendar_of(email)
        stored = self._find(calendar, uid)
        if stored is not None:
            held = int(stored.icalendar_component.get("SEQUENCE", 0))
            if sequence < held:
                return  # an older message arriving late changes nothing
        if method == "CANCEL":
            if stored is not None:
                stored.delete()
            return
        assert method == "REQUEST", method
        # A calendar object resource carries no METHOD (RFC 4791 section 4.1).
        stored_object = Calendar()
        for name, value in itip.property_items(recursive=False):
            if name not in {"BEGIN", "END", "METHOD"}:
                stored_object.add(name, value)
        for component in itip.subcomponents:
            stored_object.add_component(component)
        calendar.save_event(stored_object.to_ical().decode())

    @staticmethod
    def _find(calendar: Any, uid: str) -> Any:
        try:
            return calendar.event_by_uid(uid)
        except caldav.error.NotFoundError:
            return None

    def held(self, email: str) -> set[tuple[str, datetime, datetime]]:
        """(UID, start, end) of every event in the person's calendar, read over CalDAV."""
        found = set()
        for event in self.calendar_of(email).events():
            component = event.icalendar_component
            start = component.decoded("DTSTART").astimezone(UTC)
            end = component.decoded("DTEND").astimezone(UTC)
            found.add((str(component["UID"]), start, end))
        return found


def expected(interviews: list[Interview]) -> set[tuple[str, datetime, datetime]]:
    return {
        (f"interview-{i.id}@roundtable", i.booked_start, i.booked_end)
        for i in interviews
        if i.booked_start is not None and i.booked_end is not None
    }


async def new_interview(
    session: AsyncSession, settings: Settings, side: Side, clock: Clock, day: int
) -> Interview:
    return await make_interview(
        session,
        settings,
        side,
        clock.now,
        windows=local_windows(
            clock.now + timedelta(days=day), TEAM_ZONE, [("09:00", "10:00"), ("13:00", "14:00")]
        ),
        participants=[side.member, side.colleague],
        invite_emails=[GUEST],
        time_zone=TEAM_ZONE,
    )


async def test_invites_replayed_into_caldav_leave_exactly_the_live_interviews(
    radicale: str, session: AsyncSession, settings: Settings, clock: Clock
) -> None:
    real_time(clock)
    world = await make_world(session)
    side = world.a
    people: list[User] = [side.candidate, side.member, side.colleague]
    recipients = [p.email for p in people] + [GUEST]
    replayer = Replayer(radicale)
    drainer = Drainer.start(settings)

    async def deliver_and_replay() -> None:
        before = len(drainer.mail.sent)
        await drainer.drain(MAIL_TOPIC)
        for mail in drainer.mail.sent[before:]:
            replayer.apply(mail)

    try:
        first = await book_first_slot(
            session,
            settings,
            side,
            await new_interview(session, settings, side, clock, 3),
            clock.now,
        )
        await deliver_and_replay()
        for email in recipients:
            assert replayer.held(email) == expected([first]), email

        # Reschedule: the first is cancelled, the second offered, then booked.
        await begin_write(session)
        second = await requests.reschedule_interview(
            session=session,
            viewer=await load_viewer(session, side.member),
            settings=settings,
            interview_id=first.id,
            time_zone=TEAM_ZONE,
            windows=local_windows(
                clock.now + timedelta(days=5), TEAM_ZONE, [("10:00", "11:00"), ("15:00", "16:00")]
            ),
            reason="the candidate asked",
            now=clock.now,
        )
        await session.commit()
        second = await book_first_slot(session, settings, side, second, clock.now)
        await deliver_and_replay()
        for email in recipients:
            assert replayer.held(email) == expected([second]), email

        # A second round is booked, then the first is cancelled.
        third = await book_first_slot(
            session,
            settings,
            side,
            await new_interview(session, settings, side, clock, 8),
            clock.now,
        )
        await begin_write(session)
        await requests.cancel_interview(
            session=session,
            viewer=await load_viewer(session, side.member),
            interview_id=second.id,
            reason="moved on",
            now=clock.now,
        )
        await session.commit()
        await deliver_and_replay()
    finally:
        await drainer.close()

    for email in recipients:
        assert replayer.held(email) == expected([third]), email
    # The account manager is told, but gets no invite: nothing in their calendar.
    assert side.manager.email not in replayer.calendars
