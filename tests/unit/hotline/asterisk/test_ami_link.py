"""The AMI connection (hotline/asterisk/ami.py's ``_Link``) against a scripted AMI server: the
greeting, a login, replies cut anywhere in the byte stream, list actions, events, and a
connection that goes away with an action unanswered. (The real Asterisk is the integration
tests': every one of them talks to it through this link.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import uvloop
from panoramisk.message import Message

from hotline.asterisk.ami import AmiClient, AmiNoReply, AmiUnavailable, _Link

GREETING = b"Asterisk Call Manager/11.0.0\r\n"


class Server:
    """An AMI server speaking as ``script`` says: it is given each action (a dict) and
    returns the bytes to answer with, split into chunks sent one by one."""

    def __init__(self, script: Callable[[dict[str, str]], list[bytes]]) -> None:
        self.script = script
        self.actions: list[dict[str, str]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(GREETING)
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            lines = raw.decode().strip().split("\r\n")
            action = dict(line.split(": ", 1) for line in lines)
            self.actions.append(action)
            for chunk in self.script(action):
                writer.write(chunk)
                await writer.drain()
                await asyncio.sleep(0)
        writer.close()


def reply(action: dict[str, str], *fields: str) -> bytes:
    return ("\r\n".join([*fields, f"ActionID: {action['ActionID']}"]) + "\r\n\r\n").encode()


def standard(action: dict[str, str]) -> list[bytes]:
    if action["Action"] == "Login":
        ok = action["Secret"] == "right"
        status = ("Response: Success", "Message: Authentication accepted")
        return [reply(action, *(status if ok else ("Response: Error", "Message: Auth failed")))]
    if action["Action"] == "Ping":  # cut in the middle of a header, and an event before it
        whole = b"Event: FullyBooted\r\nStatus: up\r\n\r\n" + reply(action, "Response: Success")
        return [whole[:7], whole[7:40], whole[40:]]
    if action["Action"] == "CoreShowChannels":
        return [
            reply(action, "Response: Success", "EventList: start", "Message: will follow"),
            reply(action, "Event: CoreShowChannel", "Channel: PJSIP/trunk-1"),
            reply(action, "Event: CoreShowChannelsComplete", "EventList: Complete"),
        ]
    return []  # (anything else: never answered)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Server, int]]:
    scripted = Server(standard)
    listening = await asyncio.start_server(scripted.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    yield scripted, port
    for writer in scripted.writers:
        writer.close()
    listening.close()
    await listening.wait_closed()


async def test_replies_and_events_are_told_apart_wherever_the_stream_is_cut(
    server: tuple[Server, int],
) -> None:
    scripted, port = server
    events: list[Message] = []
    link = await _Link.open("127.0.0.1", port, "hotline", "right", 2, events.append)
    assert link.version == "11.0.0" and scripted.actions[0]["Events"] == "on"
    pong = await link.send_action({"Action": "Ping"})
    assert pong.success and [e.event for e in events] == ["FullyBooted"]
    listed = await link.send_action({"Action": "CoreShowChannels"})
    assert [m.channel for m in listed if m.event == "CoreShowChannel"] == ["PJSIP/trunk-1"]
    assert [e.event for e in events] == ["FullyBooted"]  # a reply's events are not events
    link.reset()
    await asyncio.wait_for(link.lost, 2)


async def test_a_link_without_a_handler_asks_for_no_events(server: tuple[Server, int]) -> None:
    scripted, port = server
    link = await _Link.open("127.0.0.1", port, "guard", "right", 2)
    assert scripted.actions[0]["Events"] == "off"
    link.reset()


async def test_a_refused_login_says_so_and_leaves_nothing_open(server: tuple[Server, int]) -> None:
    scripted, port = server
    with pytest.raises(AmiUnavailable, match="login refused for user 'hotline': Auth failed"):
        await _Link.open("127.0.0.1", port, "hotline", "wrong", 2)
    await asyncio.sleep(0.1)
    assert all(w.is_closing() for w in scripted.writers)  # (the server saw it closed)


async def test_nobody_listening_is_a_clear_error() -> None:
    with pytest.raises(AmiUnavailable, match="cannot connect"):
        await _Link.open("127.0.0.1", 9, "hotline", "right", 2)


async def test_an_action_unanswered_when_the_link_goes_fails_at_once(
    server: tuple[Server, int],
) -> None:
    """Not after its timeout, and never replayed on a later link: Asterisk may have done it."""
    scripted, port = server
    link = await _Link.open("127.0.0.1", port, "hotline", "right", 2)
    pending = link.send_action({"Action": "Redirect", "Channel": "PJSIP/trunk-1"})
    await asyncio.sleep(0.1)
    scripted.writers[0].close()
    with pytest.raises(AmiNoReply, match="connection lost"):
        await asyncio.wait_for(pending, 2)
    assert link.lost.done()
    with pytest.raises(AmiUnavailable, match="closed"):
        link.send_action({"Action": "Ping"})


async def test_a_handler_that_fails_costs_one_event_not_the_link(
    server: tuple[Server, int],
) -> None:
    _, port = server

    def broken(event: Message) -> None:
        raise RuntimeError("bug")

    link = await _Link.open("127.0.0.1", port, "hotline", "right", 2, broken)
    assert (await link.send_action({"Action": "Ping"})).success  # the event came before it
    assert not link.lost.done()
    link.reset()


async def test_the_client_reconnects_and_counts_its_connections(
    server: tuple[Server, int],
) -> None:
    scripted, port = server
    client = AmiClient("127.0.0.1", port, "hotline", "right", backoff=(0.05, 0.1))
    task = asyncio.create_task(client.run())
    try:
        async with asyncio.timeout(5):
            while not client.connected:
                await asyncio.sleep(0.01)
            assert (await client.action({"Action": "Ping"})).success
            scripted.writers[0].close()  # Asterisk restarts
            while client.connects < 2 or not client.connected:
                await asyncio.sleep(0.01)
        assert (await client.action({"Action": "Ping"})).success
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_link_runs_on_the_services_event_loop() -> None:
    """`hotline serve` runs on uvloop, whose transports are no asyncio.Transport subclass."""

    async def main() -> bool:
        listening = await asyncio.start_server(Server(standard).serve, "127.0.0.1", 0)
        port = listening.sockets[0].getsockname()[1]
        link = await _Link.open("127.0.0.1", port, "hotline", "right", 2)
        pong = await link.send_action({"Action": "Ping"})
        link.reset()
        listening.close()
        return bool(pong.success)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(main())
