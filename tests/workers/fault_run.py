"""Fault injection on the production shape: real `roundtable worker` processes, PostgreSQL,
a Redis of the run's own, the calendar fakes and a loopback SMTP server.

While interviews are booked (and some cancelled), the run SIGKILLs workers in the middle of
their deliveries and starts them again, makes the fakes fail a share of their calls (half
of those after doing the work: lost answers), revokes one member's Google grant, and stops
the broker for a while. Then the faults stop and it waits until every outbox row is settled.

Used by tests/workers/test_fault_injection.py (a short run) and bench/faults_bench.py (the
full one: 20 kills, a 60 s broker outage), which print the `Report`.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.calendars.base import event_key
from app.calendars.fallback import CANCEL_MAILED, INVITE_MAILED
from app.db import begin_write, create_session_factory
from app.models import (
    CalendarProvider,
    Interview,
    InterviewStatus,
    Notification,
    OutboxMessage,
    OutboxStatus,
    Participant,
    ParticipantKind,
    SyncState,
    utcnow,
)
from app.notifications.ical import interview_uid
from app.notifications.kinds import MessageKind
from app.scheduling import requests
from tests.factories import Side, World, book_first_slot, local_windows, make_interview
from tests.workers.fault_shape import ROUNDTABLE, Scenario, Shape, connect, redis_argv

FINAL = {SyncState.SYNCED, SyncState.FAILED, SyncState.DISCONNECTED}


@dataclass
class Report:
    kills: int = 0
    exited_on_their_own: int = 0  # workers that stopped without being killed (replaced)
    provider_faults: int = 0
    outage_seconds: float = 0.0
    mail_rows: int = 0  # rows that were to reach the SMTP server (skipped ones excluded)
    mails_received: int = 0
    duplicates: int = 0  # deliveries beyond the first of one Message-ID
    missing: list[str] = field(default_factory=list)  # Message-IDs never received
    failed_rows: list[str] = field(default_factory=list)
    calendar_mismatches: list[str] = field(default_factory=list)
    unsettled: list[str] = field(default_factory=list)  # participants not in a final state
    revoked_mailed: list[str] = field(default_factory=list)  # what the revoked member got
    revoked_told: int = 0  # "calendar disconnected" notices to the revoked member
    recovery_seconds: float = 0.0  # last fault -> last delivery
    fault_phase_seconds: float = 0.0
    settle_seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"worker SIGKILLs during delivery: {self.kills} "
            f"(and {self.exited_on_their_own} workers found stopped on their own)",
            f"provider faults injected: {self.provider_faults}",
            f"broker outage: {self.outage_seconds:.0f} s",
            f"mails to deliver: {self.mail_rows}, received: {self.mails_received}, "
            f"duplicates (same Message-ID again): {self.duplicates}, missing: {len(self.missing)}",
            f"outbox rows FAILED: {len(self.failed_rows)}",
            f"calendars not holding exactly the live interviews: {len(self.calendar_mismatches)}",
            f"participants not in a final sync state: {len(self.unsettled)}",
            f"revoked member got by mail: {', '.join(self.revoked_mailed) or 'nothing'}; "
            f"told of the disconnection {self.revoked_told} time(s)",
            f"last fault to last delivery: {self.recovery_seconds:.1f} s",
            f"(faults for {self.fault_phase_seconds:.1f} s, settled {self.settle_seconds:.1f} s "
            "after)",
        ]


async def book(session: AsyncSession, shape: Shape, side: Side, day: int) -> Interview:
    now = utcnow()
    when = now + timedelta(days=day)
    await begin_write(session)
    interview = await make_interview(
        session,
        shape.settings(),
        side,
        now,
        windows=local_windows(when, "UTC", [("09:00", "10:00"), ("13:00", "14:00")]),
        participants=[side.member, side.colleague],
        invite_emails=[f"panel-{day}@example.com"],
        time_zone="UTC",
    )
    return await book_first_slot(session, shape.settings(), side, interview, now)


async def cancel(session: AsyncSession, side: Side, interview: Interview) -> None:
    await begin_write(session)
    await requests.cancel_interview(
        session=session,
        viewer=await load_viewer(session, side.member),
        interview_id=interview.id,
        reason="position filled",
        now=utcnow(),
    )
    await session.commit()


class Faults:
    """The faults of one run, with the time of the last one."""

    def __init__(self, shape: Shape, scenario: Scenario, report: Report) -> None:
        self.shape, self.scenario, self.report = shape, scenario, report
        self.last = time.monotonic()
        self.workers = 0
        self.names: list[str] = []

    def start_worker(self) -> str:
        self.workers += 1
        name = f"worker{self.workers}"
        self.shape.processes.start(name, [*ROUNDTABLE, "worker"], self.shape.env)
        return name

    def providers_fail(self, rate: float) -> None:
        for fake in (self.shape.fake_google, self.shape.fake_microsoft):
            fake.faults.fail_randomly(rate, seed=17)

    async def kill_workers(self) -> None:
        """Kill one of the two workers every interval (while it delivers) and replace it."""
        self.names = [self.start_worker(), self.start_worker()]
        await asyncio.sleep(3)  # both booted and busy
        for n in range(self.scenario.kills):
            self.shape.processes.kill(self.names[n % 2])
            self.report.kills += 1
            self.last = time.monotonic()
            self.names[n % 2] = self.start_worker()
            await asyncio.sleep(self.scenario.kill_every_seconds)

    def revive_workers(self) -> None:
        """A worker that stopped on its own (say, while the broker was away) is replaced, as
        its container would be; the run reports how many."""
        for n, name in enumerate(self.names):
            process = self.shape.processes.running.get(name)
            if process is None or process.poll() is not None:
                self.shape.processes.running.pop(name, None)
                self.report.exited_on_their_own += 1
                self.names[n] = self.start_worker()

    async def broker_outage(self) -> None:
        self.shape.processes.stop("redis")
        self.report.outage_seconds = self.scenario.outage_seconds
        await asyncio.sleep(self.scenario.outage_seconds)
        self.shape.processes.start("redis", redis_argv(self.shape.redis_port), dict(os.environ))
        self.last = time.monotonic()


async def run(shape: Shape, world: World, scenario: Scenario) -> Report:
    report = Report()
    faults = Faults(shape, scenario, report)
    sessions = create_session_factory(shape.engine)
    side = world.a
    revoked = side.member  # the requester: Google; the colleague: Outlook
    async with sessions() as session:
        await begin_write(session)
        await connect(session, shape, side.member, CalendarProvider.GOOGLE)
        await connect(session, shape, side.colleague, CalendarProvider.MICROSOFT)
        await session.commit()

    faults.providers_fail(scenario.failure_rate)
    began = time.monotonic()
    killing = asyncio.create_task(faults.kill_workers())
    booked: list[Interview] = []
    async with sessions() as session:
        for n in range(scenario.interviews):
            booked.append(await book(session, shape, side, day=2 + n))
            if n == scenario.interviews // 3:
                shape.fake_google.oauth.revoke(revoked.email)
                # At once: the calendar most likely still looks connected, so no CANCEL is
                # mailed with it; the sync's refused delete must mail it instead.
                await cancel(session, side, booked[0])
            if n == scenario.interviews // 2:
                outage = asyncio.create_task(faults.broker_outage())
            await asyncio.sleep(scenario.booking_pause_seconds)
        await outage
        # Cancelled after the revocation: half of them were written before it.
        half = scenario.cancelled // 2
        for interview in booked[1:half] + booked[-half:]:
            await cancel(session, side, interview)
    await killing
    faults.revive_workers()
    faults.providers_fail(0.0)
    faults.last = max(faults.last, time.monotonic())
    report.provider_faults = shape.fake_google.faults.injected + (
        shape.fake_microsoft.faults.injected
    )
    last_fault = faults.last
    report.fault_phase_seconds = last_fault - began
    await settle(shape, scenario)
    report.settle_seconds = time.monotonic() - last_fault
    await check(shape, world, booked, report)
    arrivals = [r.at for r in shape.smtp.handler.received]
    if arrivals:
        last_delivery = max(arrivals) - time.time() + time.monotonic()
        report.recovery_seconds = max(0.0, last_delivery - last_fault)
    return report


async def settle(shape: Shape, scenario: Scenario) -> None:
    """Wait until no outbox row is pending; the deadline only stops a broken run."""
    end = time.monotonic() + scenario.settle_deadline_seconds
    sessions = create_session_factory(shape.engine)
    while time.monotonic() < end:
        async with sessions() as session:
            pending = await session.scalar(
                select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.PENDING)
            )
            await session.commit()
        if pending is None:
            return
        await asyncio.sleep(0.25)
    raise AssertionError("outbox rows still pending after the deadline")


async def check(shape: Shape, world: World, booked: list[Interview], report: Report) -> None:
    sessions = create_session_factory(shape.engine)
    async with sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage)))
        interviews = {
            i.id: i
            for i in await session.scalars(
                select(Interview).where(Interview.id.in_([b.id for b in booked]))
            )
        }
        participants = list(
            await session.scalars(
                select(Participant).where(Participant.interview_id.in_(list(interviews)))
            )
        )
        report.revoked_told = len(
            list(
                await session.scalars(
                    select(Notification.id).where(
                        Notification.user_id == world.a.member.id,
                        Notification.kind == MessageKind.CALENDAR_DISCONNECTED.value,
                    )
                )
            )
        )
        await session.commit()
    received = shape.smtp.handler.message_ids()
    report.mails_received = sum(received.values())
    report.duplicates = sum(count - 1 for count in received.values())
    domain = "roundtable.example.com"
    for row in rows:
        if row.status is OutboxStatus.FAILED:
            report.failed_rows.append(f"{row.topic} {row.id}: {row.last_error}")
        if row.topic != "mail" or (row.last_error or "").startswith("not sent"):
            continue
        report.mail_rows += 1
        expected = f"<{row.id.hex}.outbox@{domain}>"
        if expected not in received and not _received_like(received, row.id.hex):
            report.missing.append(expected)
    side = world.a
    _check_calendars(shape, side, interviews, participants, report)
    for p in participants:
        interview = interviews[p.interview_id]
        if interview.status is InterviewStatus.BOOKED and p.sync_state not in FINAL:
            report.unsettled.append(f"{p.email} {interview.id}: {p.sync_state}")
        if p.sync_state is SyncState.FAILED and not p.sync_error:
            report.unsettled.append(f"{p.email} {interview.id}: FAILED without a reason")
        if p.user_id == side.member.id and p.sync_state is SyncState.DISCONNECTED:
            if p.sync_error not in (INVITE_MAILED, CANCEL_MAILED):
                report.unsettled.append(f"{p.email}: DISCONNECTED with {p.sync_error!r}")
    cancels: set[str] = set()
    for message in shape.smtp.handler.messages():
        if str(message["To"]) != side.member.email:
            continue
        for part in message.walk():
            if part.get_content_type() == "text/calendar":
                method = str(part.get_param("method"))
                report.revoked_mailed.append(method)
                uid = re.search(r"^UID:(\S+)", part.get_content(), re.MULTILINE)
                if method == "CANCEL" and uid:
                    cancels.add(uid.group(1))
    # The revoked Google calendar cannot be cleared by us: each copy of a cancelled
    # interview left there must have been answered by a mailed cancellation.
    owner = {
        event_key(p.interview_id, p.id): p.interview_id
        for p in participants
        if p.user_id == side.member.id
    }
    for event in shape.fake_google.events(side.member.email):
        interview_id = owner.get(str(event["id"]))
        if interview_id is None:
            continue
        if interviews[interview_id].status is InterviewStatus.CANCELLED and (
            interview_uid(interview_id) not in cancels
        ):
            report.calendar_mismatches.append(
                f"{side.member.email}: cancelled {interview_id} left there, no CANCEL mailed"
            )


def _received_like(received: Counter[str], hex_id: str) -> bool:
    return any(hex_id in message_id for message_id in received)


def _check_calendars(
    shape: Shape,
    side: Side,
    interviews: dict[object, Interview],
    participants: list[Participant],
    report: Report,
) -> None:
    """The Outlook calendar holds exactly the live interviews, once each. (The revoked
    Google calendar can no longer be written: what it holds is the member's to clear.)"""
    live = {i.id for i in interviews.values() if i.status is InterviewStatus.BOOKED}
    colleague = side.colleague
    expected = sorted(
        event_key(p.interview_id, p.id)
        for p in participants
        if p.user_id == colleague.id and p.interview_id in live and p.kind is ParticipantKind.MEMBER
    )
    stored = sorted(
        str(e.get("transactionId")) for e in shape.fake_microsoft.events(colleague.email)
    )
    # A copy the provider refused for good is FAILED with a reason: it may be missing.
    failed = {
        event_key(p.interview_id, p.id)
        for p in participants
        if p.user_id == colleague.id and p.sync_state is SyncState.FAILED
    }
    stale = set(stored) - set(expected)
    missing = set(expected) - set(stored) - failed
    repeated = len(stored) - len(set(stored))
    if stale or missing or repeated:
        report.calendar_mismatches.append(
            f"{colleague.email}: {len(stale)} stale, {len(missing)} missing, {repeated} repeated"
        )
