"""A fake Microsoft Graph (v1.0, the calendar part) and Microsoft identity token endpoint.

Graph's semantics where Roundtable relies on them: `transactionId` makes a retried POST
return the event the first one created, `isOnlineMeeting` gives a Teams join URL (read back
with a GET), deleting a missing event answers 404 `ErrorItemNotFound`, `getSchedule`
answers from the stored events, and bearer tokens are required on every call. Refresh
tokens rotate on every refresh, as Microsoft's do.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from tests.fakes.base import FaultPlan, FaultyApp, OAuthFake, Reply, reply_handler

CLIENT_ID = "fake-microsoft-client"
CLIENT_SECRET = "fake-microsoft-secret"
WINDOWS_UTC = {"UTC", "Coordinated Universal Time", "tzone://Microsoft/Utc"}


def graph_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "innerError": {"request-id": "fake"}}},
        status_code=status,
    )


def fault_response(status: int, retry_after: float | None) -> Response:
    if status == 429:
        response = graph_error(429, "TooManyRequests", "Too many requests.")
    elif status >= 500:
        response = graph_error(status, "ServiceUnavailable", "Service unavailable.")
    else:
        response = graph_error(status, "BadRequest", "Fault injected.")
    if retry_after is not None:
        response.headers["Retry-After"] = str(int(retry_after))
    return response


def parse_dtz(value: dict[str, Any]) -> datetime:
    """A Graph dateTimeTimeZone: a local wall time and a zone name."""
    zone_name = value.get("timeZone") or "UTC"
    try:
        zone = UTC if zone_name in WINDOWS_UTC else ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Reply(
            graph_error(
                400,
                "TimeZoneNotSupportedException",
                f"A valid TimeZone value must be "
                f"specified. The following TimeZone value is not supported: '{zone_name}'.",
            )
        ) from None
    wall = datetime.fromisoformat(value["dateTime"].rstrip("Z")[:26])
    return wall.replace(tzinfo=zone).astimezone(UTC)


def dtz(value: datetime) -> dict[str, str]:
    return {
        "dateTime": value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
        "timeZone": "UTC",
    }


def calendar_id_of(email: str) -> str:
    return "AAMkCal" + hashlib.sha1(email.encode()).hexdigest()[:24]


class FakeMicrosoft:
    def __init__(self) -> None:
        self.oauth = OAuthFake(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            rotate_refresh_tokens=True,
            scope="openid email offline_access User.Read Calendars.ReadWrite",
        )
        self.faults = FaultPlan()
        # mailbox (email) -> event id -> event
        self.mailboxes: dict[str, dict[str, dict[str, Any]]] = {}
        self.lock = threading.Lock()
        # Delta: every change is numbered; deleted events leave a tombstone; a deltaLink
        # names the last change seen and the generation (expire_delta_tokens starts anew).
        self.version: dict[tuple[str, str], int] = {}
        self.tombstones: dict[str, list[tuple[int, str]]] = {}
        self.changes_seen = 0
        self.token_generation = 0
        self.conferences_pending = False  # new Teams meetings get no join URL until finished
        api = Starlette(
            routes=[
                Route("/me", self.me, methods=["GET"]),
                Route("/me/calendar", self.calendar, methods=["GET"]),
                Route("/me/calendars/{calendar_id}", self.calendar, methods=["GET"]),
                Route("/me/calendar/events", self.create, methods=["POST"]),
                Route("/me/calendars/{calendar_id}/events", self.create, methods=["POST"]),
                Route("/me/calendar/getSchedule", self.get_schedule, methods=["POST"]),
                Route("/me/calendarView/delta", self.delta, methods=["GET"]),
                Route(
                    "/me/calendars/{calendar_id}/calendarView/delta", self.delta, methods=["GET"]
                ),
                Route("/me/calendars/{calendar_id}/events/{event_id}", self.event, methods=["GET"]),
                Route("/me/events/{event_id}", self.event, methods=["GET", "PATCH", "DELETE"]),
                Route("/me/events/{event_id}/cancel", self.cancel, methods=["POST"]),
            ],
            exception_handlers={Reply: reply_handler},
        )
        self.app = Starlette(
            routes=[
                Route("/common/oauth2/v2.0/token", self.oauth.token, methods=["POST"]),
                Route("/common/oauth2/v2.0/authorize", self.oauth.authorize, methods=["GET"]),
                Mount("/v1.0", app=FaultyApp(api, self.faults, fault_response)),
            ]
        )

    # -- what tests look at -------------------------------------------------------------

    def events(self, email: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(e) for e in self.mailboxes.get(email.lower(), {}).values()]

    def add_busy(self, email: str, start: datetime, end: datetime, *, show_as: str = "busy") -> str:
        event_id = "AAMkEv" + secrets.token_hex(12)
        with self.lock:
            self.mailboxes.setdefault(email.lower(), {})[event_id] = {
                "id": event_id,
                "subject": "Busy",
                "start": dtz(start),
                "end": dtz(end),
                "showAs": show_as,
                "isCancelled": False,
            }
            self._changed(email.lower(), self.mailboxes[email.lower()][event_id])
        return event_id

    # -- what people do by hand in Outlook ---------------------------------------------

    def delete_by_hand(self, email: str, event_id: str) -> None:
        with self.lock:
            del self.mailboxes[email.lower()][event_id]
            self._removed(email.lower(), event_id)

    def move_by_hand(self, email: str, event_id: str, by: timedelta) -> None:
        with self.lock:
            event = self.mailboxes[email.lower()][event_id]
            event["start"] = dtz(parse_dtz(event["start"]) + by)
            event["end"] = dtz(parse_dtz(event["end"]) + by)
            self._changed(email.lower(), event)

    def duplicate_by_hand(self, email: str, event_id: str) -> str:
        """Copy an event in Outlook: a new item, without the creator's transactionId."""
        new_id = "AAMkEv" + secrets.token_hex(12)
        with self.lock:
            original = self.mailboxes[email.lower()][event_id]
            copy = {
                k: v for k, v in original.items() if k not in {"transactionId", "onlineMeeting"}
            }
            copy.update(
                id=new_id, iCalUId="040000008200E00074C5B7101A82E008" + secrets.token_hex(16)
            )
            self.mailboxes[email.lower()][new_id] = copy
            self._changed(email.lower(), copy)
        return new_id

    def expire_delta_tokens(self) -> None:
        """Graph drops sync state: every deltaLink answers 410 syncStateNotFound."""
        with self.lock:
            self.token_generation += 1

    def finish_conferences(self) -> None:
        with self.lock:
            self.conferences_pending = False
            for mailbox, events in self.mailboxes.items():
                for event in events.values():
                    if event.get("isOnlineMeeting") and "onlineMeeting" not in event:
                        event["onlineMeeting"] = {
                            "joinUrl": f"https://teams.microsoft.com/l/meetup-join/{event['id']}"
                        }
                        self._changed(mailbox, event)

    def _changed(self, mailbox: str, event: dict[str, Any]) -> None:
        """Called with the lock held whenever an event is written."""
        self.changes_seen += 1
        self.version[(mailbox, event["id"])] = self.changes_seen

    def _removed(self, mailbox: str, event_id: str) -> None:
        self.changes_seen += 1
        self.version.pop((mailbox, event_id), None)
        self.tombstones.setdefault(mailbox, []).append((self.changes_seen, event_id))

    def reset(self) -> None:
        with self.lock:
            self.mailboxes.clear()
            self.version.clear()
            self.tombstones.clear()
            self.conferences_pending = False
        self.oauth.reset()
        self.faults.reset()

    # -- handlers -----------------------------------------------------------------------

    def _owner(self, request: Request) -> str:
        email = self.oauth.email_for(request)
        if email is None:
            raise Reply(
                graph_error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                )
            )
        return email

    def _check_calendar(self, request: Request, owner: str) -> None:
        calendar_id = request.path_params.get("calendar_id")
        if calendar_id is not None and calendar_id != calendar_id_of(owner):
            raise Reply(
                graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            )

    async def me(self, request: Request) -> Response:
        owner = self._owner(request)
        name = owner.split("@", 1)[0].replace(".", " ").title()
        return JSONResponse(
            {
                "id": hashlib.sha1(owner.encode()).hexdigest()[:32],
                "displayName": name,
                "mail": owner,
                "userPrincipalName": owner,
            }
        )

    async def calendar(self, request: Request) -> Response:
        owner = self._owner(request)
        self._check_calendar(request, owner)
        return JSONResponse(
            {
                "id": calendar_id_of(owner),
                "name": "Calendar",
                "canEdit": True,
                "isDefaultCalendar": True,
                "owner": {"name": owner, "address": owner},
            }
        )

    async def create(self, request: Request) -> Response:
        owner = self._owner(request)
        self._check_calendar(request, owner)
        body = await request.json()
        check_booleans(body)
        start, end = parse_dtz(body["start"]), parse_dtz(body["end"])
        if end < start:
            raise Reply(graph_error(400, "ErrorInvalidRequest", "The end precedes the start."))
        transaction_id = body.get("transactionId")
        with self.lock:
            mailbox = self.mailboxes.setdefault(owner, {})
            if transaction_id:
                for existing in mailbox.values():
                    if existing.get("transactionId") == transaction_id:
                        return JSONResponse(existing, status_code=201)
            event_id = "AAMkEv" + secrets.token_hex(12)
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
            event = {
                **body,
                "id": event_id,
                "iCalUId": "040000008200E00074C5B7101A82E008" + secrets.token_hex(16),
                "createdDateTime": now,
                "lastModifiedDateTime": now,
                "isCancelled": False,
                "isOrganizer": True,
                "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}",
                "organizer": {"emailAddress": {"name": owner, "address": owner}},
            }
            if body.get("isOnlineMeeting"):
                event["onlineMeetingProvider"] = "teamsForBusiness"
                if not self.conferences_pending:
                    event["onlineMeeting"] = {
                        "joinUrl": f"https://teams.microsoft.com/l/meetup-join/{event_id}"
                    }
            mailbox[event_id] = event
            self._changed(owner, event)
            # Like Graph, the POST answer does not carry the join URL yet.
            answer = {k: v for k, v in event.items() if k != "onlineMeeting"}
            return JSONResponse(answer, status_code=201)

    def _event(self, owner: str, event_id: str) -> dict[str, Any]:
        event = self.mailboxes.get(owner, {}).get(event_id)
        if event is None:
            raise Reply(
                graph_error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            )
        return event

    async def event(self, request: Request) -> Response:
        owner = self._owner(request)
        self._check_calendar(request, owner)
        event_id = request.path_params["event_id"]
        if request.method == "PATCH":
            body = await request.json()
            check_booleans(body)
        with self.lock:
            event = self._event(owner, event_id)
            if request.method == "GET":
                return JSONResponse(event)
            if request.method == "DELETE":
                del self.mailboxes[owner][event_id]
                self._removed(owner, event_id)
                return Response(status_code=204)
            body.pop("transactionId", None)
            event.update(body)
            parse_dtz(event["start"]), parse_dtz(event["end"])
            event["lastModifiedDateTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
            self._changed(owner, event)
            return JSONResponse(event)

    async def delta(self, request: Request) -> Response:
        """calendarView/delta: the first round needs startDateTime and endDateTime and
        lists the window; its deltaLink (window included) gives only later changes, deleted
        events as `@removed`; a stale link answers 410 syncStateNotFound."""
        owner = self._owner(request)
        self._check_calendar(request, owner)
        params = request.query_params
        base = str(request.url).split("?", 1)[0]
        with self.lock:
            if "$deltatoken" in params:
                generation, seen, lower, upper = params["$deltatoken"].split("~")
                if int(generation) != self.token_generation:
                    raise Reply(
                        graph_error(410, "syncStateNotFound", "The sync state is not found.")
                    )
                since = int(seen)
            elif params.get("startDateTime") and params.get("endDateTime"):
                lower, upper, since = params["startDateTime"], params["endDateTime"], 0
            else:
                raise Reply(
                    graph_error(
                        400,
                        "ErrorInvalidParameter",
                        "This request requires a time window specified by the query string "
                        "parameters StartDateTime and EndDateTime.",
                    )
                )
            start, end = parse_dtz({"dateTime": lower}), parse_dtz({"dateTime": upper})
            rows: list[dict[str, Any]] = [
                dict(e)
                for e in self.mailboxes.get(owner, {}).values()
                if self.version.get((owner, e["id"]), 0) > since
                and parse_dtz(e["start"]) < end
                and start < parse_dtz(e["end"])
            ]
            rows = [{k: v for k, v in e.items() if k != "transactionId"} for e in rows]
            if since:
                rows += [
                    {
                        "@odata.type": "#microsoft.graph.event",
                        "id": event_id,
                        "@removed": {"reason": "deleted"},
                    }
                    for number, event_id in self.tombstones.get(owner, [])
                    if number > since
                ]
            token = f"{self.token_generation}~{self.changes_seen}~{lower}~{upper}"
        return JSONResponse({"value": rows, "@odata.deltaLink": f"{base}?$deltatoken={token}"})

    async def cancel(self, request: Request) -> Response:
        owner = self._owner(request)
        with self.lock:
            self._event(owner, request.path_params["event_id"])
            del self.mailboxes[owner][request.path_params["event_id"]]
            self._removed(owner, request.path_params["event_id"])
        return Response(status_code=202)

    async def get_schedule(self, request: Request) -> Response:
        self._owner(request)
        body = await request.json()
        start, end = parse_dtz(body["startTime"]), parse_dtz(body["endTime"])
        interval = int(body.get("availabilityViewInterval") or 30)
        answers = []
        for schedule in body.get("schedules") or []:
            mailbox = schedule.lower()
            if mailbox not in self.mailboxes and mailbox not in {
                g.email for g in self.oauth.access.values()
            }:
                answers.append(
                    {
                        "scheduleId": schedule,
                        "error": {
                            "message": "The mailbox was not found.",
                            "responseCode": "ErrorMailboxNotFound",
                        },
                    }
                )
                continue
            items = []
            for event in self.events(mailbox):
                if event.get("isCancelled") or event.get("showAs", "busy") == "free":
                    continue
                event_start, event_end = parse_dtz(event["start"]), parse_dtz(event["end"])
                if event_start < end and start < event_end:
                    items.append(
                        {
                            "isPrivate": False,
                            "status": event.get("showAs", "busy"),
                            "subject": event.get("subject", ""),
                            "start": dtz(event_start),
                            "end": dtz(event_end),
                        }
                    )
            items.sort(key=lambda i: i["start"]["dateTime"])
            answers.append(
                {
                    "scheduleId": schedule,
                    "availabilityView": _view(items, start, end, interval),
                    "scheduleItems": items,
                    "workingHours": {},
                }
            )
        return JSONResponse({"value": answers})


def _view(items: list[dict[str, Any]], start: datetime, end: datetime, interval: int) -> str:
    codes = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4"}
    view = []
    slot = start
    while slot < end:
        slot_end = slot + timedelta(minutes=interval)
        code = "0"
        for item in items:
            if parse_dtz(item["start"]) < slot_end and slot < parse_dtz(item["end"]):
                code = max(code, codes.get(item["status"], "2"))
        view.append(code)
        slot = slot_end
    return "".join(view)


# Event properties Graph types as Edm.Boolean: a string there is refused, as Graph does.
BOOLEAN_PROPERTIES = ("isOnlineMeeting", "isReminderOn", "isAllDay", "responseRequested")


def check_booleans(body: dict[str, Any]) -> None:
    for name in BOOLEAN_PROPERTIES:
        if name in body and not isinstance(body[name], bool):
            raise Reply(
                graph_error(
                    400,
                    "RequestBodyRead",
                    f"Cannot convert the literal '{body[name]}' to the expected type 'Edm.Boolean'.",
                )
            )
