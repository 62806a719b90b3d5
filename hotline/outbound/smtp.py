"""The e-mail door: SMTP, with aiosmtplib (asynchronous: a slow mail server never holds the
event loop), STARTTLS or TLS as the server wants."""

from __future__ import annotations

import hashlib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import aiosmtplib

from hotline.outbound.door import DeliveryFailed
from hotline.outbound.outbox import OutboxMessage

Security = Literal["starttls", "tls", "none"]


class Smtp:
    """Sends an outbox message's ``{"subject", "text"}`` to its address."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        security: Security = "starttls",
        timeout: float = 15.0,
        ca_file: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.security = security
        self.timeout = timeout
        #: The server's certificate is checked against the system's authorities, or these.
        self.tls = ssl.create_default_context(cafile=ca_file)

    def email(self, message: OutboxMessage) -> EmailMessage:
        subject, text = message.payload.get("subject"), message.payload.get("text")
        if not isinstance(subject, str) or not isinstance(text, str):
            raise DeliveryFailed("an e-mail needs a subject and a text", permanent=True)
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = subject
        email["Date"] = formatdate(usegmt=True)
        # the same at every try: a mail server or reader that sees it twice shows it once
        digest = hashlib.sha256(message.id.encode()).hexdigest()[:32]
        email["Message-ID"] = f"<{digest}@{self.sender.rpartition('@')[2] or 'hotline'}>"
        email.set_content(text)
        return email

    async def send(self, message: OutboxMessage) -> None:
        email = self.email(message)
        try:
            await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                tls_context=self.tls if self.security != "none" else None,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"SMTP server answered {exc.code}: {exc.message[:120]}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            reason = str(exc).splitlines()[0][:120] if str(exc) else ""
            raise DeliveryFailed(f"SMTP: {type(exc).__name__} {reason}".strip()) from None
