"""The FastAGI server over real sockets: peers that misbehave never freeze or crash it.

These play Asterisk's side of the protocol by hand to test the adapter alone; the menus
over a real Asterisk are proven in tests/integration.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from agents.state import LogIn, Reachability
from hotline.asterisk.agi import AgiChannel, AgiError, CallerHungUp, FastAgiServer
from hotline.asterisk.dialplan import Var
from hotline.calls.menus import CallService
from hotline.calls.switchboard import Switchboard
from hotline.config.deployment import Deployment
from hotline.config.loading import parse
from hotline.events import CallEvent, EventBus
from routing.events import CallEnded
from tests.unit.hotline.asterisk.test_agi_fuzz import Sink
from tests.unit.hotline.config.test_config import broken

ENV = (
    "agi_network: yes\nagi_network_script: call\nagi_request: agi://127.0.0.1/call\n"
    "agi_channel: PJSIP/trunk-00000001\nagi_uniqueid: 1700000000.1\n"
    "agi_callerid: 380501234567\nagi_extension: {number}\nagi_arg_1: cid-1\n\n"
)


class NoOperators:
    """Effects of a switchboard that has nobody to ring."""

    async def connect(
        self, channel: str, operator: str, ring_timeout: float, transferred: bool = False
    ) -> None:
        raise AssertionError("no operator is logged in here")

    async def move(self, channel: str, number: str = "") -> None:
        raise AssertionError("nobody is transferred here")

    async def callback(
        self, call: str, operator: str, number: str, attempt: int, ring_timeout: float
    ) -> None:
        raise AssertionError("no operator is logged in here")


class Peer:
    """Asterisk's side of one FastAGI session, scripted: replies to commands in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.commands: list[str] = []

    @classmethod
    async def open(cls, port: int) -> Peer:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def serve(
        self, replies: dict[str, str] | None = None, default: str = "200 result=0"
    ) -> list[str]:
        """Answer every command until the server closes the connection."""
        replies = replies or {}
        while line := await asyncio.wait_for(self.reader.readline(), 10):
            command = line.decode().strip()
            self.commands.append(command)
            reply = next(
                (r for prefix, r in replies.items() if command.startswith(prefix)), default
            )
            self.writer.write(reply.encode() + b"\n")
        self.writer.close()
        return self.commands


@pytest.fixture
async def events() -> list[CallEvent]:
    return []


class Ringing(NoOperators):
    """Effects that write down the rings asked of AMI."""

    def __init__(self) -> None:
        self.rung: list[tuple[str, str]] = []

    async def connect(
        self, channel: str, operator: str, ring_timeout: float, transferred: bool = False
    ) -> None:
        self.rung.append((channel, operator))


@contextlib.asynccontextmanager
async def serving(
    deployment: Deployment, events: list[CallEvent], board: Switchboard | None = None
) -> AsyncIterator[int]:
    """The calls' FastAGI route of ``deployment`` on a port of its own."""
    bus = EventBus()
    bus.subscribe(events.append)
    clock = lambda: datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # noqa: E731
    if board is None:
        board = Switchboard(deployment, bus, clock, NoOperators())
    board.bus = bus
    calls = CallService(deployment, bus, clock, board)
    agi = FastAgiServer(on_rejected=calls.reject, env_timeout=0.5)
    agi.add_route("call", calls.handle)
    srv = await agi.start("127.0.0.1", 0)
    try:
        yield srv.sockets[0].getsockname()[1]
    finally:
        srv.close()


