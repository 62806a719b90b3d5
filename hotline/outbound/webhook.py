"""The webhook door: an HTTP POST of the JSON body, signed as Standard Webhooks says
(:mod:`hotline.outbound.signing`), with the secret of the message's organisation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

import httpx

from hotline import __version__
from hotline.outbound.door import DeliveryFailed
from hotline.outbound.outbox import OutboxMessage
from hotline.outbound.signing import sign


class Webhooks:
    """POSTs an outbox message's payload to its URL. A 2xx is delivered; anything else (a
    redirect too: the URL is to be corrected, not followed) or no answer is tried again,
    after the ``Retry-After`` the receiver asked for, if any."""

    def __init__(
        self,
        keys: Mapping[str, bytes],
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        #: Each organisation's signing key (HOTLINE_WEBHOOK_SECRET_<ORGANISATION>).
        self.keys = keys
        self.client = client or httpx.AsyncClient(timeout=15)
        self.clock = clock

    async def send(self, message: OutboxMessage) -> None:
        key = self.keys.get(message.organisation)
        if key is None:
            raise DeliveryFailed(f"no webhook secret for organisation {message.organisation}")
        body = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(self.clock())  # the attempt's: a receiver refuses an old one
        headers = {
            "content-type": "application/json",
            "user-agent": f"hotline/{__version__}",
            "webhook-id": message.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(key, message.id, timestamp, body),
        }
        try:
            reply = await self.client.post(message.to, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryFailed("the receiver did not answer in time") from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"the receiver is unreachable ({type(exc).__name__})") from None
        if reply.is_success:
            return
        raise DeliveryFailed(f"HTTP {reply.status_code}", retry_after=_seconds(reply))

    async def close(self) -> None:
        await self.client.aclose()


def _seconds(reply: httpx.Response) -> float | None:
    """A ``Retry-After`` in seconds (an HTTP date is not worth parsing here: None)."""
    value = reply.headers.get("retry-after", "")
    return float(value) if value.strip().isdigit() else None
