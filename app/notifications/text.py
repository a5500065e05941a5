"""Times written for people: in the reader's own zone, with the zone named."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def when(instant: datetime, time_zone: str) -> str:
    local = instant.astimezone(ZoneInfo(time_zone))
    return f"{local:%a %d %b %Y %H:%M} ({time_zone}, UTC{local:%z})"
