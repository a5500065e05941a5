"""Wall-clock windows around DST changes and in zones at :30 and :45 offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from app.access import load_viewer
from app.config import Settings
from app.errors import ServiceError
from app.scheduling import repository, requests
from app.scheduling.windows import WindowRules, WindowText, parse_windows
from tests.conftest import Clock, GraphQLClient
from tests.factories import make_world

SPRING = datetime(2026, 3, 1, 12, tzinfo=UTC)  # before US (Mar 8) and EU (Mar 29) changes
AUTUMN = datetime(2026, 10, 20, 12, tzinfo=UTC)  # before EU (Oct 25) and US (Nov 1) changes


def rules(now: datetime) -> WindowRules:
    return WindowRules(duration=timedelta(minutes=30), now=now)


def parse(tz: str, now: datetime, *spans: tuple[str, str]) -> list[tuple[str, str]]:
    windows = parse_windows([WindowText(s, e) for s, e in spans], tz=ZoneInfo(tz), rules=rules(now))
    return [(w.start.isoformat(), w.end.isoformat()) for w in windows]


def fields_of(exc: pytest.ExceptionInfo[ServiceError]) -> list[str | None]:
    return [e.field for e in exc.value.errors]


@pytest.mark.parametrize(
    ("tz", "day", "expected_start"),
    [
        ("America/New_York", "2026-03-08", "2026-03-08T13:00:00+00:00"),  # EDT from 02:00
        ("Europe/Berlin", "2026-03-29", "2026-03-29T07:00:00+00:00"),  # CEST from 02:00
        ("America/New_York", "2026-11-01", "2026-11-01T14:00:00+00:00"),  # EST again
        ("Europe/Berlin", "2026-10-25", "2026-10-25T08:00:00+00:00"),  # CET again
    ],
)
def test_window_on_the_day_of_a_change_uses_that_days_offset(
    tz: str, day: str, expected_start: str
) -> None:
    now = SPRING if day < "2026-06" else AUTUMN
    (first, _) = parse(tz, now, (f"{day}T09:00", f"{day}T10:00"), (f"{day}T11:00", f"{day}T12:00"))
    assert first[0] == expected_start


def test_window_across_the_spring_change_is_one_hour_shorter_in_real_time() -> None:
    (across, _) = parse(
        "America/New_York",
        SPRING,
        ("2026-03-08T01:00", "2026-03-08T04:00"),
        ("2026-03-08T09:00", "2026-03-08T10:00"),
    )
    start, end = (datetime.fromisoformat(t) for t in across)
    assert end - start == timedelta(hours=2)


@pytest.mark.parametrize(
    ("tz", "local"),
    [("America/New_York", "2026-03-08T02:30"), ("Europe/Berlin", "2026-03-29T02:15")],
)
def test_a_time_in_the_skipped_hour_is_refused(tz: str, local: str) -> None:
    with pytest.raises(ServiceError) as exc:
        parse(tz, SPRING, (local, local[:11] + "05:00"), ("2026-03-30T09:00", "2026-03-30T10:00"))
    assert fields_of(exc) == ["windows.0.start"]
    assert "does not exist" in exc.value.errors[0].message


@pytest.mark.parametrize(
    ("tz", "local"),
    [("America/New_York", "2026-11-01T01:30"), ("Europe/Berlin", "2026-10-25T02:30")],
)
def test_a_time_in_the_repeated_hour_is_refused(tz: str, local: str) -> None:
    with pytest.raises(ServiceError) as exc:
        parse(tz, AUTUMN, ("2026-10-30T09:00", "2026-10-30T10:00"), (local[:11] + "00:00", local))
    assert fields_of(exc) == ["windows.1.end"]
    assert "happens twice" in exc.value.errors[0].message


def test_a_repeated_hour_with_an_offset_is_accepted() -> None:
    (_, second) = parse(
        "America/New_York",
        AUTUMN,
        ("2026-10-30T09:00", "2026-10-30T10:00"),
        ("2026-11-01T01:00-05:00", "2026-11-01T02:00-05:00"),
    )
    assert second == ("2026-11-01T06:00:00+00:00", "2026-11-01T07:00:00+00:00")


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Asia/Kolkata", "2026-03-10T03:30:00+00:00"),
        ("Asia/Kathmandu", "2026-03-10T03:15:00+00:00"),
        ("Australia/Eucla", "2026-03-10T00:15:00+00:00"),
    ],
)
def test_zones_at_half_and_quarter_hour_offsets(tz: str, expected: str) -> None:
    (first, _) = parse(
        tz,
        SPRING,
        ("2026-03-10T09:00", "2026-03-10T10:00"),
        ("2026-03-11T09:00", "2026-03-11T10:00"),
    )
    assert first[0] == expected


async def test_dst_rules_through_the_api(
    gql: GraphQLClient, session: AsyncSession, clock: Clock
) -> None:
    world = await make_world(session)
    clock.now = SPRING
    query = """mutation($input: RequestInterviewInput!) { requestInterview(input: $input) {
        interview { windows { start } } errors { code field message } } }"""
    base = {
        "proposalId": str(world.a.proposal.id),
        "timeZone": "Europe/Berlin",
        "participantIds": [str(world.a.member.id)],
    }
    skipped = await gql(
        query,
        {
            "input": {
                **base,
                "windows": [
                    {"start": "2026-03-29T02:30", "end": "2026-03-29T04:00"},
                    {"start": "2026-03-30T09:00", "end": "2026-03-30T10:00"},
                ],
            }
        },
        token=world.token(world.a.member),
    )
    assert [(e["code"], e["field"]) for e in skipped["data"]["requestInterview"]["errors"]] == [
        ("VALIDATION", "windows.0.start")
    ]
    ok = await gql(
        query,
        {
            "input": {
                **base,
                "timeZone": "Asia/Kathmandu",
                "windows": [
                    {"start": "2026-03-29T09:00", "end": "2026-03-29T10:00"},
                    {"start": "2026-03-30T09:00", "end": "2026-03-30T10:00"},
                ],
            }
        },
        token=world.token(world.a.member),
    )
    assert (
        ok["data"]["requestInterview"]["interview"]["windows"][0]["start"]
        == "2026-03-29T03:15:00+00:00"
    )


ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "UTC",
]


@st.composite
def local_requests(draw: st.DrawFn) -> tuple[str, list[tuple[datetime, datetime]]]:
    tz = draw(st.sampled_from(ZONES))
    count = draw(st.integers(min_value=2, max_value=5))
    offsets = sorted(
        draw(
            st.lists(
                st.integers(min_value=1, max_value=80 * 24 * 4),
                min_size=count,
                max_size=count,
                unique=True,
            )
        )
    )
    windows = []
    previous_end = None
    for quarter_hours in offsets:
        start = datetime(2026, 3, 2, 0, 0) + timedelta(minutes=15 * quarter_hours)
        length = timedelta(minutes=draw(st.sampled_from([30, 45, 60, 120, 240])))
        if previous_end is not None and start < previous_end + timedelta(hours=2):
            start = previous_end + timedelta(hours=2)
        windows.append((start, start + length))
        previous_end = start + length
    return tz, windows


@given(request=local_requests())
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
async def test_accepted_windows_read_back_as_entered_in_the_team_zone(
    request: tuple[str, list[tuple[datetime, datetime]]],
    session: AsyncSession,
    settings: Settings,
) -> None:
    tz_name, windows = request
    world = await make_world(session)
    texts = [
        WindowText(s.isoformat(timespec="minutes"), e.isoformat(timespec="minutes"))
        for s, e in windows
    ]
    try:
        interview = await requests.request_interview(
            session=session,
            viewer=await load_viewer(session, world.a.member),
            settings=settings,
            request=requests.InterviewRequest(
                proposal_id=world.a.proposal.id, time_zone=tz_name, windows=texts
            ),
            now=datetime(2026, 3, 1, tzinfo=UTC),
        )
    except ServiceError as exc:
        # Only DST gaps, folds and windows pushed past 90 days may be refused.
        assert all(
            "exist" in e.message or "twice" in e.message or "days ahead" in e.message
            for e in exc.errors
        ), exc.errors
        await session.rollback()
        return
    await session.commit()
    stored = await repository.windows_of(session, interview.id)
    zone = ZoneInfo(tz_name)
    assert [
        (
            w.starts_at.astimezone(zone).replace(tzinfo=None),
            w.ends_at.astimezone(zone).replace(tzinfo=None),
        )
        for w in stored
    ] == windows
    assert all(w.starts_at.tzinfo is not None for w in stored)
