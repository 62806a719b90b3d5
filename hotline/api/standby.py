"""A standby's /api: every request forwarded to the active instance (HOTLINE_HA).

A standby holds no queue, so it answers nothing under /api itself: it forwards the request as
it came (method, path, query, body, the token or the browser's cookie) to the lease holder's
API (``leadership.url``, HOTLINE_API_URL) and streams the answer back, the wallboard's event
stream included. So a supervisor or a load balancer may use either instance. A request that
was forwarded once is never forwarded again (two instances that each think the other active,
for the moment of a takeover, answer 503 rather than bounce it between them). It names the
client in X-Forwarded-For (as this instance judged it: hotline/api/proxies.py), which the
active one believes if it lists this one in HOTLINE_TRUSTED_PROXIES.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from hotline.api.limits import refuse
from hotline.api.proxies import FORWARDED_FOR

log = logging.getLogger(__name__)

#: Marks a forwarded request (and says by whom).
FORWARDED = b"x-hotline-forwarded-by"
#: Headers that describe one hop, not the request: never passed on.
HOP = frozenset(
    {
        b"host",
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-connection",
    }
)
#: Seconds the active instance's address is remembered.
HOLDER_TTL = 1.0


class Forward:
    """ASGI middleware: on a standby, /api goes to the active instance."""

    def __init__(
        self,
        app: ASGIApp,
        active: Callable[[], bool],
        holder_url: Callable[[], Awaitable[str | None]],
        me: str,
        timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.active = active
        self.holder_url = holder_url
        self.me = me
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, read=None))
        self._url: tuple[float, str | None] = (float("-inf"), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/") or self.active():
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if any(name == FORWARDED for name, _ in headers):
            await _answer(send, 503, "no active instance yet: try again in a second")
            return
        target = await self._holder()
        if target is None:
            await _answer(send, 503, "this instance is a standby, and no instance is active yet")
            return
        body = b""
        while True:  # (Limits, before this, has read it whole)
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        url = target + scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        passed = [(k, v) for k, v in headers if k not in HOP and k != FORWARDED_FOR]
        passed.append((FORWARDED, self.me.encode()))
        # the client as this instance judged it (its own trusted proxies): the active one,
        # trusting this one (HOTLINE_TRUSTED_PROXIES), counts its logins, not the standby's
        if client := scope.get("client"):
            passed.append((FORWARDED_FOR, client[0].encode()))
        request = self.client.build_request(scope["method"], url, headers=passed, content=body)
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            self._url = (float("-inf"), None)
            log.warning("standby: the active instance at %s did not answer: %s", target, exc)
            await _answer(send, 503, "the active instance does not answer: try again")
            return
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in HOP],
                }
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except (httpx.HTTPError, OSError) as exc:  # the active one went away mid-answer
            log.info("standby: a forwarded answer was cut: %s", exc)
        finally:
            await response.aclose()

    async def _holder(self) -> str | None:
        at, url = self._url
        if time.monotonic() - at > HOLDER_TTL:
            try:
                async with asyncio.timeout(2):
                    url = await self.holder_url()
            except Exception as exc:  # the database away: nobody to forward to
                log.warning("standby: cannot tell which instance is active: %s", exc)
                url = None
            self._url = (time.monotonic(), url)
        return url


async def _answer(send: Send, status: int, detail: str) -> None:
    await refuse(send, status, detail, ((b"retry-after", b"1"),))
