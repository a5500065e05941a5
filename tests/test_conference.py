"""The meeting link a booking gets: a real room, never a made-up host."""

from __future__ import annotations

import re
import uuid

from app.conference import meeting_link
from tests.conftest import make_settings


def test_default_is_an_unguessable_jitsi_room_on_a_server_a_setting_names() -> None:
    settings = make_settings("sqlite:///x.db")
    first, provider = meeting_link(settings, uuid.uuid4())
    second, _ = meeting_link(settings, uuid.uuid4())
    assert provider == "jitsi"
    assert re.fullmatch(r"https://meet\.jit\.si/Roundtable-[a-z2-7]{26}", first), first
    assert first != second
    own = make_settings("sqlite:///x.db", jitsi_url="https://jitsi.example.org/")
    assert meeting_link(own, uuid.uuid4())[0].startswith("https://jitsi.example.org/Roundtable-")


def test_a_template_takes_the_interview_id_and_the_room() -> None:
    interview_id = uuid.uuid4()
    settings = make_settings(
        "sqlite:///x.db", conference_url_template="https://video.example.com/{interview_id}/{room}"
    )
    url, provider = meeting_link(settings, interview_id)
    assert provider == "template"
    assert url.startswith(f"https://video.example.com/{interview_id}/Roundtable-")
