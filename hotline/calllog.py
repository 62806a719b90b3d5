"""The call log: the event stream, spooled to local disk as it happens, written to the
database behind it.

Publishing an event costs the call one short local file write; everything else (the database,
its outages, its schema migrations) happens in the writer task. While the database is away the
spool grows; when it returns, the writer catches up in order. Nothing is written twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from hotline.events import CallEvent, EventBus
from hotline.metrics import CALL_LOG_WRITE
from hotline.spool import Spool
from hotline.store.db import Store

log = logging.getLogger(__name__)

#: Events per database transaction.
BATCH = 500
#: Seconds the writer lets events gather after the first one wakes it: a burst then costs one
#: transaction and one fsync, not one per event (the events are in the spool meanwhile).
LINGER = 0.05


@dataclass
class WriterState:
    """How the call log's writing goes (for /health and the logs)."""

    connected: bool = False
    error: str | None = None
    written: int = 0


class CallLog:
    """Subscriber of the event stream (spooled at once) and writer to the store (behind)."""

    def __init__(
        self, spool: Spool, store: Store, retry_max: float = 10.0, linger: float = LINGER
    ) -> None:
        self.spool = spool
        self.store = store
        self.retry_max = retry_max
        self.linger = linger
        self.state = WriterState()
        self._wake = asyncio.Event()
        self._flushed = asyncio.Event()
        #: Set once the database's schema is in place.
        self.ready = asyncio.Event()

    def attach(self, bus: EventBus) -> None:
        """Subscribe to the bus, numbering calls that were under way before a restart on."""
        bus.resume(self.spool.last_seq())
        bus.subscribe(self)

    def __call__(self, event: CallEvent) -> None:
        self.spool.append(event)
        self._flushed.clear()
        self._wake.set()

    @property
    def backlog(self) -> int:
        return self.spool.backlog

    async def caught_up(self, timeout: float) -> bool:
        """Wait until the database is ready and holds every event published so far."""
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            return False
        return await self.flush(timeout)

    async def flush(self, timeout: float) -> bool:
        """Wait until the database holds every event published so far (False: timed out)."""
        if not self.spool.backlog:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._flushed.wait()
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Write the spool to the database, forever; retry with backoff while it is away."""
        delay = 0.5
        prepared = False
        while True:
            try:
                if not prepared:
                    revision = await self.store.upgrade()
                    prepared = True
                    self.ready.set()
                    log.info("call log: %s at revision %s", self.store.describe(), revision)
                await self._drain()
                if not self.state.connected:
                    log.info("call log: database reachable; %d events written", self.written)
                self.state.connected, self.state.error, delay = True, None, 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                prepared = False  # a database back from an outage may be a new, empty one
                self._failed(exc, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, self.retry_max)
                continue
            if not self.spool.backlog:
                self._flushed.set()
            self.spool.sync()
            self._wake.clear()
            if not self.spool.backlog:
                await self._wake.wait()
                await asyncio.sleep(self.linger)

    @property
    def written(self) -> int:
        return self.state.written

    async def _drain(self) -> None:
        while True:
            events, after = self.spool.read(self.spool.sent, BATCH)
            if after == self.spool.sent:
                return
            if events:
                await self._write(events)
            self.spool.commit(after, len(events))

    async def _write(self, events: list[CallEvent]) -> None:
        try:
            started = time.perf_counter()
            self.state.written += await self.store.write(events)
            CALL_LOG_WRITE.observe(time.perf_counter() - started)
            return
        except Exception as exc:
            if not refused(exc):
                raise  # the database is away: run() waits and retries
        # The database refused something in this batch: find it and set it aside.
        for event in events:
            try:
                self.state.written += await self.store.write([event])
            except Exception as exc:
                if not refused(exc):
                    raise
                log.error(
                    "call log: %s event %s cannot be written, set aside in the spool's "
                    "rejected.jsonl: %s: %s",
                    event.kind,
                    event.id,
                    type(exc).__name__,
                    exc,
                )
                self.spool.reject(json.dumps(event.as_json(), ensure_ascii=False, default=str))

    def _failed(self, exc: Exception, delay: float) -> None:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if self.state.connected or self.state.error is None:
            log.warning(
                "call log: database unreachable (%s); events kept in the spool, retrying", reason
            )
        self.state.connected, self.state.error = False, reason
        log.debug("call log: next try in %.1f s (%d events spooled)", delay, self.backlog)


def refused(exc: Exception) -> bool:
    """Whether retrying cannot help: the database refused the data, or the data broke the
    projection. Only a database that is away (or lost its tables) is worth waiting for."""
    if isinstance(exc, OSError | TimeoutError):
        return False
    return not isinstance(exc, DBAPIError) or isinstance(exc, DataError | IntegrityError)
