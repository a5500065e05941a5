"""O365's side of a connection: Graph at a configurable address, and a token store that
refreshes at our token endpoint (see `app.calendars.outlook`)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from zoneinfo import ZoneInfo

from O365 import MSGraphProtocol
from O365.utils import BaseTokenBackend

from app.calendars.base import TokenHolder
from app.calendars.tokens import OAuthClient, TokenSet
from app.models.base import utcnow

UTC_ZONE = ZoneInfo("UTC")


class RoundtableGraphProtocol(MSGraphProtocol):  # type: ignore[misc]
    """Graph at a configurable address (O365 reads `_protocol_url` when it is built)."""

    def __init__(self, *, protocol_url: str | None = None, **kwargs: Any) -> None:
        if protocol_url:
            self._protocol_url = protocol_url if protocol_url.endswith("/") else protocol_url + "/"
        super().__init__(timezone=UTC_ZONE, **kwargs)


class ConnectionTokenBackend(BaseTokenBackend):  # type: ignore[misc]
    """O365's token store, filled from (and refreshing into) one connection's token set.

    The holder is the single source of truth: after a call the caller encrypts
    `holder.tokens` back into the connection row when `holder.changed`.
    """

    def __init__(
        self, *, holder: TokenHolder, oauth: OAuthClient, username: str, client_id: str
    ) -> None:
        super().__init__()
        self.holder = holder
        self.oauth = oauth
        self.username = username
        self.client_id = client_id
        self._fill(holder.tokens)

    def load_token(self) -> bool:
        self._fill(self.holder.tokens)
        return True

    def save_token(self, force: bool = False) -> bool:
        return True  # the caller persists holder.tokens, encrypted, in its transaction

    def delete_token(self) -> bool:
        return True

    def check_token(self) -> bool:
        return bool(self.holder.tokens.access_token)

    def should_refresh_token(self, con: Any = None, *, username: str | None = None) -> None:
        """Refresh here, at our token endpoint; None tells O365 the session is updated."""
        self.refresh()
        if con is not None and con.session is not None:
            con.update_session_auth_header(access_token=self.holder.tokens.access_token)
        return None

    def refresh(self) -> None:
        self.holder.replace(self.oauth.refresh(self.holder.tokens, now=utcnow()))
        self._fill(self.holder.tokens)

    def _fill(self, tokens: TokenSet) -> None:
        """Write the token set into the MSAL cache layout O365 reads its tokens from."""
        with self._lock:
            self._cache.clear()
        now = utcnow()
        expires_in = (
            max(0, int((tokens.expires_at - now).total_seconds())) if tokens.expires_at else 0
        )
        # A stable home account id for the cache; Graph never sees it.
        uid = hashlib.sha256(self.username.encode()).hexdigest()[:32]
        client_info = base64.urlsafe_b64encode(
            json.dumps({"uid": uid, "utid": "roundtable"}).encode()
        ).decode()
        response: dict[str, Any] = {
            "access_token": tokens.access_token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "client_info": client_info.rstrip("="),
        }
        if tokens.refresh_token:
            response["refresh_token"] = tokens.refresh_token
        self.add(
            {
                "client_id": self.client_id,
                "scope": tokens.scope.split() or ["Calendars.ReadWrite"],
                "environment": "roundtable.local",
                "response": response,
                "username": self.username,
                "grant_type": "authorization_code",
            },
            now=int(now.timestamp()),
        )