@pytest.fixture
async def server(deployment: Deployment, events: list[CallEvent]) -> AsyncIterator[int]:
    async with serving(deployment, events) as port:
        yield port


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed the connection (a reset counts: it had unread data)."""
    try:
        return await asyncio.wait_for(reader.read(), 5) == b""
    except ConnectionResetError:
        return True


async def a_call_works(port: int) -> list[str]:
    """A proper session (direct number, no menu) is served to its end."""
    peer = await Peer.open(port)
    peer.writer.write(ENV.format(number="2145145").encode())
    commands = await asyncio.wait_for(peer.serve(), 10)
    # the time they were queued, then (last: the dialplan trusts it) the result, in one command
    assert re.fullmatch(r'EXEC MSet "HOTLINE_ENTERED=[0-9.]+,HOTLINE_RESULT=wait"', commands[-1])
    return commands


async def test_a_direct_number_is_routed(server: int, events: list[CallEvent]) -> None:
    commands = await a_call_works(server)
    assert 'STREAM FILE hotline/ka/welcome-rehabilitation ""' in commands
    # the caller's line, language and announcements in one round trip, before "please hold"
    assert 'EXEC MSet "HOTLINE_LINE=ge-rehabilitation,' in "\n".join(commands)
    assert [e.kind for e in events] == ["call.started", "call.routed", "call.queued"]
    assert events[0].fact.sip_call_id == "cid-1"


@pytest.mark.parametrize(("own", "seconds"), [({}, "30"), ({"announce_every": 10}, "10")])
async def test_a_routed_caller_hears_their_place_as_often_as_their_organisation_says(
    own: dict[str, int], seconds: str, events: list[CallEvent]
) -> None:
    """Set on the caller's channel, where [hotline-wait] reads it (the shared rule: 30 s)."""
    rules = parse(broken(lambda c: c["organisations"]["ge-rehabilitation"].update(queues=own)))
    async with serving(rules, events) as port:
        commands = await a_call_works(port)
    assert f'HOTLINE_ANNOUNCE_EVERY={seconds}"' in "\n".join(commands)


def with_operator_free(deployment: Deployment, operator: str) -> tuple[Switchboard, Ringing]:
    effects = Ringing()
    clock = lambda: datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # noqa: E731
    board = Switchboard(deployment, EventBus(), clock, effects)
    board.operator_event(operator, Reachability(True))
    board.operator_event(operator, LogIn())
    return board, effects


async def test_a_caller_routed_to_a_free_operator_rings_as_their_session_ends(
    deployment: Deployment, events: list[CallEvent]
) -> None:
    """The one round trip between "please hold" and the operator's phone: the dialplan
    dials (HOTLINE_RESULT=ring), no AMI Redirect of a channel in the middle of a session."""
    board, effects = with_operator_free(deployment, "gr1")
    async with serving(deployment, events, board) as port:
        commands = await Peer.open(port)
        commands.writer.write(ENV.format(number="2145145").encode())
        sent = await asyncio.wait_for(commands.serve(), 10)
    assert re.fullmatch(
        r'EXEC MSet "HOTLINE_ENTERED=[0-9.]+,HOTLINE_CONNECT=gr1\.[0-9]+,HOTLINE_RESULT=ring"',
        sent[-1],
    )
    assert not any(c.startswith("WAIT FOR DIGIT") for c in sent)  # (no stay for a Redirect)
    assert effects.rung == []
    assert board.operators["gr1"].state.value == "ringing"
    calls = [e.kind for e in events if e.kind.startswith("call.")]
    assert calls == ["call.started", "call.routed", "call.queued", "call.offered"]


async def test_a_ring_the_session_could_not_hand_on_leaves_the_caller_waiting(
    deployment: Deployment, events: list[CallEvent]
) -> None:
    board, _ = with_operator_free(deployment, "gr1")
    async with serving(deployment, events, board) as port:
        peer = await Peer.open(port)
        peer.writer.write(ENV.format(number="2145145").encode())
        await asyncio.wait_for(peer.serve({'EXEC MSet "HOTLINE_ENTERED': "510 Invalid"}), 10)
    call = events[0].call_id
    assert board.waits(call)  # offered again when an operator is free: by AMI, now
    assert board.operators["gr1"].state.value != "ringing"


async def test_connect_and_close_does_not_freeze(server: int) -> None:
    for _ in range(50):
        _, writer = await asyncio.open_connection("127.0.0.1", server)
        writer.close()
    await a_call_works(server)


async def test_half_sent_environment_then_close(server: int) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"agi_network: yes\nagi_channel: PJSIP/x")
    await writer.drain()
    writer.close()
    await a_call_works(server)


