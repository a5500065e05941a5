"""Settings are validated at start; a bad value stops start-up and names the variable."""

from __future__ import annotations

import pytest

from app.config import SettingsError, async_database_url, load_settings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROUNDTABLE_DATABASE_URL", "mysql://root@localhost/db"),
        ("ROUNDTABLE_DATABASE_URL", "no-scheme"),
        ("ROUNDTABLE_BROKER_URL", "kafka://broker"),
        ("ROUNDTABLE_SMTP_URL", "http://mail"),
        ("ROUNDTABLE_PUBLIC_URL", "roundtable.example.com"),
        ("ROUNDTABLE_MIN_NOTICE_MINUTES", "-5"),
        ("ROUNDTABLE_GRAPHIQL", "perhaps"),
        ("ROUNDTABLE_CONFERENCE_URL_TEMPLATE", "https://meet.example.com/static"),
        ("ROUNDTABLE_CONFERENCE_URL_TEMPLATE", "https://meet.example.com/{room}/{nope}"),
        ("ROUNDTABLE_JITSI_URL", "meet.jit.si"),
        ("ROUNDTABLE_BOOKING_URL_TEMPLATE", "https://jobs.example.com/book"),
        ("ROUNDTABLE_BOOKING_URL_TEMPLATE", "/book/{token}"),
        ("ROUNDTABLE_BOOKING_URL_TEMPLATE", "https://jobs.example.com/{token}/{who}"),
        ("ROUNDTABLE_LINK_VALID_DAYS", "0"),
        ("ROUNDTABLE_WORKER_MAX_ATTEMPTS", "0"),
        ("ROUNDTABLE_WORKER_LEASE_SECONDS", "soon"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as exc:
        load_settings(require_secret=False)
    assert variable in str(exc.value)


def test_production_processes_need_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROUNDTABLE_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError, match="ROUNDTABLE_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("ROUNDTABLE_SECRET_KEY", "short")
    with pytest.raises(SettingsError, match="ROUNDTABLE_SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("ROUNDTABLE_SECRET_KEY", "k" * 32)
    assert load_settings().secret_key == "k" * 32


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///var/x.db", "sqlite+aiosqlite:///var/x.db"),
    ],
)
def test_plain_database_urls_get_the_async_driver(url: str, expected: str) -> None:
    assert async_database_url(url) == expected


def test_links_and_meetings_default_to_roundtable_and_a_public_jitsi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ["CONFERENCE_URL_TEMPLATE", "JITSI_URL", "BOOKING_URL_TEMPLATE", "PUBLIC_URL"]:
        monkeypatch.delenv(f"ROUNDTABLE_{name}", raising=False)
    settings = load_settings(require_secret=False)
    assert settings.conference_url_template == ""
    assert settings.jitsi_url == "https://meet.jit.si"
    assert settings.booking_url_template == "{public_url}/links/{token}"
    monkeypatch.setenv(
        "ROUNDTABLE_BOOKING_URL_TEMPLATE", "https://jobs.example.com/i/{interview_id}?t={token}"
    )
    assert load_settings(require_secret=False).booking_url_template.startswith("https://jobs")
