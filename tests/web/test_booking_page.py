"""The candidate's way in, in a real browser: from the mail the server wrote to a booking.

Debian's chromium driven by Playwright; each state is screenshotted under
var/screenshots/<test name>/ and the page's words are checked, not only its status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveServer,
    link_in,
    require_browser,
    screenshot_dir,
)
from tests.web.flows import (
    CANCEL,
    GUEST,
    ME,
    RESCHEDULE,
    SLOTS,
    bearer,
    interview_as,
    request_interview,
    seeded,
    windows,
)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def needs_browser() -> None:
    require_browser()  # before the server starts: a skip costs nothing


pytestmark = pytest.mark.usefixtures("needs_browser")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    require_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


class Shots:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    async def __call__(self, page: Any, state: str) -> None:
        self.count += 1
        await page.screenshot(
            path=str(self.folder / f"{self.count:02d}-{state}.png"), full_page=True
        )


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(screenshot_dir(request))


async def candidate_mail_link(live: LiveServer, world: Any) -> str:
    mail = await live.wait_for_mail(
        to=world.a.candidate.email, subject="choose a time"
    )
    return link_in(mail, "Select an interview time")


async def test_candidate_books_from_the_mail_sees_the_meeting_and_cancels(
    live: LiveServer, browser: Any, shots: Shots
) -> None:
    from playwright.async_api import expect

    world = await seeded(live)
    interview_id = await request_interview(live, world)
    link = await candidate_mail_link(live, world)
    assert link.startswith(f"{live.url}/links/")

    context = await browser.new_context(timezone_id="Europe/Berlin")
    page = await context.new_page()
    response = await page.goto(link)
    assert response is not None and response.status == 200
    await expect(page.get_by_role("heading", level=1)).to_have_text("Project A")
    await expect(page.locator("header")).to_contain_text("Org A")
    await expect(page.locator("header")).to_contain_text("Interview round 1 · 30 minutes")
    zone = page.get_by_label("Time zone", exact=True)
    await expect(zone).to_have_value("Europe/Berlin")  # the browser's zone, preselected
    await shots(page, "opened")

    await zone.select_option("Asia/Tokyo")
    await expect(page.get_by_role("status")).to_contain_text("Times are now shown in Asia/Tokyo")
    me = await live.graphql(ME, **bearer(world, world.a.candidate))
    assert me["data"]["me"]["timeZone"] == "Asia/Tokyo", "the chosen zone is saved"
    await shots(page, "zone-chosen")

    # The highlighted dates and the times are those of the API, in the chosen zone.
    api = (
        await live.graphql(
            SLOTS, {"id": interview_id, "tz": "Asia/Tokyo"}, **bearer(world, world.a.candidate)
        )
    )["data"]["availableSlots"]["days"]
    available = page.locator("table.calendar button.available")
    assert [await b.get_attribute("data-date") for b in await available.all()] == [
        d["date"] for d in api
    ]
    await available.first.click()
    legend = page.locator("legend")
    await expect(legend).to_contain_text("(Asia/Tokyo)")
    slots = page.get_by_role("radio")
    assert [await r.get_attribute("value") for r in await slots.all()] == [
        s["start"] for s in api[0]["slots"]
    ]
    # 09:00 in New York on the team's first date is 23:00 in Tokyo.
    await expect(page.locator(".slot").first).to_have_text("23:00 \u2013 23:30")
    await shots(page, "date-chosen")

    chosen = await slots.first.get_attribute("value")
    await slots.first.check()
    await page.get_by_role("button", name="Send Time").click()
    await expect(page.get_by_role("heading", name="Confirm your interview time")).to_be_focused()
    await expect(page.locator(".choice")).to_contain_text("(Asia/Tokyo)")
    await shots(page, "confirm")

    await page.get_by_role("button", name="Confirm and book").click()
    await expect(page.get_by_role("heading", name="Your interview is booked")).to_be_visible()
    shown_url = await page.locator("#conference-url").inner_text()
    await expect(page.get_by_role("link", name="Join the interview")).to_have_attribute(
        "href", shown_url
    )
    await shots(page, "booked")

    # The invitee's own link shows the same meeting, and no way to change anything.
    guest_mail = await live.wait_for_mail(to=GUEST, subject="added you to an interview")
    guest = await context.new_page()
    assert (await guest.goto(link_in(guest_mail, "View the interview"))).status == 200
    await expect(guest.get_by_role("heading", name="The interview is booked")).to_be_visible()
    await expect(guest.locator("#conference-url")).to_have_text(shown_url)
    assert await guest.get_by_role("button").count() == 0
    await shots(guest, "invitee-view")
    await guest.close()

    booked = await interview_as(live, world, world.a.member, interview_id)
    assert booked["status"] == "BOOKED"
    assert booked["conference"]["url"] == shown_url
    assert shown_url.startswith(live.settings.jitsi_url + "/Roundtable-")
    assert datetime.fromisoformat(booked["bookedStart"]) == datetime.fromisoformat(chosen)

    await page.get_by_role("button", name="Cancel interview").click()
    await page.get_by_label("Reason").fill("I accepted another offer")
    await shots(page, "cancel-form")
    await page.get_by_role("button", name="Cancel the interview").click()
    await expect(page.get_by_role("heading", name="This interview was cancelled")).to_be_visible()
    await shots(page, "cancelled")
    assert (await interview_as(live, world, world.a.member, interview_id))["status"] == "CANCELLED"

    again = await page.reload()
    assert again is not None and again.status == 410
    await expect(page.get_by_role("heading", level=1)).to_have_text("This interview was cancelled")
    body = await page.locator("body").inner_text()
    assert "I accepted another offer" not in body
    assert world.a.manager.email in body, "says whom to contact"
    await shots(page, "link-after-cancel")
    await context.close()


async def test_no_time_works_on_a_phone_with_the_keyboard(
    live: LiveServer, browser: Any, shots: Shots
) -> None:
    from playwright.async_api import expect

    world = await seeded(live)
    interview_id = await request_interview(live, world)
    link = await candidate_mail_link(live, world)
    context = await browser.new_context(
        timezone_id="America/Los_Angeles", viewport=PHONE, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    assert (await page.goto(link)).status == 200
    await expect(page.get_by_label("Time zone", exact=True)).to_have_value("America/Los_Angeles")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], "nothing wider than the phone's screen"
    await shots(page, "opened-on-phone")

    box = page.get_by_role("checkbox", name="I did not find a date and time that works for me")
    await box.focus()
    await page.keyboard.press("Space")
    message = page.get_by_label("Message to your account manager (optional)")
    await expect(message).to_be_focused()
    await page.keyboard.type("Any weekday after 18:00 my time, please.")
    await shots(page, "message-typed")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Send message")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#notice")).to_contain_text("Your message was sent")
    await expect(page.locator("#notice")).to_contain_text(world.a.manager.name)
    await shots(page, "message-sent")

    found = await interview_as(live, world, world.a.member, interview_id)
    assert found["alternativeTimesRequested"] is True
    assert found["alternativeTimesMessage"] == "Any weekday after 18:00 my time, please."
    mail = await live.wait_for_mail(
        to=world.a.manager.email, subject="asked for other interview times"
    )
    assert "Any weekday after 18:00" in mail.get_body(("plain",)).get_content()
    me = await live.graphql(ME, **bearer(world, world.a.candidate))
    assert me["data"]["me"]["timeZone"] == "America/Los_Angeles"
    await context.close()


async def test_a_link_after_someone_else_rescheduled_leads_to_the_new_times(
    live: LiveServer, browser: Any, shots: Shots
) -> None:
    from playwright.async_api import expect

    world = await seeded(live)
    interview_id = await request_interview(live, world)
    link = await candidate_mail_link(live, world)
    context = await browser.new_context(timezone_id="UTC", viewport=PHONE, is_mobile=True)
    page = await context.new_page()
    assert (await page.goto(link)).status == 200

    # Booked with the keyboard alone: real buttons and radios, focus moved where it helps.
    await page.locator("table.calendar button.available").first.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("legend")).to_be_focused()
    await page.get_by_role("radio").first.focus()
    await page.keyboard.press("Space")
    await page.get_by_role("button", name="Send Time").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Confirm and book")).to_be_visible()
    await page.get_by_role("button", name="Confirm and book").focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Your interview is booked")).to_be_visible()
    await shots(page, "booked-by-keyboard")

    # The hiring member moves it: the old interview is cancelled, new times are offered.
    moved = await live.graphql(
        RESCHEDULE,
        {
            "input": {
                "interviewId": interview_id,
                "timeZone": "America/New_York",
                "windows": windows([7], [("10:00", "11:00"), ("13:00", "14:00")]),
                "reason": "the interviewer is ill",
            }
        },
        **bearer(world, world.a.member),
    )
    assert moved["data"]["rescheduleInterview"]["errors"] == []
    new_id = moved["data"]["rescheduleInterview"]["interview"]["id"]

    response = await page.goto(link)
    assert response is not None and response.status == 410
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "This interview was rescheduled"
    )
    await shots(page, "old-link-rescheduled")
    await page.get_by_role("link", name="Choose a new time").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Project A")
    await expect(page.locator("table.calendar button.available")).to_have_count(1)
    await shots(page, "new-times")
    await page.locator("table.calendar button.available").first.click()
    await page.get_by_role("radio").first.check()
    await page.get_by_role("button", name="Send Time").click()
    await page.get_by_role("button", name="Confirm and book").click()
    await expect(page.get_by_role("heading", name="Your interview is booked")).to_be_visible()
    await shots(page, "new-interview-booked")
    assert (await interview_as(live, world, world.a.member, new_id))["status"] == "BOOKED"
    await context.close()


async def test_a_tampered_and_an_expired_link_say_what_happened_and_show_no_data(
    live: LiveServer, browser: Any, shots: Shots
) -> None:
    from playwright.async_api import expect

    world = await seeded(live)
    await request_interview(live, world)
    link = await candidate_mail_link(live, world)
    context = await browser.new_context()
    page = await context.new_page()

    last = link[-1]
    tampered = link[:-1] + ("A" if last != "A" else "B")
    response = await page.goto(tampered)
    assert response is not None and response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link does not work")
    body = await page.locator("body").inner_text()
    for secret in ("Project A", "Org A", world.a.candidate.name, world.a.manager.email):
        assert secret not in body
    assert "Traceback" not in body
    await shots(page, "tampered")

    live.clock.now += timedelta(days=60)
    response = await page.goto(link)
    assert response is not None and response.status == 410
    await expect(page.get_by_role("heading", level=1)).to_have_text("This link has expired")
    body = await page.locator("body").inner_text()
    assert world.a.manager.email in body and world.a.manager.name in body
    assert "09:00" not in body and world.a.candidate.name not in body
    await shots(page, "expired")

    token = link.rsplit("/", 1)[1]
    refused = await live.graphql(
        CANCEL.replace("cancelInterview", "cancelInterview"),
        {"input": {"interviewId": "00000000-0000-0000-0000-000000000000"}},
        **{"X-Roundtable-Link": token},
    )
    assert refused["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "link": "EXPIRED"}
    await context.close()


async def test_times_that_are_gone_are_announced_before_and_at_booking(
    live: LiveServer, browser: Any, shots: Shots
) -> None:
    from playwright.async_api import expect

    world = await seeded(live)
    interview_id = await request_interview(live, world)
    link = await candidate_mail_link(live, world)
    days = (
        await live.graphql(
            SLOTS, {"id": interview_id, "tz": "UTC"}, **bearer(world, world.a.candidate)
        )
    )["data"]["availableSlots"]["days"]
    first = datetime.fromisoformat(days[0]["slots"][0]["start"])
    # 90 minutes before the first time: with 2 hours' notice it is gone, the next is not.
    live.clock.now = first - timedelta(minutes=90)

    context = await browser.new_context(timezone_id="America/New_York")
    page = await context.new_page()
    assert (await page.goto(link)).status == 200
    warning = page.locator("#slots-warning")
    await expect(warning).to_contain_text(
        "1 of the 10 times the hiring team offered are no longer available"
    )
    await page.locator("table.calendar button.available").first.click()
    await expect(page.locator(".slot").first).to_have_text("09:30 \u2013 10:00")
    await shots(page, "one-time-gone")

    await page.get_by_role("radio").first.check()
    await page.get_by_role("button", name="Send Time").click()
    live.clock.now += timedelta(minutes=30)  # while the candidate reads, 09:30 goes too
    await page.get_by_role("button", name="Confirm and book").click()
    notice = page.locator("#notice")
    await expect(notice).to_have_text(
        "That time is no longer available. Please choose another one."
    )
    await expect(notice).to_be_focused()
    await expect(warning).to_contain_text("2 of the 10 times")
    await page.locator("table.calendar button.available").first.click()
    await expect(page.locator(".slot").first).to_have_text("10:00 \u2013 10:30")
    await shots(page, "chosen-time-gone")
    assert (await interview_as(live, world, world.a.member, interview_id))["status"] == "PENDING"
    await context.close()
