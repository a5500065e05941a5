"""HTML of the link pages. Plain strings, every value escaped; no template engine needed.

The booking page itself is a shell: booking.js fills it through the public GraphQL API
with the link token, as any other client would.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from app.links.outcome import LinkPage, Situation
from app.timezones import zone

# No inline script or style anywhere, so the policy can forbid both.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the token must not leak to the meeting service
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def _document(title: str, body: str, *, script: bool = False) -> str:
    scripts = '<script src="/static/booking.js" defer></script>' if script else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(title)} · Roundtable</title>"
        f'<link rel="stylesheet" href="/static/booking.css">{scripts}</head>'
        f'<body><div class="page">{body}'
        '<footer class="footer">Roundtable interview scheduling</footer></div></body></html>\n'
    )


def booking_shell(token: str) -> str:
    """The page booking.js builds on; it reads the token from data-link."""
    body = (
        f'<main id="app" class="card" data-link="{escape(token, quote=True)}" '
        'data-graphql="/graphql" aria-live="polite">'
        '<h1 id="title">Your interview</h1>'
        '<p class="muted" id="loading">Loading your interview…</p>'
        "<noscript><p>This page needs JavaScript to show the times and book one. "
        "If you cannot turn it on, reply to the email you received and your account "
        "manager will book a time for you.</p></noscript>"
        "</main>"
    )
    return _document("Your interview", body, script=True)


def _when(instant: datetime | None, time_zone: str) -> str:
    if instant is None:
        return ""
    tz = zone(time_zone) or ZoneInfo("UTC")
    local = instant.astimezone(tz)
    return f"{local:%A %d %B %Y}, {local:%H:%M} ({time_zone})"


def _which(page: LinkPage) -> str:
    parts = []
    if page.round is not None and page.project_title:
        parts.append(f"round {page.round} of interviews for {page.project_title}")
    if page.organization:
        parts.append(f"at {page.organization}")
    return " ".join(parts) or "this interview"


def _contact(page: LinkPage) -> str:
    if page.contact is None:
        return (
            "<p>If you need help, reply to the email that brought you here; it reaches "
            "your account manager.</p>"
        )
    name, email = escape(page.contact.name), escape(page.contact.email, quote=True)
    return (
        f'<p class="contact">Questions? Contact your account manager, {name}, at '
        f'<a href="mailto:{email}">{email}</a>.</p>'
    )


def _button(url: str, label: str) -> str:
    return f'<p><a class="button" href="{escape(url, quote=True)}">{escape(label)}</a></p>'


def situation_page(page: LinkPage, *, valid_days: int) -> str:
    """Every situation but OPEN: what happened and what to do next, nobody else's data."""
    which = escape(_which(page))
    when = escape(_when(page.when, page.time_zone))
    title, lines = _TEXTS[page.situation](page, which, when, valid_days)
    body = f'<main class="card notice"><h1>{escape(title)}</h1>{lines}{_contact(page)}</main>'
    return _document(title, body)


def _invalid(page: LinkPage, which: str, when: str, days: int) -> tuple[str, str]:
    return (
        "This link does not work",
        "<p>The link is incomplete or was changed. Open it again from the email: some mail "
        "programs break long links across two lines, so copy all of it.</p>",
    )


def _expired(page: LinkPage, which: str, when: str, days: int) -> tuple[str, str]:
    return (
        "This link has expired",
        f"<p>This link to {which} has expired. Links in interview emails work until {days} "
        "days after the interview. Use the link in the newest email about it, or ask your "
        "account manager for a new one.</p>",
    )


def _cancelled(page: LinkPage, which: str, when: str, days: int) -> tuple[str, str]:
    on = f" on {when}" if when else ""
    return (
        "This interview was cancelled",
        f"<p>{which.capitalize()} was cancelled{on}. Everyone taking part was told.</p>",
    )


def _rescheduled(page: LinkPage, which: str, when: str, days: int) -> tuple[str, str]:
    text = f"<p>The hiring team rescheduled {which} and offered new times.</p>"
    if page.new_link:
        label = "Choose a new time" if page.is_candidate else "View the new interview"
        return "This interview was rescheduled", text + _button(page.new_link, label)
    return "This interview was rescheduled", text + (
        "<p>Use the link in the newest email about it.</p>"
    )


def _new_round(page: LinkPage, which: str, when: str, days: int) -> tuple[str, str]:
    text = "<p>A newer round of interviews was requested since this email was sent.</p>"
    if page.new_link:
        label = "Go to the newest round" if not page.is_candidate else "Choose a time"
        text += _button(page.new_link, label)
    return "There is a newer round", text


def _hired(page: LinkPage, which: str, when: str, days: int) -> tuple[str, str]:
    if page.is_candidate:
        return (
            "You were hired",
            f"<p>Congratulations: you were hired, so {which} is no longer needed.</p>",
        )
    return (
        "The candidate was hired",
        f"<p>The candidate was hired, so {which} is no longer needed.</p>",
    )


def _past(page: LinkPage, which: str, when: str, days: int) -> tuple[str, str]:
    return (
        "This interview has taken place",
        f"<p>{which.capitalize()} took place on {when}.</p>",
    )


_TEXTS = {
    Situation.INVALID: _invalid,
    Situation.EXPIRED: _expired,
    Situation.CANCELLED: _cancelled,
    Situation.RESCHEDULED: _rescheduled,
    Situation.NEW_ROUND: _new_round,
    Situation.HIRED: _hired,
    Situation.PAST: _past,
}


def old_link_page() -> str:
    body = (
        '<main class="card notice"><h1>This link is from an older email</h1>'
        "<p>Interview emails now carry a personal link. Open the newest email about your "
        "interview, or reply to it to reach your account manager.</p></main>"
    )
    return _document("This link is from an older email", body)


def error_page() -> str:
    body = (
        '<main class="card notice"><h1>Something went wrong on our side</h1>'
        "<p>Please try again in a few minutes. If it keeps happening, reply to the email "
        "that brought you here; it reaches your account manager.</p></main>"
    )
    return _document("Something went wrong", body)
