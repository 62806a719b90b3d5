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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError

from hotline.events import CallEvent, EventBus
from hotline.figures.metrics import CALL_LOG_WRITE
from hotline.store.db import Store
from hotline.store.spool import Spool

log = logging.getLogger(__name__)

#: Events per database transaction.
BATCH = 500
#: Seconds the writer lets events gather after the first one wakes it: a burst then costs one
#: transaction and one fsync, not one per event (the events are in the spool meanwhile). 0.2 s
#: rather than 0.05 s: at 100 calls/s that took the service's CPU per call from 4.7 to 3.4 ms
#: (bench, 2026-12-05); the API shows a call at most that much later.
LINGER = 0.2
#: The spool is synced to disk at most this long after an event, database or not (group
#: commit: one fsync for every event of those 50 ms).
SYNC_EVERY = 0.05
#: Seconds between two tries to write to a full disk.
DISK_RETRY = 1.0
#: Events kept in memory while the disk is full (about 100 MB); past it the oldest are lost,
#: loudly: a service that runs out of memory loses them all.
UNWRITTEN_MAX = 200_000


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
        #: Events the spool could not take (a full disk), in order, until it can.
        self._unwritten: deque[CallEvent] = deque()
        #: Why the spool cannot be written now (None: it can).
        self.disk_error: str | None = None
        self._syncing: asyncio.TimerHandle | None = None
        self._retrying: asyncio.TimerHandle | None = None
        #: The sync under way in a thread (an fsync may take seconds on a busy disk: never on
        #: the event loop, where every call would wait for it).
        self._sync_task: asyncio.Task[None] | None = None

    def attach(self, bus: EventBus) -> None:
        """Subscribe to the bus, numbering calls that were under way before a restart on."""
        bus.resume(self.spool.last_seq())
        bus.subscribe(self)

    def __call__(self, event: CallEvent) -> None:
        if len(self._unwritten) >= UNWRITTEN_MAX:
            lost = self._unwritten.popleft()
            log.critical("call log: the disk is full for too long; event %s lost", lost.id)
        self._unwritten.append(event)
        self._spool_out()
        self._flushed.clear()
        self._wake.set()

    def _spool_out(self) -> None:
        """Append to the spool what it does not hold yet, in order; on a full disk keep it in
        memory and try again every second."""
        self._retrying = None
        while self._unwritten:
            try:
                self.spool.append(self._unwritten[0])
            except OSError as exc:
                self._disk_failed(exc)
                self._later("_retrying", DISK_RETRY, self._spool_out)
                return
            self._unwritten.popleft()
            self._wake.set()
        self._later("_syncing", SYNC_EVERY, self._start_sync)

    async def close(self) -> None:
        """At a stop: the spool synced and closed (what a full disk kept out is lost: said)."""
        for handle in (self._syncing, self._retrying):
            if handle is not None:
                handle.cancel()
        if self._sync_task is not None:
            await asyncio.wait([self._sync_task])
        if self._unwritten:
            log.critical(
                "call log: %d events could not be written (the disk is full) and are lost",
                len(self._unwritten),
            )
        try:
            await asyncio.to_thread(self.spool.sync)
        except OSError as exc:
            log.error("call log: the spool could not be synced at the stop: %s", exc)
        self.spool.close()

    def _start_sync(self) -> None:
        """The timer's sync: in a thread, one at a time (one asked meanwhile follows it)."""
        self._syncing = None
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.get_running_loop().create_task(self._sync())
        else:
            self._later("_syncing", SYNC_EVERY, self._start_sync)

    async def _sync(self) -> None:
        try:
            await asyncio.to_thread(self.spool.sync)
        except OSError as exc:
            self._disk_failed(exc)
            return
        if self.disk_error is not None and not self._unwritten:
            log.warning("call log: the spool is writable again")
            self.disk_error = None

    def _disk_failed(self, exc: OSError) -> None:
        reason = f"{exc.strerror or exc} ({self.spool.folder})"
        if self.disk_error is None:
            log.error("call log: cannot write the spool: %s; events kept in memory", reason)
        self.disk_error = reason

    def _later(self, slot: str, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` in ``delay`` seconds, once however often asked meanwhile."""
        if getattr(self, slot) is not None:
            return
        setattr(self, slot, asyncio.get_running_loop().call_later(delay, action))

    @property
    def backlog(self) -> int:
        """Events not in the database yet (in the spool, or in memory on a full disk)."""
        return self.spool.backlog + len(self._unwritten)

    @property
    def unwritten(self) -> int:
        """Events held in memory because the disk is full."""
        return len(self._unwritten)

    async def caught_up(self, timeout: float) -> bool:
        """Wait until the database is ready and holds every event published so far."""
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            return False
        return await self.flush(timeout)

    async def flush(self, timeout: float) -> bool:
        """Wait until the database holds every event published so far (False: timed out)."""
        if not self.backlog:
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
            if not self.backlog:
                self._flushed.set()
            self._wake.clear()
            if not self.spool.backlog:
                await self._wake.wait()
                await asyncio.sleep(self.linger)

    @property
    def written(self) -> int:
        return self.state.written

    async def _drain(self) -> None:
        while True:
            events, after, lines = self.spool.read(self.spool.sent, BATCH)
            if after == self.spool.sent:
                return
            if events:
                await self._write(events)
            if self.spool.advance(after, lines):
                await asyncio.to_thread(self.spool.mark)

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
