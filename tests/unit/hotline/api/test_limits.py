"""The API's size limits, on a bare ASGI app that counts what reaches it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from hotline.api.limits import MAX_BODY, MAX_HEADERS, MAX_TARGET, Limits


class Counter:
    """An app that answers 200 with the length of the body it read."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def pieces(size: int) -> AsyncIterator[bytes]:
    for _ in range(size // 4096):
        yield b"x" * 4096


@pytest.mark.parametrize(
    ("path", "headers", "body", "status"),
    [
        ("/api/calls?caller=1", {}, b"", 200),
        ("/api/calls?caller=" + "1" * (MAX_TARGET - 30), {}, b"", 200),
        ("/api/calls?caller=" + "1" * MAX_TARGET, {}, b"", 414),
        ("/api/calls", {"x-big": "a" * (MAX_HEADERS - 200)}, b"", 200),
        ("/api/calls", {"x-big": "a" * MAX_HEADERS}, b"", 431),
        ("/api/session", {}, b"t" * MAX_BODY, 200),
        ("/api/session", {}, b"t" * (MAX_BODY + 1), 413),
        ("/api/session", {}, pieces(MAX_BODY + 4096), 413),  # chunked: counted as it comes
        ("/api/session", {}, pieces(MAX_BODY), 200),
        ("/api/session", {"content-length": "lots"}, b"", 413),
    ],
)
async def test_what_is_too_big_never_reaches_the_app(
    path: str, headers: dict[str, str], body: bytes | AsyncIterator[bytes], status: int
) -> None:
    app = Counter()
    transport = httpx.ASGITransport(app=Limits(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        reply = await client.post(path, headers=headers, content=body)
    assert reply.status_code == status, reply.text
    assert app.calls == (status == 200)
    if status == 200 and path == "/api/session":
        assert int(reply.text) == MAX_BODY  # the app read the body whole
