"""A fake Google Calendar API (v3) and Google OAuth token endpoint.

Implements what Roundtable uses, with Google's semantics: client-chosen event ids (a-v,
0-9, 5 to 1024 long) and 409 `duplicate` when one is reused, deleted events kept as
`cancelled` (410 `deleted` on a second delete), conference creation through
`conferenceData.createRequest` with `conferenceDataVersion=1`, free/busy answered from the
stored events, and bearer tokens required on every call.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from tests.fakes.base import FaultPlan, FaultyApp, OAuthFake, Reply, reply_handler

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
CLIENT_ID = "fake-google-client"
CLIENT_SECRET = "fake-google-secret"


def google_error(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"domain": "global", "reason": reason, "message": message}],
            }
        },
        status_code=status,
    )


def fault_response(status: int, retry_after: float | None) -> Response:
    if status == 429:
        response = google_error(429, "rateLimitExceeded", "Rate Limit Exceeded")
    elif status == 403:
        response = google_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded")
    elif status >= 500:
        response = google_error(status, "backendError", "Backend Error")
    else:
        response = google_error(status, "invalid", "Fault injected")
    if retry_after is not None:
        response.headers["Retry-After"] = str(int(retry_after))
    return response


def parse_time(value: dict[str, Any]) -> datetime:
    parsed = datetime.fromisoformat(value["dateTime"])
    if parsed.tzinfo is None:
        raise Reply(google_error(400, "invalid", "Missing time zone definition for start time."))
    return parsed.astimezone(UTC)


def _add_meet(event: dict[str, Any]) -> None:
    code = hashlib.sha1(event["id"].encode()).hexdigest()
    link = f"https://meet.google.com/{code[:3]}-{code[3:7]}-{code[7:10]}"
    request = (event.get("conferenceData") or {}).get("createRequest") or {}
    event["hangoutLink"] = link
    event["conferenceData"] = {
        "createRequest": {**request, "status": {"statusCode": "success"}},
        "entryPoints": [{"entryPointType": "video", "uri": link}],
        "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
        "conferenceId": link.rsplit("/", 1)[1],
    }


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGoogle:
    def __init__(self) -> None:
        self.oauth = OAuthFake(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            rotate_refresh_tokens=False,
            scope="https://www.googleapis.com/auth/calendar.events "
            "https://www.googleapis.com/auth/calendar.readonly",
        )
        self.faults = FaultPlan()
        # calendar id (the account's email) -> event id -> event
        self.calendars: dict[str, dict[str, dict[str, Any]]] = {}
        self.lock = threading.Lock()
        # Incremental sync: every change gets a number; a syncToken names the last one
        # seen and the generation it belongs to (expire_sync_tokens starts a new one).
        self.version: dict[tuple[str, str], int] = {}
        self.changes_seen = 0
        self.token_generation = 0
        self.conferences_pending = False  # new Meet links stay "pending" until finished
        self.list_calls: list[dict[str, str]] = []
        api = Starlette(
            routes=[
                Route("/calendars/{calendar_id}", self.get_calendar, methods=["GET"]),
                Route("/calendars/{calendar_id}/events", self.insert, methods=["POST"]),
                Route("/calendars/{calendar_id}/events", self.list_events, methods=["GET"]),
                Route(
                    "/calendars/{calendar_id}/events/{event_id}",
                    self.event,
                    methods=["GET", "PATCH", "PUT", "DELETE"],
                ),
                Route("/freeBusy", self.free_busy, methods=["POST"]),
            ],
            exception_handlers={Reply: reply_handler},
        )
        self.app = Starlette(
            routes=[
                Route("/token", self.oauth.token, methods=["POST"]),
                Route("/o/oauth2/v2/auth", self.oauth.authorize, methods=["GET"]),
                Mount("/calendar/v3", app=FaultyApp(api, self.faults, fault_response)),
            ]
        )

    # -- what tests look at -------------------------------------------------------------

    def events(self, email: str) -> list[dict[str, Any]]:
        """The live (not deleted) events of an account's primary calendar."""
        with self.lock:
            stored = self.calendars.get(email.lower(), {})
            return [dict(e) for e in stored.values() if e["status"] != "cancelled"]

    def add_busy(self, email: str, start: datetime, end: datetime, summary: str = "Busy") -> str:
        """An event the user made themselves."""
        event_id = hashlib.sha1(f"{email}{start}{end}{summary}".encode()).hexdigest()[:20]
        event_id = event_id.translate(str.maketrans("wxyz", "0123"))
        with self.lock:
            self.calendars.setdefault(email.lower(), {})[event_id] = {
                "kind": "calendar#event",
                "id": event_id,
                "status": "confirmed",
                "summary": summary,
                "start": {"dateTime": rfc3339(start)},
                "end": {"dateTime": rfc3339(end)},
            }
            self._changed(email.lower(), self.calendars[email.lower()][event_id])
        return event_id

    # -- what people do by hand in their calendar ------------------------------------------

    def delete_by_hand(self, email: str, event_id: str) -> None:
        with self.lock:
            event = self.calendars[email.lower()][event_id]
            event["status"] = "cancelled"
            self._changed(email.lower(), event)

    def move_by_hand(self, email: str, event_id: str, by: timedelta) -> None:
        with self.lock:
            event = self.calendars[email.lower()][event_id]
            for edge in ("start", "end"):
                moved = parse_time(event[edge]) + by
                event[edge] = {"dateTime": rfc3339(moved), "timeZone": "UTC"}
            self._changed(email.lower(), event)

    def duplicate_by_hand(self, email: str, event_id: str) -> str:
        """ "Duplicate" in Google Calendar: a copy with a new id and iCalUID."""
        new_id = secrets.token_hex(13)
        with self.lock:
            original = self.calendars[email.lower()][event_id]
            copy = {**original, "id": new_id, "iCalUID": f"{new_id}@google.com"}
            copy.pop("conferenceData", None)
            copy.pop("hangoutLink", None)
            self.calendars[email.lower()][new_id] = copy
            self._changed(email.lower(), copy)
        return new_id

    def finish_conferences(self) -> None:
        """Google has created the pending Meet conferences: later reads carry the link."""
        with self.lock:
            self.conferences_pending = False
            for calendar_id, events in self.calendars.items():
                for event in events.values():
                    status = ((event.get("conferenceData") or {}).get("createRequest") or {}).get(
                        "status"
                    )
                    if status == {"statusCode": "pending"}:
                        _add_meet(event)
                        self._changed(calendar_id, event)

    def expire_sync_tokens(self) -> None:
        """Google drops sync state now and then: every token answers 410 fullSyncRequired."""
        with self.lock:
            self.token_generation += 1

    def _changed(self, calendar_id: str, event: dict[str, Any]) -> None:
        """Called with the lock held whenever an event is written."""
        self.changes_seen += 1
        self.version[(calendar_id, event["id"])] = self.changes_seen
        event["updated"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def reset(self) -> None:
        with self.lock:
            self.calendars.clear()
            self.version.clear()
            self.conferences_pending = False
            self.list_calls.clear()
        self.oauth.reset()
        self.faults.reset()

    # -- handlers -----------------------------------------------------------------------

    def _owner(self, request: Request) -> str:
        email = self.oauth.email_for(request)
        if email is None:
            raise Reply(
                JSONResponse(
                    {
                        "error": {
                            "code": 401,
                            "message": "Request had invalid authentication credentials.",
                            "errors": [{"reason": "authError", "domain": "global"}],
                            "status": "UNAUTHENTICATED",
                        }
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
                )
            )
        return email

    def _calendar_id(self, request: Request, calendar_id: str) -> str:
        owner = self._owner(request)
        resolved = owner if calendar_id == "primary" else calendar_id.lower()
        if resolved != owner:
            raise Reply(google_error(404, "notFound", "Not Found"))
        return resolved

    async def get_calendar(self, request: Request) -> Response:
        calendar_id = self._calendar_id(request, request.path_params["calendar_id"])
        return JSONResponse(
            {
                "kind": "calendar#calendar",
                "id": calendar_id,
                "summary": calendar_id,
                "timeZone": "UTC",
            }
        )

    async def insert(self, request: Request) -> Response:
        calendar_id = self._calendar_id(request, request.path_params["calendar_id"])
        body = await request.json()
        event_id = body.get("id") or hashlib.sha1(repr(body).encode()).hexdigest()[:26]
        if not EVENT_ID.match(event_id):
            raise Reply(google_error(400, "invalid", "Invalid resource id value."))
        start, end = parse_time(body["start"]), parse_time(body["end"])
        if end <= start:
            raise Reply(google_error(400, "timeRangeEmpty", "The specified time range is empty."))
        with self.lock:
            events = self.calendars.setdefault(calendar_id, {})
            if event_id in events:
                raise Reply(
                    google_error(409, "duplicate", "The requested identifier already exists.")
                )
            event = {
                **body,
                "kind": "calendar#event",
                "id": event_id,
                "status": "confirmed",
                "iCalUID": body.get("iCalUID") or f"{event_id}@google.com",
                "htmlLink": f"https://calendar.google.com/event?eid={event_id}",
                "sequence": 0,
            }
            request_conference = (body.get("conferenceData") or {}).get("createRequest")
            if request_conference and request.query_params.get("conferenceDataVersion") == "1":
                if self.conferences_pending:
                    # Google may answer before the meeting exists: statusCode "pending", no
                    # link yet; a later read of the event carries it.
                    event["conferenceData"] = {
                        "createRequest": {
                            **request_conference,
                            "status": {"statusCode": "pending"},
                        }
                    }
                else:
                    _add_meet(event)
            else:
                event.pop("conferenceData", None)
            events[event_id] = event
            self._changed(calendar_id, event)
            return JSONResponse(event)

    async def event(self, request: Request) -> Response:
        calendar_id = self._calendar_id(request, request.path_params["calendar_id"])
        event_id = request.path_params["event_id"]
        with self.lock:
            event = self.calendars.get(calendar_id, {}).get(event_id)
            if event is None:
                raise Reply(google_error(404, "notFound", "Not Found"))
            if request.method == "GET":
                return JSONResponse(event)
            if request.method == "DELETE":
                if event["status"] == "cancelled":
                    raise Reply(google_error(410, "deleted", "Resource has been deleted"))
                event["status"] = "cancelled"
                self._changed(calendar_id, event)
                return Response(status_code=204)
        body = await request.json()
        with self.lock:
            # A deleted event is kept; only an update that confirms it again brings it back.
            if event["status"] == "cancelled" and body.get("status") != "confirmed":
                raise Reply(google_error(410, "deleted", "Resource has been deleted"))
            if request.method == "PUT":
                kept = {k: event[k] for k in ("kind", "id", "iCalUID", "htmlLink")}
                event.clear()
                event.update({**body, **kept, "status": "confirmed"})
            else:
                event.update({k: v for k, v in body.items() if k not in {"id", "iCalUID"}})
            parse_time(event["start"]), parse_time(event["end"])
            event["sequence"] = int(event.get("sequence", 0)) + 1
            self._changed(calendar_id, event)
            return JSONResponse(event)

    async def list_events(self, request: Request) -> Response:
        """events.list with Google's sync rules: a syncToken returns every event changed
        since it (deleted ones as "cancelled") and may not be combined with timeMin or
        timeMax; a stale token answers 410 fullSyncRequired; the last page of a listing
        carries nextSyncToken."""
        calendar_id = self._calendar_id(request, request.path_params["calendar_id"])
        params = request.query_params
        self.list_calls.append(dict(params))
        token = params.get("syncToken")
        if token and (params.get("timeMin") or params.get("timeMax")):
            raise Reply(google_error(400, "invalid", "Sync token cannot be used with timeMin."))
        size = min(int(params.get("maxResults") or 250), 2500)
        offset = int(params.get("pageToken") or 0)
        with self.lock:
            if token:
                generation, _, seen = token.partition("-")
                if int(generation) != self.token_generation:
                    raise Reply(
                        google_error(410, "fullSyncRequired", "Sync token is no longer valid.")
                    )
            stored = self.calendars.get(calendar_id, {})
            if token:
                chosen = [
                    e for e in stored.values() if self.version[(calendar_id, e["id"])] > int(seen)
                ]
            else:
                time_min = params.get("timeMin")
                lower = datetime.fromisoformat(time_min) if time_min else None
                chosen = [
                    e
                    for e in stored.values()
                    if (e["status"] != "cancelled" or params.get("showDeleted") == "true")
                    and (lower is None or parse_time(e["end"]) > lower)
                ]
            chosen.sort(key=lambda e: self.version[(calendar_id, e["id"])])
            position = self.changes_seen
            answer: dict[str, Any] = {
                "kind": "calendar#events",
                "items": [dict(e) for e in chosen[offset : offset + size]],
            }
        if offset + size < len(chosen):
            answer["nextPageToken"] = str(offset + size)
        else:
            answer["nextSyncToken"] = f"{self.token_generation}-{position}"
        return JSONResponse(answer)

    async def free_busy(self, request: Request) -> Response:
        owner = self._owner(request)
        body = await request.json()
        time_min = datetime.fromisoformat(body["timeMin"]).astimezone(UTC)
        time_max = datetime.fromisoformat(body["timeMax"]).astimezone(UTC)
        calendars: dict[str, Any] = {}
        for item in body.get("items") or []:
            requested = item["id"]
            resolved = owner if requested == "primary" else requested.lower()
            if resolved != owner:
                calendars[requested] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
                continue
            busy = []
            for event in sorted(self.events(owner), key=lambda e: parse_time(e["start"])):
                if event.get("transparency") == "transparent":
                    continue
                start, end = parse_time(event["start"]), parse_time(event["end"])
                if start < time_max and time_min < end:
                    busy.append(
                        {"start": rfc3339(max(start, time_min)), "end": rfc3339(min(end, time_max))}
                    )
            calendars[requested] = {"busy": busy}
        return JSONResponse(
            {
                "kind": "calendar#freeBusy",
                "timeMin": rfc3339(time_min),
                "timeMax": rfc3339(time_max),
                "calendars": calendars,
            }
        )
