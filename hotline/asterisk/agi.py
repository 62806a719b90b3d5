"""FastAGI: the server Asterisk connects to for each call, and the channel a call talks over.

panoramisk 1.4's FastAGI handler reads the AGI environment with an unbounded busy loop that
spins forever (freezing the whole event loop) when a peer closes early, and its requests
have no timeouts. This module keeps panoramisk's route table and reply parser and owns the
connection: bounded reads, deadlines on every exchange, and a typed hang-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk.fast_agi import Application
from panoramisk.utils import parse_agi_result

from hotline.metrics import AGI_SECONDS

log = logging.getLogger(__name__)

#: Largest AGI line accepted; Asterisk's environment lines are far shorter.
MAX_LINE = 4096
#: Largest whole environment (Asterisk sends about 30 lines).
MAX_ENVIRONMENT = 16 * 1024
#: Asterisk sends the environment at once; a peer that takes longer is not Asterisk.
ENVIRONMENT_TIMEOUT = 5.0
#: Connections served at once; more are closed at once rather than starving the loop.
MAX_CONNECTIONS = 2000
#: Variables without which a call cannot be served.
REQUIRED = ("agi_network_script", "agi_uniqueid", "agi_channel")


class AgiError(Exception):
    """The AGI peer broke the protocol or went silent."""


class CallerHungUp(Exception):
    """The caller hung up; the call's session ends."""


async def read_line(reader: asyncio.StreamReader, timeout: float) -> str:
    """One AGI line without its newline; raises AgiError on EOF, overlong lines or silence."""
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
    except TimeoutError:
        raise AgiError(f"no line within {timeout:g} s") from None
    except asyncio.IncompleteReadError as exc:
        raise AgiError(f"connection closed mid-line after {len(exc.partial)} bytes") from None
    except asyncio.LimitOverrunError:
        raise AgiError(f"line longer than {MAX_LINE} bytes") from None
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
    """Read the AGI environment up to its blank line, within ``timeout`` and ``limit`` bytes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    env: dict[str, str] = {}
    size = 0
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise AgiError(f"environment not complete within {timeout:g} s")
        line = await read_line(reader, left)
        if not line:
            return env
        size += len(line) + 1
        if size > limit:
            raise AgiError(f"environment larger than {limit} bytes")
        pair = parse_environment_line(line)
        if pair is not None:
            env[pair[0]] = pair[1]


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
        reply_timeout: float = 10.0,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.env = env
        self.reply_timeout = reply_timeout
        self.hung_up = False

    async def command(self, text: str, timeout: float | None = None) -> Reply:
        """Send one AGI command and return its reply (``timeout``: for long commands)."""
        if "\n" in text or "\r" in text:
            raise ValueError("an AGI command is one line")
        if self.hung_up:
            raise CallerHungUp()
        verb = text.split(" ", 1)[0]
        sent = time.perf_counter()
        self.writer.write(text.encode() + b"\n")
        try:
            await asyncio.wait_for(self.writer.drain(), self.reply_timeout)
        except (ConnectionError, TimeoutError):
            self.hung_up = True
            raise CallerHungUp() from None
        wait = timeout if timeout is not None else self.reply_timeout
        while True:
            try:
                line = await read_line(self.reader, wait)
            except AgiError as exc:
                if "closed" in str(exc):
                    self.hung_up = True
                    raise CallerHungUp() from None
                raise AgiError(f"{text.split()[0]}: {exc}") from None
            if line.startswith("520-"):  # a usage text follows, up to "520 End of ..."
                while not line.startswith("520 "):
                    line = await read_line(self.reader, self.reply_timeout)
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
            AGI_SECONDS.labels(verb).observe(time.perf_counter() - sent)
            result, data = parsed.get("result", ("", ""))
            extra = {k: v[0] for k, v in parsed.items() if isinstance(v, tuple) and k != "result"}
            return Reply(result, data or "", extra)

    async def stream_file(self, sound: str, escape: str, timeout: float) -> str | None:
        """Play ``sound``; return the key that interrupted it, if any."""
        reply = await self.command(f'STREAM FILE {sound} "{escape}"', timeout)
        return chr(reply.code) if reply.code > 0 else None

    async def wait_for_digit(self, seconds: float) -> str | None:
        reply = await self.command(f"WAIT FOR DIGIT {int(seconds * 1000)}", seconds + 10)
        return chr(reply.code) if reply.code > 0 else None

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

    async def get_variable(self, name: str) -> str:
        """A channel variable's value; "" when it is not set."""
        reply = await self.command(f"GET VARIABLE {name}")
        return reply.data if reply.result == "1" else ""

    async def set_variable(self, name: str, value: str) -> None:
        if '"' in value or "\\" in value:
            raise ValueError(f"unsafe value for {name}")
        await self.command(f'SET VARIABLE {name} "{value}"')

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


class FastAgiServer(Application):  # type: ignore[misc]
    """panoramisk's route table with a connection handler that cannot be frozen."""

    def __init__(
        self, on_rejected: Rejected | None = None, env_timeout: float = ENVIRONMENT_TIMEOUT
    ) -> None:
        super().__init__(loop=asyncio.get_running_loop())
        self.on_rejected = on_rejected
        self.env_timeout = env_timeout
        self.active = 0
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> asyncio.Server:
        self.server = await asyncio.start_server(self.handler, host, port, limit=MAX_LINE)
        return self.server

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self.active >= MAX_CONNECTIONS:
            log.warning("FastAGI: %d connections open, refusing %s", self.active, peer)
            writer.close()
            return
        self.active += 1
        channel: AgiChannel | None = None
        try:
            env = await read_environment(reader, self.env_timeout)
            channel = AgiChannel(reader, writer, env)
            missing = [name for name in REQUIRED if not env.get(name)]
            route = self._route.get(env.get("agi_network_script", ""))
            if missing or route is None:
                why = (
                    f"missing {', '.join(missing)}"
                    if missing
                    else (f"no route {env.get('agi_network_script')!r}")
                )
                log.warning("FastAGI from %s: %s", peer, why)
                if self.on_rejected is not None:
                    await self.on_rejected(channel, why)
                return
            await route(channel)
        except AgiError as exc:
            log.warning("FastAGI from %s: %s", peer, exc)
            if self.on_rejected is not None and channel is None:
                await self.on_rejected(None, str(exc))
        except CallerHungUp:
            pass
        except Exception:
            log.exception("FastAGI from %s: handler failed", peer)
        finally:
            self.active -= 1
            writer.close()


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
