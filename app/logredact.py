"""Keep OAuth codes, states and connection tickets out of the access log.

uvicorn's access log prints each request's path with its query string; the OAuth callback
receives a one-time authorization code and our signed `state` there, and the start URL a
ticket. A mail's booking page carries its link token in the path (/links/<token>). Their
values are replaced before the record is formatted.
"""

from __future__ import annotations

import logging
import re

SECRET_PARAMETERS = ("code", "state", "ticket", "token", "session_state")
_SECRET_VALUE = re.compile(r"(?<=[?&])(" + "|".join(SECRET_PARAMETERS) + r")=[^&\s\"]*")
_LINK_TOKEN = re.compile(r"(?<=/links/)[^/?\s\"]+")
REDACTED = "[redacted]"
ACCESS_LOGGER = "uvicorn.access"


def redact(text: str) -> str:
    text = _LINK_TOKEN.sub(REDACTED, text)
    return _SECRET_VALUE.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


class RedactQuerySecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact_access_log() -> None:
    """Install the filter on uvicorn's access logger (idempotent)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactQuerySecrets) for f in logger.filters):
        logger.addFilter(RedactQuerySecrets())
