"""The SMS door: Kannel's smsbox, through its HTTP ``cgi-bin/sendsms`` interface.

Kannel (bearerbox and smsbox, Debian's ``kannel``) talks to the operator's SMS centre (SMPP,
EMI/UCP, a GSM modem); the hotline only hands it each message. A 202 (``0: Accepted for
delivery`` or ``3: Queued for later delivery``) means Kannel has it: its own store-file keeps it
across its restarts and its queue retries the SMS centre. Anything else is retried here.
"""

from __future__ import annotations

import httpx

from hotline.outbound.door import DeliveryFailed
from hotline.outbound.outbox import OutboxMessage
from routing import numbers
from routing.numbers import DialForm

#: What is sent as GSM 7-bit text as it is (160 characters an SMS); any other character
#: (Cyrillic, Georgian) makes the whole text UCS-2 (``coding=2``: 70 characters an SMS, 67 a
#: part of a longer one), which every phone shows.
PLAIN = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 \n\r!\"#%&'()*+,-./:;<=>?@_"
)


class Kannel:
    """Sends an outbox message's ``{"text"}`` to its number through smsbox's sendsms."""

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        sender: str = "",
        client: httpx.AsyncClient | None = None,
        dial: DialForm = "international",
    ) -> None:
        self.url = url
        self.username = username
        self.password = password
        self.sender = sender
        self.client = client or httpx.AsyncClient(timeout=10)
        #: How a stored (E.164) number is written in ``to`` (trunk.dial: the carrier's form).
        self.dial: DialForm = dial

    async def send(self, message: OutboxMessage) -> None:
        text = message.payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise DeliveryFailed("an SMS needs a text", permanent=True)
        params = {
            "username": self.username,
            "password": self.password,
            "to": numbers.dial(message.to, self.dial),
            "text": text,
            "charset": "UTF-8",
        }
        if self.sender:
            params["from"] = self.sender
        if not set(text) <= PLAIN:
            params["coding"] = "2"
        try:
            reply = await self.client.get(self.url, params=params)
        except httpx.TimeoutException:
            raise DeliveryFailed("Kannel's smsbox did not answer in time") from None
        except httpx.HTTPError as exc:  # (its text could hold the URL, and so the password)
            raise DeliveryFailed(f"Kannel's smsbox unreachable ({type(exc).__name__})") from None
        if reply.is_success:
            return
        said = reply.text.strip().splitlines()[0][:120] if reply.text.strip() else ""
        raise DeliveryFailed(f"Kannel's smsbox answered {reply.status_code} {said}".strip())

    async def close(self) -> None:
        await self.client.aclose()
