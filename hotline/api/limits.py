"""Size limits on every HTTP request, checked before a route runs.

uvicorn (h11) refuses a request head over 16 KiB only when it arrives in pieces (a 400), takes
one that arrives at once whatever its size, and takes bodies of any size: a route that reads no
body (every action route) still acts on a request carrying megabytes. These limits give such a
request a clear 4xx before any route runs: 414 (request target), 431 (headers), 413 (body).
The first two are below h11's 16 KiB, so that a head of any size gets one answer or the other.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.api.errors import PROBLEM
from hotline.api.errors import body as error_body

#: Path and query string (what most HTTP servers take; no filter needs more).
MAX_TARGET = 8 * 1024
#: All header lines together (a bearer token or the wallboard's cookie is well under 1 kB).
MAX_HEADERS = 12 * 1024
#: A request body: the only route that reads one (POST /api/session) takes a token.
MAX_BODY = 64 * 1024


class Limits:
    """ASGI middleware: a request over a limit is answered before the app sees it."""

    def __init__(
        self,
        app: ASGIApp,
        max_target: int = MAX_TARGET,
        max_headers: int = MAX_HEADERS,
        max_body: int = MAX_BODY,
    ) -> None:
        self.app = app
        self.max_target = max_target
        self.max_headers = max_headers
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        if target > self.max_target:
            await refuse(send, 414, f"request target over {self.max_target} bytes")
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if sum(len(name) + len(value) + 4 for name, value in headers) > self.max_headers:
            await refuse(send, 431, f"request headers over {self.max_headers} bytes")
            return
        declared = [value for name, value in headers if name == b"content-length"]
        if declared and (not declared[0].isdigit() or int(declared[0]) > self.max_body):
            await refuse(send, 413, f"request body over {self.max_body} bytes")
            return
        # Read the whole body (chunked ones too) before the route acts, up to the limit.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await refuse(send, 413, f"request body over {self.max_body} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the client sends next (its disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


async def refuse(
    send: Send, status: int, detail: str, more: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer with ``status`` and the API's error (its ``detail``), the connection closed
    after it."""
    body = json.dumps(error_body(status, detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *more,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
