"""Outgoing e-mail (statements, notices, meeting invitations) over SMTP.

With no ``smtp_host`` configured nothing is sent: the message is logged as skipped.
"""

from __future__ import annotations

import asyncio
import email.policy
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Any

from pydantic import SecretStr

from yuntong.config import Settings
from yuntong.core.logging import get_logger


def _log() -> Any:
    # a fresh proxy per call: follows the current structlog configuration (tests capture it)
    return get_logger(__name__)


SMTP_TIMEOUT_S = 30.0
# 7-bit transfer encodings (base64 / quoted-printable) for non-ASCII bodies: smtplib never
# asks the server for 8BITMIME, so an 8bit body would be a protocol violation
MAIL_POLICY = email.policy.default.clone(cte_type="7bit")


class MailError(Exception):
    """Sending failed; the caller keeps the message and retries later.

    ``reason`` is short and holds no addresses (server replies may echo them, so only
    the reply code is kept).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Alternative:
    """Another form of the body, sent after the text (and HTML) in ``multipart/alternative``.

    ``params`` go into its Content-Type, e.g. ``{"method": "REQUEST", "charset": "UTF-8"}``
    for an iMIP calendar (RFC 6047). ``content`` is sent base64-encoded, byte for byte, so
    CRLF line ends survive.
    """

    mime_type: str
    content: bytes
    params: Mapping[str, str] = field(default_factory=dict)


def build_message(
    *,
    to: list[str],
    subject: str,
    text: str,
    html: str | None = None,
    alternatives: Sequence[Alternative] = (),
    attachments: Sequence[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    """A message to ``to``: plain text, optional HTML and other alternatives, then files.

    Each attachment is ``(filename, mime_type, content)``, e.g.
    ``("statement-2025-06.pdf", "application/pdf", pdf_bytes)``.
    """
    if not to:
        raise ValueError("a message needs at least one recipient")
    message = EmailMessage(policy=MAIL_POLICY)
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(text, charset="utf-8")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8")
    for alternative in alternatives:
        maintype, _, subtype = alternative.mime_type.partition("/")
        message.add_alternative(
            alternative.content, maintype=maintype, subtype=subtype, params=alternative.params
        )
    for filename, mime_type, content in attachments:
        maintype, _, subtype = mime_type.partition("/")
        # the name in Content-Type too: some clients read only that one
        message.add_attachment(
            content,
            maintype=maintype,
            subtype=subtype,
            filename=filename,
            params={"name": filename},
        )
    return message


def recipient_count(message: EmailMessage) -> int:
    """How many addresses the message goes to (To, Cc and Bcc)."""
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    return sum(1 for _, addr in getaddresses(fields) if addr)


@dataclass(frozen=True)
class Mailer:
    """Sends messages through one SMTP server, each on a fresh connection."""

    host: str
    port: int
    username: str
    password: SecretStr
    starttls: bool
    sender: str
    timeout_s: float = SMTP_TIMEOUT_S

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            sender=settings.mail_from,
        )

    async def send(self, message: EmailMessage) -> bool:
        """Send ``message``; False when mail is off (no SMTP host), raises MailError on failure.

        From, Date and Message-ID are filled in when the message lacks them.
        """
        recipients = recipient_count(message)
        if not recipients:
            raise ValueError("a message needs at least one recipient")
        self._complete_headers(message)
        if not self.host:
            _log().info("mail_skipped", recipients=recipients)
            return False
        try:
            refused = await asyncio.to_thread(self._deliver, message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(f"all {len(exc.recipients)} recipients refused") from exc
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"{type(exc).__name__} {exc.smtp_code}") from exc
        except smtplib.SMTPException as exc:
            raise MailError(type(exc).__name__) from exc
        except OSError as exc:  # refused, unreachable, timed out, TLS failure
            detail = f": {exc.strerror}" if exc.strerror else ""
            raise MailError(f"{type(exc).__name__}{detail}") from exc
        if refused:
            # the others have it already: resending would duplicate it for them
            _log().warning("mail_partly_refused", recipients=recipients, refused=len(refused))
        _log().info("mail_sent", recipients=recipients)
        return True

    def _complete_headers(self, message: EmailMessage) -> None:
        if "From" not in message:
            message["From"] = self.sender
        if "Date" not in message:
            message["Date"] = format_datetime(datetime.now(UTC))
        if "Message-ID" not in message:
            # the sender's domain, not socket.getfqdn(), which may wait on DNS
            domain = parseaddr(self.sender)[1].rpartition("@")[2] or "localhost"
            message["Message-ID"] = make_msgid(domain=domain)

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password.get_secret_value())
            return smtp.send_message(message)
