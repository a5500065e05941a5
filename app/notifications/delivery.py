"""Handing a rendered mail to SMTP, or to a folder of .eml files in the embedded default.

Failures are sorted into the two kinds the outbox acts on: transient (a 4xx reply, a refused
or dropped connection, a timeout) is retried with backoff; permanent (a 5xx rejection such
as an unknown address) is marked failed at once, since sending it again cannot help.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from app.config import Settings
from app.outbox.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

SMTP_TIMEOUT_SECONDS = 30.0


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


def classify_smtp_code(code: int, text: str) -> DeliveryError:
    reason = f"SMTP {code} {text}".strip()
    if 400 <= code < 500:
        return TransientDeliveryError(reason)
    return PermanentDeliveryError(reason)


def _reply_text(raw: bytes | str) -> str:
    return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


@dataclass(frozen=True)
class SmtpTransport:
    """smtp://[user:password@]host[:port][?starttls=true] or smtps://... (TLS from the start)."""

    host: str
    port: int
    use_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = SMTP_TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        parts = urlsplit(url)
        use_tls = parts.scheme == "smtps"
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["false"])[0].lower() in {"1", "true", "yes"}
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (465 if use_tls else 25),
            use_tls=use_tls,
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    async def send(self, message: EmailMessage) -> None:
        # smtplib blocks; a worker thread keeps the event loop free for other deliveries.
        smtp = await asyncio.to_thread(self._send, message)
        # The server has the mail (250). Its QUIT round trip runs beside the caller's DONE
        # mark rather than before it: a worker killed now is less likely to leave a sent
        # mail unmarked (sent again, as at-least-once delivery must).
        goodbye = asyncio.create_task(asyncio.to_thread(_quit, smtp))
        _goodbyes.add(goodbye)
        goodbye.add_done_callback(_goodbyes.discard)

    def _send(self, message: EmailMessage) -> smtplib.SMTP:
        """Hand the mail over; the connection is returned open, to be QUIT."""
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            refused = smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                smtp.close()
            raise _delivery_error(exc) from exc
        if refused:
            _quit(smtp)
            # Some recipients took the mail: sending it again would duplicate it for them.
            raise PermanentDeliveryError(f"refused for some recipients: {sorted(refused)}")
        return smtp

    def _connect(self) -> smtplib.SMTP:
        if self.use_tls:
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)


# QUITs under way after the mark; kept so the event loop does not drop them half-done.
_goodbyes: set[asyncio.Task[None]] = set()


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()  # the mail was accepted already: a lost goodbye changes nothing


def _delivery_error(exc: smtplib.SMTPException | OSError) -> DeliveryError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _worst(exc.recipients)
    if isinstance(exc, smtplib.SMTPResponseException):
        return classify_smtp_code(exc.smtp_code, _reply_text(exc.smtp_error))
    # Refused or dropped connections, timeouts, TLS trouble: the server may be back soon.
    return TransientDeliveryError(f"SMTP unreachable: {exc!r}")


def _worst(refused: dict[str, tuple[int, bytes]]) -> DeliveryError:
    errors = [classify_smtp_code(code, _reply_text(text)) for code, text in refused.values()]
    permanent = [e for e in errors if isinstance(e, PermanentDeliveryError)]
    return (permanent or errors)[0]


@dataclass(frozen=True)
class MailDirTransport:
    """The embedded default: one .eml file per mail, named after its Message-ID.

    Writing the same mail twice replaces the file, so a repeated delivery leaves one mail.
    """

    directory: Path

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        if not getaddresses(message.get_all("To", [])):
            raise PermanentDeliveryError("the mail has no recipient")
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{eml_name(message)}.eml"
        fd, temp = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                # RFC 5322 and iCalendar both want CRLF; one line ending for the whole file.
                handle.write(message.as_bytes(policy=message.policy.clone(linesep="\r\n")))
            os.replace(temp, target)  # atomic: readers never see half a mail
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def eml_name(message: EmailMessage) -> str:
    message_id = str(message.get("Message-ID", "")).strip("<>")
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in message_id) or "mail"


def transport_for(settings: Settings) -> MailTransport:
    if settings.smtp_url:
        return SmtpTransport.from_url(settings.smtp_url)
    return MailDirTransport(Path(settings.mail_dir))
