"""FastAGI: the server Asterisk connects to for each call, and the channel a call talks over.

panoramisk 1.4's FastAGI handler reads the AGI environment with an unbounded busy loop that
spins forever (freezing the whole event loop) when a peer closes early, and its requests
have no timeouts. This module uses only panoramisk's public reply parser and owns the rest:
the route table, bounded reads, deadlines on every exchange, a bounded number of connections
that are not calls, and a typed hang-up. (Over 400 lines: the server, the channel and the call's
IO over it are one protocol.)
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk.utils import parse_agi_result

from hotline.asterisk.dialplan import Result, Var
from hotline.figures.metrics import AGI_SECONDS
from hotline.running.logs import CALL

log = logging.getLogger(__name__)

#: Largest AGI line accepted (the streams' limit); Asterisk's lines are far shorter.
MAX_LINE = 4096
#: Largest whole environment, in characters (Asterisk sends about 30 short lines).
MAX_ENVIRONMENT = 16 * 1024
#: Most lines in an environment: about 30, and one per argument of AGI() in the dialplan.
#: Lines already buffered are read without yielding, so this bounds a peer's hold on the loop.
MAX_ENVIRONMENT_LINES = 200
#: Asterisk sends the environment at once; a peer that takes longer is not Asterisk.
ENVIRONMENT_TIMEOUT = 5.0
#: Deadline of a command's reply when the command sets none.
REPLY_TIMEOUT = 10.0
#: Lines one reply may take ("100 Trying", a "520-" usage text of a dozen lines, the reply);
#: bounds the work a peer can queue up: lines already buffered are read without yielding.
MAX_REPLY_LINES = 100
#: Connections waiting to be accepted (the listen queue); asyncio also accepts up to this many
#: in one turn of the loop.
BACKLOG = 100
#: Connections that are not calls (yet): sending their environment, or being turned away.
#: Past this many the oldest is dropped: Asterisk sends its environment as soon as it connects,
#: so the oldest is the likeliest scan or attack, and a flood of idle peers cannot lock calls
#: out. Over twice BACKLOG: the loop reads a call's environment (sent on connect) before it has
#: admitted two more batches of newcomers, so a burst cannot push the call out.
MAX_UNROUTED = 256
#: How long turning a connection away (``on_rejected``: an apology, a hang-up) may take.
REJECT_TIMEOUT = 30.0
#: Connections served at once; more are closed at once rather than starving the loop.
MAX_CONNECTIONS = 2000
#: Variables without which a call cannot be served.
REQUIRED = ("agi_network_script", "agi_uniqueid", "agi_channel")
#: How long a session waits, at most, for a move on its way (AgiChannel.stay_while), and how
#: often it looks whether the move is still on its way.
MOVE_WAIT = 5.0
MOVE_POLL = 0.5
#: A value ``set_variables`` may set with MSet: no separator, quote, backslash or space (MSet
#: splits at , and |, strips quotes and reads backslashes).
MSET_VALUE = re.compile(r"[A-Za-z0-9_.:+@-]*")


class AgiError(Exception):
    """The AGI peer broke the protocol or went silent."""


class PeerClosed(AgiError):
    """The peer closed or reset the connection."""


class CallerHungUp(Exception):
    """The caller hung up; the call's session ends."""


async def read_line(reader: asyncio.StreamReader, timeout: float | None) -> str:
    """One AGI line without its newline; raises AgiError on EOF, overlong lines or silence.

    The line's length is bounded by the reader's ``limit`` (asyncio raises LimitOverrunError
    past it and stops reading from the socket at twice it), so a peer cannot make it buffer more.
    """
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
    except TimeoutError:
        raise AgiError(f"no line within {timeout:g} s") from None
    except asyncio.IncompleteReadError as exc:
        raise PeerClosed(f"connection closed mid-line after {len(exc.partial)} bytes") from None
    except asyncio.LimitOverrunError as exc:
        raise AgiError(f"line too long: no newline in {exc.consumed} bytes") from None
    except OSError as exc:  # a reset (RST) from the peer
        raise PeerClosed(f"connection lost: {exc.strerror or exc}") from None
    # Asterisk sends UTF-8, but a caller's name can hold anything: never fail on it.
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def parse_environment_line(line: str) -> tuple[str, str] | None:
    """``agi_name: value`` -> (name, value); None for a line that is not a variable."""
    name, sep, value = line.partition(": ")
    if not sep or not name.startswith("agi_") or not name.isascii() or " " in name:
        return None
    return name, value


