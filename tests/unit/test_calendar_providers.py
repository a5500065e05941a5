"""Every calendar provider is described once, in app.calendars.providers."""

from __future__ import annotations

from app.calendars.providers import PROVIDERS, configured
from app.config import Settings
from app.models import CalendarProvider


def test_every_provider_of_the_enum_has_one_entry() -> None:
    assert set(PROVIDERS) == set(CalendarProvider)
    assert len({spec.name for spec in PROVIDERS.values()}) == len(PROVIDERS)
    assert len({spec.conference for spec in PROVIDERS.values()}) == len(PROVIDERS)


def test_a_provider_is_configured_by_its_own_settings_only() -> None:
    google = Settings.model_construct(
        google_client_id="id", google_client_secret="secret", microsoft_client_id=""
    )
    assert configured(google, CalendarProvider.GOOGLE)
    assert not configured(google, CalendarProvider.MICROSOFT)
