"""Outlook / Microsoft 365 calendars through O365 (Microsoft Graph).

settings.microsoft_api_url, when set, replaces `https://graph.microsoft.com/` (the local
fake's address in tests). O365 normally refreshes tokens through MSAL against Microsoft's
login authority, which cannot be pointed elsewhere; our token backend does the refresh
itself at settings.microsoft_token_url (O365's documented `should_refresh_token` hook), so
every network call of this module goes to configured addresses.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from O365 import Account

from app.calendars.base import (
    AccountInfo,
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
from app.calendars.outlook_auth import ConnectionTokenBackend, RoundtableGraphProtocol
from app.calendars.tokens import OAuthClient, TokenEndpointError
from app.config import Settings
from app.models import CalendarProvider
from app.models.base import utcnow
from app.ops.metrics import observed_provider_call
from app.scheduling.windows import TimeRange

logger = logging.getLogger(__name__)

T = TypeVar("T")

UTC_ZONE = ZoneInfo("UTC")
# getSchedule statuses that make a slot unavailable; "workingElsewhere" and "free" do not.
BUSY_STATUSES = frozenset({"busy", "oof", "tentative"})
AVAILABILITY_INTERVAL_MINUTES = 15
# Seconds before asking again for a meeting Graph has not given a join URL yet.
CONFERENCE_RETRY_AFTER = 5.0


class OutlookCalendarClient(CalendarClient):
    provider = CalendarProvider.MICROSOFT

    def __init__(
        self,
        *,
        settings: Settings,
        holder: TokenHolder,
        calendar_id: str,
        account_email: str = "",
    ) -> None:
        super().__init__(holder=holder, calendar_id=calendar_id)
        self._settings = settings
        self._email = account_email
        self._lock = threading.Lock()
        self._backend = ConnectionTokenBackend(
            holder=holder,
            oauth=OAuthClient(
                client_id=settings.microsoft_client_id,
                client_secret=settings.microsoft_client_secret,
                token_url=settings.microsoft_token_url,
                timeout=settings.calendar_timeout_seconds,
            ),
            username=account_email,
            client_id=settings.microsoft_client_id,
        )
        self._account: Any = None

    # -- the interface ------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._account is not None:
                con = self._account.con
                for session in (con.session, con.naive_session):
                    if session is not None:
                        session.close()
                con.session = con.naive_session = None
                self._account = None

    async def account(self) -> AccountInfo:
        def read(account: Any) -> AccountInfo:
            user = account.get_current_user_data()
            calendar = account.schedule().get_default_calendar()
            email = user.mail or user.user_principal_name
            if not email or calendar is None or not calendar.calendar_id:
                raise CalendarError("Graph did not return the account's address and calendar")
            return AccountInfo(email=str(email).lower(), calendar_id=str(calendar.calendar_id))

        return await self._run(read)

    async def create_event(self, spec: EventSpec) -> WrittenEvent:
        def create(account: Any) -> WrittenEvent:
            calendar = self._calendar(account)
            event = calendar.new_event()
            # Graph's idempotency key: a retried POST returns the event the first one made.
            event.transaction_id = spec.key
            _apply(event, spec)
            if spec.create_conference:
                event.is_online_meeting = True
            _send_booleans(event)
            event.save()
            if not spec.create_conference:
                return WrittenEvent(provider_event_id=str(event.object_id), web_link=None)
            # save() does not read the join URL back: fetch the event again for it.
            written = _written(calendar.get_event(event.object_id) or event)
            if written.conference_url is None:
                # A retried POST with the same transactionId finds the event and reads again.
                raise Retryable("the Teams link is not ready yet", CONFERENCE_RETRY_AFTER)
            return written

        return await self._run(create)

    async def update_event(self, provider_event_id: str, spec: EventSpec) -> WrittenEvent:
        def update(account: Any) -> WrittenEvent:
            calendar = self._calendar(account)
            event = calendar.event_constructor(
                parent=calendar, **{calendar._cloud_data_key: {"id": provider_event_id}}
            )
            _apply(event, spec)
            _send_booleans(event)
            event.save()
            return WrittenEvent(provider_event_id=provider_event_id)

        return await self._run(update)

    async def delete_event(self, provider_event_id: str) -> None:
        def delete(account: Any) -> None:
            calendar = self._calendar(account)
            event = calendar.event_constructor(
                parent=calendar, **{calendar._cloud_data_key: {"id": provider_event_id}}
            )
            # Our copies have no attendees, so a plain delete is the organizer's cancel.
            event.delete()

        await self._run(delete)

    async def restore_event(self, provider_event_id: str, spec: EventSpec) -> WrittenEvent:
        # Graph forgets a deleted event: create it again (the old transactionId is free).
        return await self.create_event(spec)

    async def changes(self, *, sync_token: str | None, start: datetime, end: datetime) -> Changes:
        """calendarView/delta: a full round over [start, end) ends with a deltaLink (the
        window travels inside it), which the next round follows to get only the changes.
        O365 has no delta for events, so its authenticated connection makes the calls."""

        def read(account: Any) -> Changes:
            url: str | None = sync_token
            params: dict[str, str] | None = None
            if url is None:
                # v1.0 offers delta on the default calendar's view, the calendar that
                # connecting chose (`account`); per-calendar delta is beta only.
                url = f"{account.protocol.service_url}me/calendarView/delta"
                params = {
                    "startDateTime": _graph_time(start),
                    "endDateTime": _graph_time(end),
                }
            found: list[ProviderEvent] = []
            while True:
                try:
                    answer = account.con.get(url, params=params).json()
                except requests.HTTPError as exc:
                    if sync_token and _status(exc) == 410:
                        raise SyncTokenExpired(f"Graph answered 410: {exc}") from exc
                    raise
                params = None  # the links carry the query
                found += [_delta_item(item) for item in answer.get("value") or []]
                next_link = answer.get("@odata.nextLink")
                if next_link:
                    url = str(next_link)
                    continue
                delta = answer.get("@odata.deltaLink")
                return Changes(
                    events=found, sync_token=str(delta) if delta else None, full=not sync_token
                )

        return await self._run(read)

    async def busy(self, start: datetime, end: datetime) -> list[TimeRange]:
        def read(account: Any) -> list[TimeRange]:
            schedules = account.schedule().get_availability(
                schedules=[self._email],
                start=start.astimezone(UTC_ZONE),
                end=end.astimezone(UTC_ZONE),
                interval=AVAILABILITY_INTERVAL_MINUTES,
            )
            mine = next(
                (s for s in schedules if str(s.get("scheduleId", "")).lower() == self._email),
                None,
            )
            if mine is None:
                raise CalendarError("getSchedule did not answer for the account")
            if mine.get("error"):
                raise CalendarError(f"getSchedule failed: {mine['error'].get('message')}")
            return [
                TimeRange(item["start"].astimezone(UTC), item["end"].astimezone(UTC))
                for item in mine.get("scheduleItems") or []
                if str(item.get("status", "")).lower() in BUSY_STATUSES
            ]

        return await self._run(read)

    # -- running the blocking library -----------------------------------------------------

    def _calendar(self, account: Any) -> Any:
        schedule = account.schedule()
        return schedule.calendar_constructor(
            parent=schedule, **{schedule._cloud_data_key: {"id": self.calendar_id}}
        )

    def _account_instance(self) -> Any:
        if self._account is None:
            protocol = RoundtableGraphProtocol(
                protocol_url=self._settings.microsoft_api_url or None
            )
            self._account = Account(
                (self._settings.microsoft_client_id, self._settings.microsoft_client_secret),
                protocol=protocol,
                token_backend=self._backend,
                username=self._email or None,
                requests_delay=0,
                # No retries inside O365: the caller retries with backoff and Retry-After.
                request_retries=0,
                timeout=self._settings.calendar_timeout_seconds,
            )
        return self._account

    async def _run(self, call: Callable[[Any], T]) -> T:
        return await observed_provider_call("microsoft", asyncio.to_thread(self._call, call))

    def _call(self, call: Callable[[Any], T]) -> T:
        with self._lock:
            try:
                if self.holder.tokens.expired(utcnow()):
                    self._refresh()
                account = self._account_instance()
                try:
                    return call(account)
                except requests.HTTPError as exc:
                    if _status(exc) != 401:
                        raise
                    # 401 with a token we thought valid: refresh once and try again.
                    self._refresh()
                    return call(account)
            except requests.HTTPError as exc:
                raise _translate(exc) from exc
            except TokenEndpointError as exc:
                raise _refresh_failed(exc) from exc
            except requests.RequestException as exc:
                raise Retryable(f"Microsoft Graph unreachable: {exc!r}") from exc

    def _refresh(self) -> None:
        self._backend.refresh()
        if self._account is not None and self._account.con.session is not None:
            self._account.con.update_session_auth_header(
                access_token=self.holder.tokens.access_token
            )


def _apply(event: Any, spec: EventSpec) -> None:
    event.subject = spec.title
    event.body_type = "text"
    event.body = spec.description
    # Graph gets UTC and shows the event in each reader's own timezone.
    event.start = spec.start.astimezone(UTC_ZONE)
    event.end = spec.end.astimezone(UTC_ZONE)
    if spec.location:
        event.location = spec.location
    # Attendees stay in the description: Graph mails an invitation to every attendee of an
    # event, and Roundtable already mails its own iCalendar invite.


def _send_booleans(event: Any) -> None:
    """O365 serialises `isOnlineMeeting` through its case converter, as the string "false"
    or "true"; Graph types it Edm.Boolean. Send a JSON Boolean."""
    to_api_data = event.to_api_data

    def with_booleans(restrict_keys: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = to_api_data(restrict_keys=restrict_keys)
        key = event._cc("isOnlineMeeting")
        if key in data:
            data[key] = bool(event.is_online_meeting)
        return data

    event.to_api_data = with_booleans


def _graph_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dtz(value: dict[str, Any] | None) -> datetime | None:
    """A Graph dateTimeTimeZone as Roundtable reads it back (we write and ask for UTC)."""
    if not value or not value.get("dateTime"):
        return None
    wall = datetime.fromisoformat(str(value["dateTime"]).rstrip("Z")[:26])
    name = str(value.get("timeZone") or "UTC")
    try:
        tz = UTC_ZONE if name in {"UTC", "tzone://Microsoft/Utc"} else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # A Windows zone name: read as UTC. At worst the event looks moved and is
        # written again at the booked time, which changes nothing.
        tz = UTC_ZONE
    return wall.replace(tzinfo=tz).astimezone(UTC)


def _delta_item(item: dict[str, Any]) -> ProviderEvent:
    if "@removed" in item:
        return ProviderEvent(id=str(item["id"]), removed=True)
    body = item.get("body") or {}
    return ProviderEvent(
        id=str(item["id"]),
        removed=bool(item.get("isCancelled")),
        start=_dtz(item.get("start")),
        end=_dtz(item.get("end")),
        text=f"{item.get('subject') or ''}\n{body.get('content') or ''}",
    )


def _written(event: Any) -> WrittenEvent:
    url = event.online_meeting_url
    if not url and isinstance(event.online_meeting, dict):
        url = event.online_meeting.get("joinUrl")
    return WrittenEvent(
        provider_event_id=str(event.object_id), conference_url=url, web_link=event.web_link
    )


def _status(exc: requests.HTTPError) -> int:
    return int(exc.response.status_code) if exc.response is not None else 0


def _translate(exc: requests.HTTPError) -> CalendarError:
    status = _status(exc)
    headers = exc.response.headers if exc.response is not None else {}
    retry_after = retry_after_seconds(headers.get("Retry-After"))
    message = f"Microsoft Graph answered {status}: {exc}"
    if status == 429 or status >= 500 or status == 0:
        return Retryable(message, retry_after)
    if status in (404, 410):
        return Gone(message)
    if status == 401:
        return AuthExpired(message)
    return CalendarError(message)


def _refresh_failed(exc: TokenEndpointError) -> CalendarError:
    if exc.error in {"invalid_grant", "interaction_required"}:
        return Revoked(f"Microsoft refused the refresh token: {exc}")
    if exc.retryable:
        return Retryable(f"Microsoft token refresh failed: {exc}")
    return AuthExpired(f"Microsoft token refresh failed: {exc}")