async def read_environment(
    reader: asyncio.StreamReader,
    timeout: float = ENVIRONMENT_TIMEOUT,
    limit: int = MAX_ENVIRONMENT,
) -> dict[str, str]:
    """Read the AGI environment up to its blank line, within ``timeout``, ``limit`` characters
    and MAX_ENVIRONMENT_LINES lines.

    One deadline for the whole environment, so a peer trickling a byte at a time is cut off too.
    """
    env: dict[str, str] = {}
    size = lines = 0
    try:
        async with asyncio.timeout(timeout):
            while line := await read_line(reader, None):
                size += len(line) + 1
                lines += 1
                if size > limit:
                    raise AgiError(f"environment larger than {limit} characters")
                if lines > MAX_ENVIRONMENT_LINES:
                    raise AgiError(f"environment longer than {MAX_ENVIRONMENT_LINES} lines")
                pair = parse_environment_line(line)
                if pair is not None:
                    env[pair[0]] = pair[1]
    except TimeoutError:
        raise AgiError(f"environment not complete within {timeout:g} s") from None
    return env


@dataclass(frozen=True)
class Reply:
    """A parsed AGI reply: ``200 result=<result> (<data>)``."""

    result: str
    data: str = ""
    extra: Mapping[str, str] | None = None

    @property
    def code(self) -> int:
        try:
            return int(self.result)
        except ValueError:
            return 0


