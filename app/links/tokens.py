"""Link tokens: a grant id and an expiry, signed with HMAC-SHA256.

The token is never stored: whoever holds the secret key can recompute it from the grant's
row, which is how a retried mail carries the same link and how a rescheduled interview's
page hands out the new one. A changed character fails the signature; the expiry is inside
what is signed, so it cannot be stretched; the grant row says whether it was revoked.

Shape: ``<base64url(16-byte grant id + 5-byte expiry)>.<base64url(first 18 bytes of HMAC)>``,
64 characters, safe in a URL path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

_KEY_LABEL = b"roundtable.link.v1"
_SIGNATURE_BYTES = 18
MAX_TOKEN_LENGTH = 100


@dataclass(frozen=True)
class SignedLink:
    grant_id: uuid.UUID
    expires_at: datetime


class BadLink(ValueError):
    """Not a token we signed: cut short, changed, or made up."""


def _key(secret_key: str) -> bytes:
    # A key of its own, so a link signature can never stand in for another signature.
    return hmac.new(secret_key.encode(), _KEY_LABEL, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret_key: str, body: bytes) -> bytes:
    return hmac.new(_key(secret_key), body, hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def sign_link(*, secret_key: str, grant_id: uuid.UUID, expires_at: datetime) -> str:
    seconds = int(expires_at.timestamp())
    body = grant_id.bytes + seconds.to_bytes(5, "big")
    return f"{_b64(body)}.{_b64(_signature(secret_key, body))}"


def read_link(*, secret_key: str, token: str) -> SignedLink:
    """The grant and expiry of a token we signed; BadLink otherwise (expiry not checked)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise BadLink("not a Roundtable link")
    body_text, signature_text = token.split(".")
    try:
        body, signature = _unb64(body_text), _unb64(signature_text)
    except (binascii.Error, ValueError):
        raise BadLink("not a Roundtable link") from None
    if len(body) != 21 or not hmac.compare_digest(signature, _signature(secret_key, body)):
        raise BadLink("the link was changed or cut short")
    seconds = int.from_bytes(body[16:], "big")
    return SignedLink(uuid.UUID(bytes=body[:16]), datetime.fromtimestamp(seconds, UTC))
