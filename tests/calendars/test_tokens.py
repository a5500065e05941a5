"""Tokens at rest, token answers, Retry-After."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.calendars.base import event_key, retry_after_seconds
from app.calendars.tokens import TokenCipher, TokenDecryptError, TokenSet

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TOKENS = TokenSet("access-secret", "refresh-secret", NOW + timedelta(hours=1), "calendar")


def test_tokens_round_trip_and_the_ciphertext_hides_them() -> None:
    cipher = TokenCipher("k" * 40)

    ciphertext = cipher.encrypt(TOKENS)

    assert "access-secret" not in ciphertext and "refresh-secret" not in ciphertext
    assert cipher.decrypt(ciphertext) == TOKENS


def test_another_secret_key_cannot_read_the_tokens() -> None:
    ciphertext = TokenCipher("k" * 40).encrypt(TOKENS)

    with pytest.raises(TokenDecryptError):
        TokenCipher("j" * 40).decrypt(ciphertext)


def test_a_refresh_answer_without_refresh_token_keeps_the_old_one() -> None:
    refreshed = TokenSet.from_response(
        {"access_token": "new", "expires_in": 60}, now=NOW, previous=TOKENS
    )

    assert refreshed == TokenSet("new", "refresh-secret", NOW + timedelta(seconds=60), "calendar")


def test_tokens_count_as_expired_a_minute_early() -> None:
    assert not TOKENS.expired(NOW + timedelta(minutes=58))
    assert TOKENS.expired(NOW + timedelta(minutes=59, seconds=1))


@pytest.mark.parametrize(
    ("header", "seconds"), [("120", 120.0), ("0", 0.0), (None, None), ("soon", None)]
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def test_retry_after_as_a_date() -> None:
    later = datetime.now(UTC) + timedelta(hours=1)

    delay = retry_after_seconds(format_datetime(later, usegmt=True))

    assert delay is not None and 3000 < delay <= 3600


def test_event_keys_are_valid_google_ids_and_stable() -> None:
    interview, participant = uuid.uuid4(), uuid.uuid4()
    key = event_key(interview, participant)

    assert re.fullmatch(r"[a-v0-9]{5,1024}", key)
    assert key == event_key(interview, participant)
    assert key != event_key(interview, uuid.uuid4())
