"""/api/events' bounds: at most HOTLINE_STREAMS_PER_TOKEN streams open per token (the next one
refused with a 429 that says why, a closed one giving its place back), and a reconnection sent
at most MAX_REPLAY missed events (more: `stream.reset`, read the state again)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.types import ASGIApp, Message

from hotline.api.access import Streams
from hotline.api.routes import create_api
from hotline.api.stream import MAX_REPLAY
from hotline.events import CallEvent, EventBus
from routing.events import MenuAnswer
from tests.unit.hotline.api.test_errors import SUPERVISOR, VIEWER, parts

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Stream:
    """One GET /api/events, driven by hand (ASGI): its answer's head, its events as they come,
    and the client's leaving."""

    def __init__(self, app: ASGIApp, token: str, last_event_id: str | None = None) -> None:
        headers = [(b"authorization", f"Bearer {token}".encode())]
        if last_event_id:
            headers.append((b"last-event-id", last_event_id.encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/api/events",
            "raw_path": b"/api/events",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("203.0.113.9", 40000),
            "server": ("hotline", 80),
        }
        self.sent: asyncio.Queue[Message] = asyncio.Queue()
        self.left = asyncio.Event()
        self.asked = False
        self.task = asyncio.create_task(app(scope, self.receive, self.sent.put))

    async def receive(self) -> Message:
        if not self.asked:
            self.asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def status(self) -> int:
        start = await asyncio.wait_for(self.sent.get(), 5)
        assert start["type"] == "http.response.start"
        status: int = start["status"]
        return status

    async def body(self) -> dict[str, Any]:
        """The whole body of a refusal."""
        chunks = b""
        while True:
            message = await asyncio.wait_for(self.sent.get(), 5)
            chunks += message.get("body", b"")
            if not message.get("more_body"):
                found: dict[str, Any] = json.loads(chunks)
                return found

    async def events(self, until: str) -> list[dict[str, Any]]:
        """The events (their data) up to the one of call ``until``, that one left out."""
        seen: list[dict[str, Any]] = []
        text = ""
        while True:
            message = await asyncio.wait_for(self.sent.get(), 5)
            text += message.get("body", b"").decode()
            *done, text = text.split("\n\n")
            for block in done:
                for line in block.splitlines():
                    if line.startswith("data:"):
                        event = json.loads(line.removeprefix("data:"))
                        if event.get("call_id") == until:
                            return seen
                        seen.append(event)

    async def leave(self) -> None:
        self.left.set()
        await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def app() -> AsyncIterator[tuple[ASGIApp, EventBus]]:
    bus = EventBus()
    yield create_api(dataclasses.replace(parts(), bus=bus, streams=Streams(2))), bus


async def test_a_token_has_at_most_its_streams_the_next_one_refused(
    app: tuple[ASGIApp, EventBus],
) -> None:
    api, _ = app
    first, second = Stream(api, SUPERVISOR), Stream(api, SUPERVISOR)
    assert [await first.status(), await second.status()] == [200, 200]
    third = Stream(api, SUPERVISOR)
    assert await third.status() == 429
    said = await third.body()
    assert "2 event streams open already" in said["detail"]
    assert "HOTLINE_STREAMS_PER_TOKEN" in said["detail"]
    other = Stream(api, VIEWER)  # another token's own count
    assert await other.status() == 200
    await first.leave()  # a stream closed gives its place back
    again = Stream(api, SUPERVISOR)
    assert await again.status() == 200
    for stream in (second, other, again):
        await stream.leave()


def published(bus: EventBus, *calls: str) -> list[str]:
    """An event of each call, published; their ids."""
    for call in calls:
        bus.publish(CallEvent(call, 0, T0, MenuAnswer("main", "1"), organisation="ua-legal-aid"))
    return [event.id for event in list(bus._recent)[len(bus._recent) - len(calls) :]]


async def test_a_reconnection_gets_what_it_missed_up_to_a_bound(
    app: tuple[ASGIApp, EventBus],
) -> None:
    """Up to MAX_REPLAY missed events are sent again, in order; one more than that, and the
    client is told to read the state again instead (a reconnection costs the service
    that much at most)."""
    api, bus = app
    ids = published(bus, *(f"c{n}" for n in range(10)))
    stream = Stream(api, SUPERVISOR, last_event_id=ids[4])
    assert await stream.status() == 200
    published(bus, "live")
    seen = await stream.events(until="live")
    assert [e["call_id"] for e in seen] == [f"c{n}" for n in range(5, 10)]
    await stream.leave()

    ids = published(bus, *(f"d{n}" for n in range(MAX_REPLAY + 1)))
    stream = Stream(api, SUPERVISOR, last_event_id=ids[0])  # MAX_REPLAY missed: all of them
    assert await stream.status() == 200
    published(bus, "live")
    seen = await stream.events(until="live")
    assert [e["call_id"] for e in seen] == [f"d{n}" for n in range(1, MAX_REPLAY + 1)]
    await stream.leave()

    published(bus, "one-more")  # MAX_REPLAY + 1 missed since d0
    stream = Stream(api, SUPERVISOR, last_event_id=ids[0])
    assert await stream.status() == 200
    published(bus, "live")
    seen = await stream.events(until="live")
    assert [e["kind"] for e in seen] == ["stream.reset"]
    await stream.leave()
