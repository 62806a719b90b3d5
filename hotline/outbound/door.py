"""The interface every door to the outside implements, and its one error: what the deliverer
knows of Kannel, SMTP or a webhook receiver (httpx's ``_transports/base.py``, in this house)."""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

from hotline.outbound.outbox import OutboxMessage
from hotline.privacy import mask


class DeliveryFailed(Exception):
    """Not delivered this time. The message says why, for the log and /health: never a secret,
    never personal data. ``retry_after``: seconds the other side asked to wait;
    ``permanent``: trying again cannot help (the message itself is wrong)."""

    def __init__(self, why: str, retry_after: float | None = None, permanent: bool = False) -> None:
        super().__init__(why)
        self.retry_after = retry_after
        self.permanent = permanent


class Door(Protocol):
    """One outside system's door: sends a message, or raises :class:`DeliveryFailed`. It is
    given a deadline by the deliverer (``asyncio.timeout``) and must never block the loop."""

    async def send(self, message: OutboxMessage) -> None: ...


def recipient(channel: str, to: str) -> str:
    """A recipient as the log and /health may show it: a number masked (as callers' are), an
    address's local part hidden, a URL without its query (which may hold a token)."""
    if channel == "sms":
        return mask(to)
    if channel == "email":
        local, _, domain = to.rpartition("@")
        return f"{local[:1]}***@{domain}" if local else "***"
    parts = urlsplit(to)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
