"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives, for mail tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.server import free_port


class SmtpSink:
    """Accepts messages on 127.0.0.1:<free port>; ``messages`` holds them parsed.

    ``envelope_recipients[i]`` are the RCPT TO addresses of ``messages[i]`` (Bcc shows
    only there). Addresses put in ``refused`` are refused at RCPT TO with a 550.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelope_recipients: list[list[str]] = []
        self.refused: set[str] = set()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refused:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(
            envelope.original_content or b"", policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        self.envelope_recipients.append(list(envelope.rcpt_tos))
        self.messages.append(message)
        return "250 Message accepted for delivery"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages received, once there are at least ``count``; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages after {timeout} s")
            await asyncio.sleep(0.02)
        return list(self.messages)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A started SmtpSink, stopped after the test."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
