"""OAuth token sets, their encryption at rest, and the provider token endpoints.

Tokens are stored as one Fernet ciphertext per connection. The Fernet key is derived from
settings.secret_key with HKDF, so the secret key alone unlocks them and no second secret has
to be managed; changing the secret key makes stored tokens unreadable (users reconnect).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Refresh a little before the provider's expiry, so a token never dies in flight.
EXPIRY_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None  # aware UTC; None when the provider did not say
    scope: str = ""

    def expired(self, now: datetime) -> bool:
        return self.expires_at is None or now + EXPIRY_MARGIN >= self.expires_at

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None,
                "scope": self.scope,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        data = json.loads(text)
        expires_at = data.get("expires_at")
        return cls(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            expires_at=datetime.fromisoformat(expires_at) if expires_at else None,
            scope=data.get("scope") or "",
        )

    @classmethod
    def from_response(
        cls, body: dict[str, Any], *, now: datetime, previous: TokenSet | None = None
    ) -> TokenSet:
        """A token endpoint's answer (RFC 6749 section 5.1).

        A refresh answer may leave out the refresh token (Google does): keep the old one.
        """
        expires_in = body.get("expires_in")
        refresh = body.get("refresh_token") or (previous.refresh_token if previous else None)
        return cls(
            access_token=str(body["access_token"]),
            refresh_token=refresh,
            expires_at=now + timedelta(seconds=int(expires_in)) if expires_in else None,
            scope=str(body.get("scope") or (previous.scope if previous else "")),
        )


class TokenCipher:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is needed to encrypt calendar tokens")
        derived = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"roundtable",
            info=b"calendar-oauth-tokens-v1",
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, tokens: TokenSet) -> str:
        return self._fernet.encrypt(tokens.to_json().encode()).decode()

    def decrypt(self, ciphertext: str) -> TokenSet:
        try:
            return TokenSet.from_json(self._fernet.decrypt(ciphertext.encode()).decode())
        except InvalidToken:
            raise TokenDecryptError(
                "stored calendar tokens cannot be decrypted with the current secret key"
            ) from None


class TokenDecryptError(Exception):
    pass


class TokenEndpointError(Exception):
    """The token endpoint refused; `error` is the OAuth error code (e.g. invalid_grant)."""

    def __init__(self, message: str, *, error: str, status: int | None) -> None:
        super().__init__(message)
        self.error = error
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status is None or self.status >= 500 or self.status == 429


@dataclass(frozen=True)
class OAuthClient:
    """An OAuth app's credentials at one provider's token endpoint."""

    client_id: str
    client_secret: str
    token_url: str
    timeout: float = 20.0

    def exchange_code(self, *, code: str, redirect_uri: str, now: datetime) -> TokenSet:
        """authorization_code grant. Blocking: call it from a thread."""
        body = self._post(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )
        return TokenSet.from_response(body, now=now)

    def refresh(self, tokens: TokenSet, *, now: datetime) -> TokenSet:
        """refresh_token grant. Blocking: call it from a thread."""
        if not tokens.refresh_token:
            raise TokenEndpointError("no refresh token stored", error="invalid_grant", status=None)
        body = self._post({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
        return TokenSet.from_response(body, now=now, previous=tokens)

    def _post(self, form: dict[str, str]) -> dict[str, Any]:
        form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        try:
            response = requests.post(
                self.token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise TokenEndpointError(
                f"token endpoint unreachable: {exc}", error="unreachable", status=None
            ) from exc
        try:
            body: dict[str, Any] = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            error = str(body.get("error") or f"http_{response.status_code}")
            description = body.get("error_description") or response.reason
            raise TokenEndpointError(
                f"token endpoint answered {response.status_code} {error}: {description}",
                error=error,
                status=response.status_code,
            )
        return body
