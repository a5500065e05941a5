"""Text as people type it: no control characters, refused (never cut) beyond its length.

Control characters (NUL and the rest of Unicode's Cc category) would be stored and reach
mail bodies and iCalendar invites, which RFC 5545 forbids; only the free-text fields
(reasons, messages) keep line breaks and tabs. An error names the field and never echoes
more than a short prefix of the value: a 1 MB bad value must not come back in the answer.
"""

from __future__ import annotations

import unicodedata

from app.errors import FieldError, ServiceError, validation

NAME_CHARS = 200  # names and titles
TEXT_CHARS = 2000  # reasons, messages and any other text
PREVIEW_CHARS = 40
LINE_BREAKS = frozenset("\n\r\t")


def preview(value: str, limit: int = PREVIEW_CHARS) -> str:
    """A short, printable prefix of a bad value for an error message."""
    shown = "".join(c if unicodedata.category(c) != "Cc" else "\ufffd" for c in value[:limit])
    return repr(shown + ("…" if len(value) > limit else ""))


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """The first control character in `value` as U+XXXX, or None."""
    for char in value:
        if unicodedata.category(char) == "Cc" and not (multiline and char in LINE_BREAKS):
            return f"U+{ord(char):04X}"
    return None


def text_problem(
    value: str, *, field: str, max_chars: int, multiline: bool = False
) -> FieldError | None:
    if len(value) > max_chars:
        return validation(f"at most {max_chars:,} characters, not {len(value):,}", field)
    found = control_character(value, multiline=multiline)
    if found is not None:
        return validation(f"contains a control character ({found})", field)
    return None


def required_text(value: str, *, field: str, max_chars: int = NAME_CHARS) -> str:
    """A one-line name or title: stripped, not empty, no control characters, not too long."""
    text = value.strip()
    if not text:
        raise ServiceError([validation(f"{field} must not be empty", field)])
    problem = text_problem(text, field=field, max_chars=max_chars)
    if problem is not None:
        raise ServiceError([problem])
    return text


def optional_text(value: str | None, *, field: str, max_chars: int = TEXT_CHARS) -> str | None:
    """A free-text reason or message: line breaks kept, empty means none."""
    if value is None or not value.strip():
        return None
    problem = text_problem(value, field=field, max_chars=max_chars, multiline=True)
    if problem is not None:
        raise ServiceError([problem])
    return value.strip()