async def test_a_megabyte_without_a_newline_is_cut_off(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"x" * 1_000_000)
    await writer.drain()
    assert await closed_by_server(reader)
    writer.close()
    await a_call_works(server)


async def test_idle_connections_time_out_and_calls_go_on(server: int) -> None:
    idle = [await asyncio.open_connection("127.0.0.1", server) for _ in range(200)]
    await a_call_works(server)
    closed = await asyncio.gather(*(closed_by_server(reader) for reader, _ in idle))
    assert all(closed)
    for _, writer in idle:
        writer.close()


async def test_invalid_utf8_in_the_environment(server: int, events: list[CallEvent]) -> None:
    peer = await Peer.open(server)
    peer.writer.write(
        ENV.format(number="2145145")
        .replace("agi_callerid: 380501234567", "agi_callerid: \udcff\udcfe")
        .encode("utf-8", "surrogateescape")
    )
    await asyncio.wait_for(peer.serve(), 10)
    assert events[0].fact.caller == "\ufffd\ufffd"
    assert events[-1].kind == "call.queued"


async def test_malformed_environment_gets_an_apology(server: int, events: list[CallEvent]) -> None:
    peer = await Peer.open(server)
    peer.writer.write(b"agi_network: yes\nagi_network_script: call\nnonsense line\n\n")
    commands = await asyncio.wait_for(peer.serve(), 10)
    assert commands == [
        'STREAM FILE hotline/uk/sorry ""',
        'SET VARIABLE HOTLINE_RESULT "done"',
        "HANGUP",
    ]
    assert events[-1].fact == CallEnded("rejected", reason="missing agi_uniqueid, agi_channel")
    await a_call_works(server)


async def test_unknown_number_apologises_and_hangs_up(server: int, events: list[CallEvent]) -> None:
    peer = await Peer.open(server)
    peer.writer.write(ENV.format(number="999").encode())
    commands = await asyncio.wait_for(peer.serve(), 10)
    assert commands == [
        'STREAM FILE hotline/uk/unknown-number ""',
        'STREAM FILE hotline/en/unknown-number ""',
        'STREAM FILE hotline/ru/unknown-number ""',
        'STREAM FILE hotline/ka/unknown-number ""',
        'SET VARIABLE HOTLINE_RESULT "done"',
        "HANGUP",
    ]
    assert events[-1].fact.outcome == "unknown-number"


async def test_caller_hanging_up_in_the_menu_is_logged(
    server: int, events: list[CallEvent]
) -> None:
    peer = await Peer.open(server)
    peer.writer.write(ENV.format(number="0800213103").encode())
    await asyncio.wait_for(peer.serve(default="200 result=-1"), 10)
    assert events[-1].fact.outcome == "hung-up"


async def test_garbage_reply_fails_the_call_to_the_fallback(
    server: int, events: list[CallEvent]
) -> None:
    peer = await Peer.open(server)
    peer.writer.write(ENV.format(number="0800213103").encode())
    commands = await asyncio.wait_for(peer.serve(default="what is this"), 10)
    assert not any(c.startswith("SET VARIABLE HOTLINE_RESULT") for c in commands)
    assert events[-1].fact.outcome == "failed"
    await a_call_works(server)


