"""A real SMTP server for the tests (aiosmtpd), keeping what it is given."""

from __future__ import annotations

import email
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from tests.kannel import free_port


class Mailbox:
    """What the SMTP server was given: (envelope sender, recipients, the message)."""

    def __init__(self) -> None:
        self.got: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=default)
        assert isinstance(message, EmailMessage)
        self.got.append((str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for _, to, m in self.got if address in to]


@contextmanager
def plain_smtp() -> Iterator[tuple[Mailbox, dict[str, str]]]:
    """An SMTP server on this test's 127.0.0.1 (no TLS, no login: the door's settings say
    so), and the service's settings for it."""
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield (
            mailbox,
            {
                "HOTLINE_SMTP_HOST": "127.0.0.1",
                "HOTLINE_SMTP_PORT": str(controller.port),
                "HOTLINE_SMTP_FROM": "hotline@legalaid.example",
                "HOTLINE_SMTP_SECURITY": "none",
            },
        )
    finally:
        controller.stop()
