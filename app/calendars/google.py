"""Google Calendar through google-api-python-client and google-auth.

settings.google_api_url, when set, is the API endpoint including the service path
(`http://127.0.0.1:PORT/calendar/v3/` for the local fake); settings.google_token_url is
where google-auth refreshes access tokens. The bundled discovery document is used, so
building the client never goes to the network.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from app.calendars.base import (
    AccountInfo,
    AlreadyExists,
    AuthExpired,
    CalendarClient,
    CalendarError,
    Changes,
    EventSpec,
    Gone,
    ProviderEvent,
    Retryable,
    Revoked,
    SyncTokenExpired,
    TokenHolder,
    WrittenEvent,
    retry_after_seconds,
)
from app.calendars.tokens import TokenSet
from app.config import Settings
from app.models import CalendarProvider
from app.ops.metrics import observed_provider_call
from app.scheduling.windows import TimeRange

logger = logging.getLogger(__name__)

T = TypeVar("T")

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
# A daily quota is not fixed by a quick retry: come back much later.
QUOTA_RETRY_AFTER = 900.0
# Seconds before asking again for a conference the provider is still creating.
CONFERENCE_RETRY_AFTER = 5.0


class GoogleCalendarClient(CalendarClient):
    provider = CalendarProvider.GOOGLE

    def __init__(self, *, settings: Settings, holder: TokenHolder, calendar_id: str) -> None:
        super().__init__(holder=holder, calendar_id=calendar_id)
        self._settings = settings
        # httplib2.Http is not thread-safe: one client, one call at a time.
        self._lock = threading.Lock()
        self._credentials = _credentials(settings, holder.tokens)
        self._service: Any = None

    # -- the interface ------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._service is not None:
                self._service.close()
                self._service = None

    async def account(self) -> AccountInfo:
        calendar = await self._run(lambda s: s.calendars().get(calendarId="primary").execute())
        # The primary calendar's id is the account's address.
        return AccountInfo(email=str(calendar["id"]).lower(), calendar_id=str(calendar["id"]))

    async def create_event(self, spec: EventSpec) -> WrittenEvent:
        # The client-chosen id makes a retried insert idempotent; Google derives the event's
        # iCalUID from it (its Event reference: give one of the two, not both).
        body = {"id": spec.key, **_event_body(spec)}
        if spec.create_conference:
            body["conferenceData"] = {
                "createRequest": {
                    "requestId": spec.key,
                    "conferenceSolutionKey": {"type": "hangoutsMeet"},
                }
            }

        def insert(service: Any) -> dict[str, Any]:
            return dict(
                service.events()
                .insert(
                    calendarId=self.calendar_id,
                    body=body,
                    conferenceDataVersion=1,
                    sendUpdates="none",
                )
                .execute()
            )

        try:
            created = await self._run(insert)
        except AlreadyExists:
            # An earlier attempt created it (its answer was lost): that is success.
            created = await self._get(spec.key)
            if created.get("status") == "cancelled":
                raise AlreadyExists(
                    "the event id belongs to a deleted event", provider_event_id=spec.key
                ) from None
        written = _written(created)
        if spec.create_conference and written.conference_url is None:
            # Meet links can be created asynchronously ("pending"): read the event once more.
            written = _written(await self._get(spec.key))
        if spec.create_conference and written.conference_url is None:
            # Still pending: the next pass meets the event (409) and reads it again.
            raise Retryable("the Meet link is not ready yet", CONFERENCE_RETRY_AFTER)
        return written

    async def _get(self, event_id: str) -> dict[str, Any]:
        return dict(
            await self._run(
                lambda s: s.events().get(calendarId=self.calendar_id, eventId=event_id).execute()
            )
        )

    async def update_event(self, provider_event_id: str, spec: EventSpec) -> WrittenEvent:
        body = _event_body(spec)
        updated = await self._run(
            lambda s: (
                s.events()
                .patch(
                    calendarId=self.calendar_id,
                    eventId=provider_event_id,
                    body=body,
                    sendUpdates="none",
                )
                .execute()
            )
        )
        if updated.get("status") == "cancelled":
            raise Gone("the event was deleted")
        return _written(updated)

    async def delete_event(self, provider_event_id: str) -> None:
        await self._run(
            lambda s: (
                s.events()
                .delete(calendarId=self.calendar_id, eventId=provider_event_id, sendUpdates="none")
                .execute()
            )
        )

    async def restore_event(self, provider_event_id: str, spec: EventSpec) -> WrittenEvent:
        # Google keeps a deleted event (status "cancelled") under its id, so the id cannot
        # be inserted again; setting the status back to "confirmed" restores it.
        body = {**_event_body(spec), "status": "confirmed"}
        restored = await self._run(
            lambda s: (
                s.events()
                .patch(
                    calendarId=self.calendar_id,
                    eventId=provider_event_id,
                    body=body,
                    sendUpdates="none",
                )
                .execute()
            )
        )
        return _written(restored)

    async def changes(self, *, sync_token: str | None, start: datetime, end: datetime) -> Changes:
        """events.list: with the stored syncToken (every change, deleted ones included), or
        a full listing from `start` whose last page hands out the first syncToken. The
        syncToken cannot be combined with timeMin/timeMax, so a full listing is bounded
        below only (Google's sync guide does the same)."""
        found: list[ProviderEvent] = []
        page: str | None = None
        while True:
            params: dict[str, Any] = {
                "calendarId": self.calendar_id,
                "singleEvents": True,
                "maxResults": 250,
            }
            if sync_token:
                params["syncToken"] = sync_token
            else:
                params["timeMin"] = start.astimezone(UTC).isoformat()
            if page:
                params["pageToken"] = page
            try:
                answer = await self._run(functools.partial(_list_page, params=params))
            except Gone as exc:
                if sync_token:
                    raise SyncTokenExpired(str(exc)) from exc
                raise
            found += [_listed(item) for item in answer.get("items") or []]
            page = answer.get("nextPageToken")
            if not page:
                return Changes(
                    events=found, sync_token=answer.get("nextSyncToken"), full=not sync_token
                )

    async def busy(self, start: datetime, end: datetime) -> list[TimeRange]:
        body = {
            "timeMin": start.astimezone(UTC).isoformat(),
            "timeMax": end.astimezone(UTC).isoformat(),
            "items": [{"id": self.calendar_id}],
        }
        answer = await self._run(lambda s: s.freebusy().query(body=body).execute())
        calendar = (answer.get("calendars") or {}).get(self.calendar_id)
        if calendar is None:
            raise CalendarError("free/busy answer lacks the calendar")
        errors = calendar.get("errors") or []
        if errors:
            reasons = {e.get("reason") for e in errors}
            message = f"free/busy failed: {', '.join(sorted(str(r) for r in reasons))}"
            if reasons & {"backendError", "internalError", *RATE_LIMIT_REASONS}:
                raise Retryable(message)
            raise CalendarError(message)
        return [
            TimeRange(_parse_time(block["start"]), _parse_time(block["end"]))
            for block in calendar.get("busy") or []
        ]

    # -- running the blocking library -----------------------------------------------------

    async def _run(self, call: Callable[[Any], T]) -> T:
        return await observed_provider_call("google", asyncio.to_thread(self._call, call))

    def _call(self, call: Callable[[Any], T]) -> T:
        with self._lock:
            try:
                return call(self._service_instance())
            except HttpError as exc:
                raise _translate(exc) from exc
            except RefreshError as exc:
                raise _refresh_failed(exc) from exc
            except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
                # Timeouts and refused connections: the request may or may not have landed;
                # deterministic ids make trying again safe.
                raise Retryable(f"Google Calendar unreachable: {exc!r}") from exc
            finally:
                self._capture_refreshed_tokens()

    def _service_instance(self) -> Any:
        if self._service is None:
            http = AuthorizedHttp(
                self._credentials,
                http=httplib2.Http(timeout=self._settings.calendar_timeout_seconds),
                # "401 refreshes the token once": a second 401 is reported, not looped on.
                max_refresh_attempts=1,
            )
            options = (
                {"api_endpoint": self._settings.google_api_url}
                if self._settings.google_api_url
                else None
            )
            self._service = build(
                "calendar",
                "v3",
                http=http,
                static_discovery=True,
                cache_discovery=False,
                client_options=options,
            )
        return self._service

    def _capture_refreshed_tokens(self) -> None:
        creds = self._credentials
        if creds.token and creds.token != self.holder.tokens.access_token:
            expiry = creds.expiry.replace(tzinfo=UTC) if creds.expiry else None
            self.holder.replace(
                TokenSet(
                    access_token=creds.token,
                    refresh_token=creds.refresh_token or self.holder.tokens.refresh_token,
                    expires_at=expiry,
                    scope=self.holder.tokens.scope,
                )
            )


def _credentials(settings: Settings, tokens: TokenSet) -> Credentials:
    # google-auth compares expiry with a naive UTC clock: hand it naive UTC.
    expiry = tokens.expires_at.astimezone(UTC).replace(tzinfo=None) if tokens.expires_at else None
    return Credentials(  # type: ignore[no-untyped-call]
        token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        token_uri=settings.google_token_url,
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret,
        expiry=expiry,
    )


def _event_body(spec: EventSpec) -> dict[str, Any]:
    zone = spec.time_zone
    body: dict[str, Any] = {
        "summary": spec.title,
        "description": spec.description,
        "start": {"dateTime": spec.start.isoformat(), "timeZone": zone},
        "end": {"dateTime": spec.end.isoformat(), "timeZone": zone},
    }
    # Attendees stay in the description, not the attendee list: Google would otherwise add
    # the event to every attendee's calendar as well, beside their own synced copy and the
    # iCalendar invite Roundtable mails them.
    if spec.location:
        body["location"] = spec.location
    return body


def _written(event: dict[str, Any]) -> WrittenEvent:
    return WrittenEvent(
        provider_event_id=str(event["id"]),
        conference_url=_conference_url(event),
        web_link=event.get("htmlLink"),
    )


def _list_page(service: Any, *, params: dict[str, Any]) -> dict[str, Any]:
    return dict(service.events().list(**params).execute())


def _listed(event: dict[str, Any]) -> ProviderEvent:
    removed = event.get("status") == "cancelled"
    start, end = event.get("start") or {}, event.get("end") or {}
    return ProviderEvent(
        id=str(event["id"]),
        removed=removed,
        start=_parse_time(start["dateTime"]) if start.get("dateTime") else None,
        end=_parse_time(end["dateTime"]) if end.get("dateTime") else None,
        text=f"{event.get('summary') or ''}\n{event.get('description') or ''}",
    )


def _conference_url(event: dict[str, Any]) -> str | None:
    if event.get("hangoutLink"):
        return str(event["hangoutLink"])
    for entry in (event.get("conferenceData") or {}).get("entryPoints") or []:
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return str(entry["uri"])
    return None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _reasons(exc: HttpError) -> set[str]:
    details = exc.error_details
    if isinstance(details, list):
        return {str(d.get("reason")) for d in details if isinstance(d, dict) and d.get("reason")}
    return set()


def _translate(exc: HttpError) -> CalendarError:
    status = int(exc.resp.status)
    reasons = _reasons(exc)
    message = f"Google Calendar answered {status}: {exc.reason}"
    retry_after = retry_after_seconds(exc.resp.get("retry-after"))
    if status == 429 or (status == 403 and reasons & RATE_LIMIT_REASONS):
        return Retryable(message, retry_after)
    if status == 403 and "quotaExceeded" in reasons:
        return Retryable(message, retry_after or QUOTA_RETRY_AFTER)
    if status >= 500:
        return Retryable(message, retry_after)
    if status == 409 and "duplicate" in reasons:
        return AlreadyExists(message, provider_event_id="")
    if status == 409:
        return Retryable(message, retry_after)
    if status in (404, 410):
        return Gone(message)
    if status == 401:
        return AuthExpired(message)
    return CalendarError(message)


def _refresh_failed(exc: RefreshError) -> CalendarError:
    data = exc.args[1] if len(exc.args) > 1 else None
    error = data.get("error") if isinstance(data, dict) else None
    if error == "invalid_grant" or "invalid_grant" in str(exc):
        return Revoked(f"Google refused the refresh token: {exc.args[0]}")
    if getattr(exc, "retryable", False):
        return Retryable(f"Google token refresh failed: {exc.args[0]}")
    return AuthExpired(f"Google token refresh failed: {exc.args[0]}")