async def channel_pair(script: bytes) -> tuple[AgiChannel, asyncio.Server]:
    """An AgiChannel whose peer sends ``script`` and then closes."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readline()
        writer.write(script)
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(peer, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.sockets[0].getsockname()[1])
    return AgiChannel(reader, writer, {}, reply_timeout=1), srv


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (b"HANGUP\n", CallerHungUp),
        (b"200 result=0 (hangup)\n", CallerHungUp),
        (b"511 Command Not Permitted on a dead channel\n", CallerHungUp),
        (b"200 res", CallerHungUp),  # EOF mid-reply
        (b"", CallerHungUp),
        (
            b"520-Invalid command syntax.  Proper usage follows:\nUsage: ...\n"
            b"520 End of proper usage.\n",
            AgiError,
        ),
        (b"510 Invalid or unknown command\n", AgiError),
        (b"\xff\xfe garbage\n", AgiError),
    ],
)
async def test_replies(script: bytes, error: type[Exception]) -> None:
    channel, srv = await channel_pair(script)
    with pytest.raises(error):
        await channel.command("WAIT FOR DIGIT 100")
    await channel.close()
    srv.close()


async def test_silent_peer_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; leaves when the client does
        writer.close()

    srv = await asyncio.start_server(silent, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.sockets[0].getsockname()[1])
    channel = AgiChannel(reader, writer, {}, reply_timeout=0.3)
    with pytest.raises(AgiError, match="no line within"):
        await channel.command("ANSWER")
    await channel.close()
    srv.close()


async def test_replies_with_trying_and_digits() -> None:
    channel, srv = await channel_pair(b"100 result=0 Trying...\n200 result=50 endpos=8000\n")
    assert await channel.stream_file("hotline/uk/main-menu", "0123456789*#", 5) == "2"
    await channel.close()
    srv.close()


def test_one_line_commands_only() -> None:
    channel = AgiChannel(None, None, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one line"):
        asyncio.run(channel.command("ANSWER\nHANGUP"))


async def test_a_session_stays_open_until_the_move_on_its_way_lands() -> None:
    """A caller rung at once: the session waits for the Redirect (Asterisk ends the wait with
    a hangup of the AGI); with no move on its way it waits for nothing."""
    commands: list[str] = []

    async def asterisk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in (b"200 result=0\n", b"200 result=0\n", b"HANGUP\n"):  # (moved: 3rd)
            commands.append((await reader.readline()).decode().strip())
            writer.write(reply)
            await writer.drain()
        await reader.read()
        writer.close()

    srv = await asyncio.start_server(asterisk, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.sockets[0].getsockname()[1])
    channel = AgiChannel(reader, writer, {}, reply_timeout=1)
    await channel.stay_while(lambda: False)
    assert commands == []
    await channel.stay_while(lambda: True)
    assert commands == ["WAIT FOR DIGIT 500"] * 3 and channel.hung_up
    await channel.close()
    srv.close()


@pytest.mark.parametrize(
    ("values", "sent"),
    [
        # one round trip where MSet reads the values as they are
        (
            {Var.LINE: "ua-consultation", Var.LANGUAGE: "uk"},
            ['EXEC MSet "HOTLINE_LINE=ua-consultation,HOTLINE_LANGUAGE=uk"'],
        ),
        # one by one where a value holds MSet's syntax (a separator, a space)
        (
            {Var.LINE: "a,b", Var.LANGUAGE: "uk"},
            ['SET VARIABLE HOTLINE_LINE "a,b"', 'SET VARIABLE HOTLINE_LANGUAGE "uk"'],
        ),
        ({Var.NUMBER: "0501 234"}, ['SET VARIABLE HOTLINE_NUMBER "0501 234"']),
    ],
)
async def test_several_variables_are_set_in_one_round_trip_when_it_is_safe(
    values: dict[Var, str], sent: list[str]
) -> None:
    reader = asyncio.StreamReader()
    written: list[str] = []

    class Writer:
        transport = Sink.transport

        def write(self, data: bytes) -> None:
            written.append(data.decode().rstrip("\n"))
            reader.feed_data(b"200 result=0\n")

        async def drain(self) -> None:
            pass

    channel = AgiChannel(reader, Writer(), {})  # type: ignore[arg-type]
    await channel.set_variables(values)
    assert written == sent


async def test_a_peer_that_stops_reading_ends_the_session_after_the_reply_timeout() -> None:
    class Stuck:
        """Asterisk's side stopped reading: what is written stays buffered."""

        class transport:
            @staticmethod
            def get_write_buffer_size() -> int:
                return 1 << 20

        def write(self, data: bytes) -> None:
            pass

        async def drain(self) -> None:
            await asyncio.Event().wait()

    channel = AgiChannel(asyncio.StreamReader(), Stuck(), {}, reply_timeout=0.05)  # type: ignore[arg-type]
    with pytest.raises(CallerHungUp):
        await channel.command("ANSWER")
    assert channel.hung_up