class AgiChannel:
    """One call's AGI session: commands with deadlines, replies parsed, hang-up typed."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        env: Mapping[str, str],
        reply_timeout: float = REPLY_TIMEOUT,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.env = env
        self.reply_timeout = reply_timeout
        self.hung_up = False

    # what Asterisk said of the call as it connected (a routed session has all three of
    # REQUIRED; the rest may be missing)
    @property
    def call(self) -> str:
        """The channel's uniqueid: a caller's, the call's id."""
        return self.env.get("agi_uniqueid", "")

    @property
    def name(self) -> str:
        """The channel's name (``PJSIP/trunk-00000012``), as AMI actions name it."""
        return self.env.get("agi_channel", "")

    @property
    def extension(self) -> str:
        """The number dialled."""
        return self.env.get("agi_extension", "")

    @property
    def caller(self) -> str:
        """The caller's number, as the carrier gave it."""
        return self.env.get("agi_callerid", "") or "unknown"

    @property
    def caller_name(self) -> str:
        return self.env.get("agi_calleridname", "")

    def arg(self, n: int) -> str:
        """The dialplan's ``n``th argument to the route (1-based; "" when not given)."""
        return self.env.get(f"agi_arg_{n}", "")

    async def command(self, text: str, timeout: float | None = None) -> Reply:
        """Send one AGI command and return its reply.

        ``timeout`` (for long commands; else ``reply_timeout``) bounds the whole reply, however
        many "100 Trying" or usage lines come before it.
        """
        if "\n" in text or "\r" in text:
            raise ValueError("an AGI command is one line")
        if self.hung_up:
            raise CallerHungUp()
        verb = text.split(" ", 1)[0]
        sent = time.perf_counter()
        self.writer.write(text.encode() + b"\n")
        # a line nearly always leaves at once (loopback, a few bytes): waiting for the buffer
        # to drain only when it holds something saves a timer and a task a command
        if self.writer.transport.get_write_buffer_size():
            try:
                await asyncio.wait_for(self.writer.drain(), self.reply_timeout)
            except (ConnectionError, TimeoutError):
                self.hung_up = True
                raise CallerHungUp() from None
        wait = timeout if timeout is not None else self.reply_timeout
        try:
            async with asyncio.timeout(wait):
                reply = await self._reply(text)
        except TimeoutError:
            raise AgiError(f"{verb}: no line within {wait:g} s") from None
        AGI_SECONDS.labels(verb).observe(time.perf_counter() - sent)
        return reply

    async def _line(self, text: str) -> str:
        try:
            return await read_line(self.reader, None)
        except PeerClosed:
            self.hung_up = True
            raise CallerHungUp() from None
        except AgiError as exc:
            raise AgiError(f"{text.split()[0]}: {exc}") from None

    async def _reply(self, text: str) -> Reply:
        usage = False  # in a usage text: "520-...", then lines up to "520 End of ..."
        for _ in range(MAX_REPLY_LINES):
            line = await self._line(text)
            if usage or line.startswith("520-"):
                usage = not line.startswith("520 ")
                if usage:
                    continue
                raise AgiError(f"{text!r}: Asterisk rejected the command's syntax")
            try:
                parsed: dict[str, Any] = parse_agi_result(line)
            except (ValueError, TypeError):
                raise AgiError(f"{text!r}: unreadable reply {line[:80]!r}") from None
            if parsed.get("status_code") == 100:  # "100 Trying...": the reply follows
                continue
            error = parsed.get("error")
            # HANGUP, "(hangup)", result=-1 and 511 all mean the channel is gone.
            if error in ("AGIResultHangup", "AGIAppError") or parsed.get("status_code") == 511:
                self.hung_up = True
                raise CallerHungUp()
            if error is not None:
                raise AgiError(f"{text!r}: {error} {parsed.get('msg', '')}".strip())
            result, data = parsed.get("result", ("", ""))
            extra = {k: v[0] for k, v in parsed.items() if isinstance(v, tuple) and k != "result"}
            return Reply(result, data or "", extra)
        raise AgiError(f"{text.split()[0]}: no reply in {MAX_REPLY_LINES} lines")

    async def stream_file(self, sound: str, escape: str, timeout: float) -> str | None:
        """Play ``sound``; return the key that interrupted it, if any."""
        reply = await self.command(f'STREAM FILE {sound} "{escape}"', timeout)
        return chr(reply.code) if reply.code > 0 else None

    async def wait_for_digit(self, seconds: float) -> str | None:
        reply = await self.command(f"WAIT FOR DIGIT {int(seconds * 1000)}", seconds + 10)
        return chr(reply.code) if reply.code > 0 else None

    async def stay_while(self, pending: Callable[[], bool], seconds: float = MOVE_WAIT) -> None:
        """Keep the session open while ``pending()`` says a move of this channel is on its
        way (the Redirect that rings an operator), ``seconds`` at most: the move ends the
        session as it lands. (A Redirect that lands just as an AGI script ends can be lost by
        Asterisk 22: the dialplan falls through, and the caller is hung up.)"""
        deadline = time.monotonic() + seconds
        try:
            while pending() and (left := deadline - time.monotonic()) > 0:
                await self.wait_for_digit(min(MOVE_POLL, left))
        except CallerHungUp:
            pass  # moved (or gone)

    async def get_data(self, sound: str, seconds: float, max_digits: int) -> str:
        """Play ``sound`` and collect up to ``max_digits`` keys (# ends); "" on silence."""
        reply = await self.command(
            f"GET DATA {sound} {int(seconds * 1000)} {max_digits}", seconds + 120
        )
        return "".join(ch for ch in reply.result if ch in "0123456789*#")

    async def record_file(self, path: str, seconds: float, silence: float) -> None:
        """Record the caller into ``path``.wav after a beep; # or ``silence`` s of quiet ends."""
        await self.command(
            f'RECORD FILE {path} wav "#" {int(seconds * 1000)} 0 BEEP s={int(silence)}',
            seconds + 30,
        )

    async def get_variable(self, name: Var) -> str:
        """A channel variable's value; "" when it is not set."""
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == "1" else ""

    async def set_variable(self, name: Var, value: str) -> None:
        if '"' in value or "\\" in value:
            raise ValueError(f"unsafe value for {name}")
        await self.command(f'SET VARIABLE {name} "{value}"')

    async def set_variables(self, values: Mapping[Var, str]) -> None:
        """Several channel variables, in order, in one round trip (the MSet application);
        one by one when a value holds anything MSet would read as syntax."""
        if len(values) > 1 and all(MSET_VALUE.fullmatch(v) for v in values.values()):
            pairs = ",".join(f"{name}={value}" for name, value in values.items())
            await self.command(f'EXEC MSet "{pairs}"')
            return
        for name, value in values.items():
            await self.set_variable(name, value)

    async def result(self, result: Result) -> None:
        """HOTLINE_RESULT: what the dialplan does once the route returns (set last: the
        dialplan takes the call as handled only once it is set)."""
        await self.set_variable(Var.RESULT, result)

    async def record_conversation(self, path: str) -> None:
        """Record the channel's conversation into ``path`` (MixMonitor's ``b``: only while
        bridged; ``a``: appended to, so that a transferred caller's next talk follows)."""
        await self.command(f'EXEC MixMonitor "{path},ab"')

    async def hangup(self) -> None:
        try:
            await self.command("HANGUP")
        except CallerHungUp:
            pass

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (ConnectionError, TimeoutError):
            pass


Handler = Callable[[AgiChannel], Awaitable[None]]
#: Told of a connection that never became a call (bad peer, scan, broken environment).
Rejected = Callable[[AgiChannel | None, str], Awaitable[None]]


