"""A TCP link that can go silent: a proxy between the service and AMI (or PostgreSQL) that, on
demand, drops every packet without closing anything, as a dead switch or a firewall would.

While silent it keeps what the client sends (as TCP would keep retransmitting it). When the
network comes back, what a still-open connection sent is delivered late, as TCP would deliver
it; what a connection that was reset sent is lost. So an AMI client that merely closes its link
would see a stale action carried out late; one that resets it would not. With
``hold_replies`` the other way too (what the server sent meanwhile arrives late, as with
PostgreSQL's answers to statements sent before the cut).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field


@dataclass
class _Pipe:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None
    held: bytearray = field(default_factory=bytearray)
    held_back: bytearray = field(default_factory=bytearray)
    reset: bool = False
    ended: bool = False
    back: asyncio.Task[None] | None = None


class SilentLink:
    """``127.0.0.1:<port>`` forwards to ``target`` until :meth:`go_silent`."""

    def __init__(self, target: tuple[str, int] | str, hold_replies: bool = False) -> None:
        #: (host, port), or the path of a Unix socket.
        self.target = target
        self.hold_replies = hold_replies
        self.port = 0
        self.silent = False
        #: Bytes sent while the link was silent and delivered after it came back.
        self.delivered_late = bytearray()
        #: Everything clients sent while the link was silent (delivered or not).
        self.sent_while_silent = bytearray()
        self._pipes: list[_Pipe] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> SilentLink:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def go_silent(self) -> None:
        self._loop.call_soon_threadsafe(setattr, self, "silent", True)

    def come_back(self) -> None:
        asyncio.run_coroutine_threadsafe(self._come_back(), self._loop).result(5)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # -- in the proxy's own thread --------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        for pipe in self._pipes:
            self._end(pipe)
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        if not self.silent:  # a silent network would not even answer the connect
            if isinstance(self.target, str):
                upstream = await asyncio.open_unix_connection(self.target)
            else:
                upstream = await asyncio.open_connection(*self.target)
        pipe = _Pipe(writer, upstream[1] if upstream else None)
        if upstream is not None:
            pipe.back = asyncio.create_task(self._back(upstream[0], pipe))
        self._pipes.append(pipe)
        try:
            while data := await reader.read(65536):
                if self.silent:
                    pipe.held += data
                    self.sent_while_silent += data
                elif pipe.upstream is not None:
                    pipe.upstream.write(data)
        except ConnectionResetError:
            pipe.reset = True
        pipe.ended = True
        if not self.silent:
            self._end(pipe)

    async def _back(self, reader: asyncio.StreamReader, pipe: _Pipe) -> None:
        try:
            while data := await reader.read(65536):
                if not self.silent:
                    pipe.client.write(data)
                elif self.hold_replies:
                    pipe.held_back += data
        except ConnectionError:
            pass
        pipe.client.close()

    async def _come_back(self) -> None:
        self.silent = False
        for pipe in self._pipes:
            if pipe.reset or pipe.upstream is None:
                pipe.held.clear()  # a reset (or a connection never made) loses its data
            elif pipe.held:
                self.delivered_late += pipe.held
                pipe.upstream.write(bytes(pipe.held))
                pipe.held.clear()
            if pipe.held_back:
                pipe.client.write(bytes(pipe.held_back))
                pipe.held_back.clear()
            if pipe.ended:
                self._end(pipe)
        self._pipes = [pipe for pipe in self._pipes if not pipe.ended]

    @staticmethod
    def _end(pipe: _Pipe) -> None:
        if pipe.upstream is not None:
            pipe.upstream.close()
        pipe.client.close()
