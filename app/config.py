"""One settings object, read from ROUNDTABLE_* environment variables and validated at start."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_VAR_DIR = Path("var")


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the environment variable."""


def async_database_url(url: str) -> str:
    """Accept plain postgresql:// and sqlite:/// URLs and choose the async driver for them."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("expected a URL such as postgresql://user@host/db or sqlite:///path")
    base = scheme.split("+", 1)[0]
    if base in {"postgresql", "postgres"}:
        return f"postgresql+asyncpg://{rest}"
    if base == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    raise ValueError(f"unsupported database {scheme!r}: use postgresql:// or sqlite:///")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ROUNDTABLE_", extra="ignore")

    database_url: str = f"sqlite:///{DEFAULT_VAR_DIR / 'roundtable.db'}"
    broker_url: str = ""
    smtp_url: str = ""
    mail_dir: Path = DEFAULT_VAR_DIR / "mail"
    mail_from: str = "Roundtable <interviews@roundtable.example.com>"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    graphiql: bool = False
    # Log lines as readable text, or one JSON object a line for a log pipeline.
    log_format: Literal["text", "json"] = "text"
    min_notice_minutes: int = Field(default=120, ge=0)
    reminder_after_hours: int = Field(default=24, ge=1)
    max_windows: int = Field(default=50, ge=2)
    max_days_ahead: int = Field(default=90, ge=1)
    # moveBooking (SPEC section 5): refused from this long before the start, and after
    # this many moves of one interview.
    move_cutoff_hours: int = Field(default=24, ge=0)
    max_moves: int = Field(default=3, ge=0)
    # Empty: a Jitsi Meet room with an unguessable name on `jitsi_url`. Otherwise a URL
    # with {interview_id} and/or {room} (the unguessable name) in it.
    conference_url_template: str = ""
    jitsi_url: str = "https://meet.jit.si"
    # Where the links in mails lead: Roundtable's own page unless the marketplace's client
    # builds it. Placeholders: {public_url}, {token}, {interview_id}.
    booking_url_template: str = "{public_url}/links/{token}"
    link_valid_days: int = Field(default=7, ge=1, le=365)
    google_client_id: str = ""
    google_client_secret: str = ""
    google_api_url: str = ""
    microsoft_client_id: str = ""
    microsoft_client_secret: str = ""
    microsoft_api_url: str = ""
    # OAuth endpoints; tests and `python -m tests.fakes` point them at local fakes.
    google_auth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    microsoft_auth_url: str = "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
    microsoft_token_url: str = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    calendar_timeout_seconds: float = Field(default=20.0, gt=0)
    freebusy_cache_seconds: int = Field(default=60, ge=0)
    # How often each connected calendar is compared with the bookings (0: never by itself).
    calendar_reconcile_minutes: int = Field(default=60, ge=0)
    # Mails showing the conference link wait this long between looks while the requester's
    # calendar creates the Meet / Teams meeting, and no longer than the limit in all.
    conference_wait_poll_seconds: float = Field(default=5.0, gt=0)
    conference_wait_limit_seconds: int = Field(default=3600, ge=0)
    max_query_depth: int = Field(default=10, ge=3)
    max_query_tokens: int = Field(default=2000, ge=100)
    max_query_aliases: int = Field(default=30, ge=1)
    # Origins of browser apps allowed to call the API (CORS), comma-separated; "*" for any.
    cors_origins: str = ""
    # Estimated objects a query may read (see app/schema/query_limits.py): every screen's
    # query at `first: 100` costs well under this; 20 aliased pages of nested lists do not.
    max_query_cost: int = Field(default=250_000, ge=1000)
    # Input lists (app/schema/input_limits.py): windows, notification ids and any other list;
    # windows beyond max_windows (50) get that rule's error, beyond this they are refused.
    max_input_items: int = Field(default=100, ge=1, le=1000)
    max_participants: int = Field(default=50, ge=1, le=1000)
    max_invite_emails: int = Field(default=50, ge=0, le=1000)
    max_request_bytes: int = Field(default=1_000_000, ge=10_000)
    # The whole body must arrive within this; a trickle is answered 408 and closed.
    request_body_timeout_seconds: float = Field(default=15.0, gt=0)
    # Idle keep-alive connections are closed after this (uvicorn's timeout_keep_alive).
    keep_alive_timeout_seconds: int = Field(default=5, ge=1)
    # Introspection and "Did you mean" suggestions: on in `serve`, off in `api` unless set.
    introspection: bool = False
    # Rate limits (SPEC section 5), in `limits` notation such as "120/minute".
    rate_limits: bool = True
    rate_limit_mutations: str = "120/minute"
    rate_limit_failed_auth: str = "30/minute"
    rate_limit_oauth_starts: str = "10/minute"
    # Where counters live: every API process must share it. Empty: the broker when it is
    # Redis, else this process's memory (right for `serve`, which is one process).
    rate_limit_storage_url: str = ""
    api_token_lifetime_days: int = Field(default=90, ge=1, le=3650)
    # Webhook endpoints on loopback, private or link-local addresses are refused unless
    # this is true (development and tests): a webhook must not reach into our own network.
    webhook_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        async_database_url(value)
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"redis", "rediss", "amqp", "amqps"}:
            raise ValueError("use a redis:// or amqp:// URL, or leave empty for in-process")
        return value

    @field_validator("rate_limit_mutations", "rate_limit_failed_auth", "rate_limit_oauth_starts")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError("use limits notation such as 120/minute or 10 per hour") from None
        return value

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"redis", "rediss", "memory"}:
            raise ValueError("use a redis:// URL, memory://, or leave empty")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in {"smtp", "smtps"}:
            raise ValueError("use smtp://host:port or smtps://user:password@host:port")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("use an absolute http(s) URL such as https://roundtable.example.com")
        return value.rstrip("/")

    @field_validator("conference_url_template")
    @classmethod
    def _conference_template(cls, value: str) -> str:
        if not value:
            return value
        if "{interview_id}" not in value and "{room}" not in value:
            raise ValueError("the template must contain {interview_id} or {room}")
        _check_template(value, room="r", interview_id="i")
        return value

    @field_validator("jitsi_url")
    @classmethod
    def _jitsi_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("use an absolute http(s) URL such as https://meet.jit.si")
        return value.rstrip("/")

    @field_validator("booking_url_template")
    @classmethod
    def _booking_template(cls, value: str) -> str:
        if "{token}" not in value:
            raise ValueError("the template must contain {token}")
        url = _check_template(value, public_url="https://x.example", token="t", interview_id="i")
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("the template must give an absolute http(s) URL")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _cors_origins(cls, value: str) -> str:
        for origin in (o.strip() for o in value.split(",") if o.strip()):
            parts = urlsplit(origin)
            if origin != "*" and (
                parts.scheme not in {"http", "https"}
                or not parts.netloc
                or parts.path not in {"", "/"}
                or parts.query
            ):
                raise ValueError(
                    f"{origin!r} is not an origin: use scheme://host[:port], comma-separated"
                )
        return value

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def async_database_url(self) -> str:
        return async_database_url(self.database_url)

    @property
    def rate_limit_store(self) -> str:
        """The storage URL the rate limiter uses (see rate_limit_storage_url)."""
        if self.rate_limit_storage_url:
            return self.rate_limit_storage_url
        if urlsplit(self.broker_url).scheme in {"redis", "rediss"}:
            return self.broker_url
        return "memory://"

    @property
    def is_sqlite(self) -> bool:
        return self.async_database_url.startswith("sqlite")


def _check_template(template: str, **values: str) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        allowed = ", ".join("{" + name + "}" for name in values)
        raise ValueError(f"unknown placeholder {exc}; use {allowed}") from None


def _named_problems(exc: ValidationError, prefix: str) -> list[str]:
    return [
        f"{prefix}{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
        for err in exc.errors()
    ]


def load_settings(*, require_secret: bool = True, **overrides: object) -> Settings:
    """Read the environment; a bad value raises SettingsError naming the variable."""
    # Imported here: the worker tuning lives beside the workers, validated with the rest.
    from app.workers.options import WorkerOptions

    problems: list[str] = []
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems += _named_problems(exc, "ROUNDTABLE_")
    try:
        WorkerOptions()
    except ValidationError as exc:
        problems += _named_problems(exc, "ROUNDTABLE_WORKER_")
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
    if require_secret and len(settings.secret_key) < 32:
        raise SettingsError(
            "ROUNDTABLE_SECRET_KEY: required, at least 32 characters "
            "(it encrypts calendar tokens and signs OAuth state)"
        )
    return settings


def embedded_secret_key(var_dir: Path = DEFAULT_VAR_DIR) -> str:
    """The embedded default keeps a generated key under ./var so restarts can read old data."""
    key_file = var_dir / "secret.key"
    if key_file.exists():
        return key_file.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


_current: Settings | None = None


def configure(settings: Settings) -> Settings:
    """Install the process-wide settings (called once by the CLI or the test fixtures)."""
    global _current
    _current = settings
    return settings


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = load_settings()
    return _current