class FastAgiServer:
    """The routes the dialplan calls, served by a connection handler that cannot be frozen.

    Every limit a peer could abuse is bounded (defaults: the module's constants):

    - ``max_line``: bytes in one line (the streams' limit; past it the connection is closed);
    - ``env_timeout`` and ``max_environment``: time and characters for the whole environment;
    - ``max_unrouted``: connections that are not calls yet (sending their environment, or being
      turned away by ``on_rejected``); a new one past it drops the oldest (keep it over twice
      BACKLOG, or a burst accepted with a call could drop the call);
    - ``reject_timeout``: time ``on_rejected`` may take with a connection;
    - ``reply_timeout``: a command's reply, unless the command sets its own deadline;
    - ``max_connections``: connections at once, calls included; more are refused.

    Every connection that does not become a call is closed with a warning naming why.

    Only Asterisk may talk to it: a peer whose address is not in ``peers`` is reset at once,
    and a session whose script does not start with ``secret`` (the dialplan calls
    ``agi://host:port/<secret>/<route>``) is closed unheard. (None: no such check, for tests
    of the other limits.)
    """

    def __init__(
        self,
        on_rejected: Rejected | None = None,
        env_timeout: float = ENVIRONMENT_TIMEOUT,
        *,
        secret: str | None = None,
        peers: Collection[str] | None = None,
        max_line: int = MAX_LINE,
        max_environment: int = MAX_ENVIRONMENT,
        max_unrouted: int = MAX_UNROUTED,
        reject_timeout: float = REJECT_TIMEOUT,
        reply_timeout: float = REPLY_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        #: The route of each script (``agi://host:port/<secret>/<route>``).
        self.routes: dict[str, Handler] = {}
        self.on_rejected = on_rejected
        self.env_timeout = env_timeout
        self.max_line = max_line
        self.max_environment = max_environment
        self.max_unrouted = max_unrouted
        self.reject_timeout = reject_timeout
        self.reply_timeout = reply_timeout
        self.max_connections = max_connections
        self.secret = secret
        self.peers = None if peers is None else frozenset(map(ipaddress.ip_address, peers))
        #: Whether this instance serves a route now (the leadership's ``active``, or a
        #: stopping instance's reports of how its calls end); a session refused is closed
        #: with HOTLINE_RESULT=retry, and the dialplan tries again.
        self.may_serve: Callable[[str], bool] = lambda script: True
        self.active = 0
        self._sessions: set[asyncio.Task[Any]] = set()
        #: The calls being served now (a session's channel, once routed, and its task).
        self._serving: dict[AgiChannel, asyncio.Task[Any] | None] = {}
        # Connections that are not calls, oldest first (a dict keeps insertion order).
        self._unrouted: dict[asyncio.StreamWriter, None] = {}
        self.server: asyncio.Server | None = None

    def add_route(self, path: str, handler: Handler) -> None:
        """Serve the dialplan's ``AGI(${HOTLINE_AGI}/<path>)`` with ``handler``."""
        self.routes[path] = handler

    async def start(self, host: str, port: int) -> asyncio.Server:
        self.server = await asyncio.start_server(
            self.handler, host, port, limit=self.max_line, backlog=BACKLOG
        )
        return self.server

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if not self.admits(peer):
            log.warning("FastAGI from %s: not a configured Asterisk address; closed", peer)
            writer.transport.abort()
            return
        if self.active >= self.max_connections:
            log.warning("FastAGI: %d connections open, refusing %s", self.active, peer)
            writer.close()
            return
        self.active += 1
        self._admit(writer)
        session = asyncio.current_task()
        if session is not None:
            self._sessions.add(session)
        try:
            await self._serve(reader, writer, peer)
        except asyncio.CancelledError:
            # let go at a stop (retry_elsewhere, or the loop's end): this task is asyncio's
            # server's own, whose callback (Python 3.11) reports a cancelled one as an error
            pass
        finally:
            if session is not None:
                self._sessions.discard(session)
            self._unrouted.pop(writer, None)
            self.active -= 1
            writer.close()

    def retry_elsewhere(self) -> int:
        """At a stop beside a standby: every call still being served is told to try again
        (HOTLINE_RESULT=retry, queued behind the command under way) and let go, so that its
        dialplan takes it to the instance taking over instead of the fallback queue (a caller
        in the menus starts them again there). Their sessions end here without a word in the
        call log: the call goes on. Returns how many."""
        for channel, task in self._serving.items():
            channel.writer.write(f'SET VARIABLE {Var.RESULT} "{Result.RETRY}"\n'.encode())
            channel.writer.close()
            if task is not None:
                task.cancel()
        return len(self._serving)

    async def drain(self, timeout: float) -> int:
        """Let the sessions under way finish (a caller handed over at a stop ends their
        message); returns how many were still going after ``timeout`` seconds."""
        if not self._sessions:
            return 0
        _, pending = await asyncio.wait(set(self._sessions), timeout=timeout)
        return len(pending)

    def admits(self, peer: object) -> bool:
        """Whether ``peer`` (a socket's peer name) is one of the configured Asterisk addresses."""
        if self.peers is None:
            return True
        try:
            address = ipaddress.ip_address(peer[0] if isinstance(peer, tuple) else str(peer))
        except ValueError:
            return False
        mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual socket
        return address in self.peers or (mapped is not None and mapped in self.peers)

    def route_of(self, script: str) -> str | None:
        """The route a session asks for, once its secret is checked: the dialplan calls
        ``agi://host:port/<secret>/<route>``. None: a wrong or missing secret."""
        if self.secret is None:
            return script
        given, _, route = script.partition("/")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            return None
        return route

    def _admit(self, writer: asyncio.StreamWriter) -> None:
        """Count a new connection as not a call yet; past the limit, drop the oldest such."""
        self._unrouted[writer] = None
        if len(self._unrouted) > self.max_unrouted:
            oldest = next(iter(self._unrouted))
            del self._unrouted[oldest]
            log.warning(
                "FastAGI from %s: dropped, over %d connections are not calls",
                oldest.get_extra_info("peername"),
                self.max_unrouted,
            )
            oldest.transport.abort()  # its handler reads EOF and ends

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: object
    ) -> None:
        channel: AgiChannel | None = None
        try:
            env = await read_environment(reader, self.env_timeout, self.max_environment)
            script = self.route_of(env.get("agi_network_script", ""))
            if script is None:
                # not our Asterisk: no apology, no record, nothing it could change
                log.warning("FastAGI from %s: wrong or missing secret; closed", peer)
                return
            env["agi_network_script"] = script
            CALL.set(env.get("agi_uniqueid") or None)  # (on every line logged serving it)
            channel = AgiChannel(reader, writer, env, self.reply_timeout)
            missing = [name for name in REQUIRED if not env.get(name)]
            route = self.routes.get(script)
            if not missing and route is not None:
                self._unrouted.pop(writer, None)
                if not self.may_serve(script):  # a standby: the dialplan tries the active one
                    log.info("FastAGI %s of %s: standby, not served", script, env["agi_uniqueid"])
                    await channel.result(Result.RETRY)
                    return
                self._serving[channel] = asyncio.current_task()
                try:
                    await route(channel)
                finally:
                    self._serving.pop(channel, None)
                return
            why = (
                f"missing {', '.join(missing)}"
                if missing
                else f"no route {env.get('agi_network_script')!r}"
            )
            log.warning("FastAGI from %s: %s", peer, why)
            if self.on_rejected is not None:
                try:
                    async with asyncio.timeout(self.reject_timeout):
                        await self.on_rejected(channel, why)
                except TimeoutError:
                    log.warning(
                        "FastAGI from %s: turning it away took over %g s", peer, self.reject_timeout
                    )
        except AgiError as exc:
            log.warning("FastAGI from %s: %s", peer, str(exc))  # a record must not pin the frames
            if self.on_rejected is not None and channel is None:
                await self.on_rejected(None, str(exc))
        except CallerHungUp:
            pass
        except Exception:
            log.exception("FastAGI from %s: handler failed", peer)


class AgiCallIO:
    """The ivr's CallIO over an AGI channel; prompts live under ``sounds/<folder>/<lang>/``."""

    #: Longest a single prompt may play before the exchange is deemed stuck.
    PROMPT_TIMEOUT = 120.0

    def __init__(self, channel: AgiChannel, folder: str = "hotline") -> None:
        self.channel = channel
        self.folder = folder

    def sound(self, language: str, name: str) -> str:
        return f"{self.folder}/{language}/{name}"

    async def ask(self, prompts: Any, timeout: float) -> str | None:
        for prompt in prompts:
            key = await self.channel.stream_file(
                self.sound(prompt.language, prompt.name), "0123456789*#", self.PROMPT_TIMEOUT
            )
            if key is not None:
                return key
        return await self.channel.wait_for_digit(timeout)

    async def collect(self, prompt: Any, seconds: float, max_digits: int) -> str:
        return await self.channel.get_data(
            self.sound(prompt.language, prompt.name), seconds, max_digits
        )

    async def say(self, prompts: Any) -> None:
        for prompt in prompts:
            await self.channel.stream_file(
                self.sound(prompt.language, prompt.name), "", self.PROMPT_TIMEOUT
            )
