"""The meeting link an interview gets when it is booked, before any calendar provider's."""

from __future__ import annotations

import base64
import secrets
import uuid

from app.config import Settings

JITSI = "jitsi"
TEMPLATE = "template"


def new_room_name() -> str:
    """128 random bits, lower-case base32: unguessable, and safe in any Jitsi room URL."""
    return "Roundtable-" + base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def meeting_link(settings: Settings, interview_id: uuid.UUID) -> tuple[str, str]:
    """(url, provider): a Jitsi Meet room by default, or the configured template.

    Never a made-up host: the default server is public, and a template is the operator's.
    """
    room = new_room_name()
    if settings.conference_url_template:
        url = settings.conference_url_template.format(interview_id=interview_id, room=room)
        return url, TEMPLATE
    return f"{settings.jitsi_url}/{room}", JITSI
