"""The references of detention reports: unique across instances, the shared database decides.

A reference is read out to a family ("your report 482113 was received") and names the report
on every desk, so two reports must never share one; with a standby, two instances take
reports into one database. Each instance reserves a small pool of references ahead in the
database (``notification_refs``: an insert that its primary key refuses for a reference
anyone reserved before), and keeps the pool in its data folder (``references.json``), so a
report is still taken, with a reference nobody else has, while the database is briefly away or
after a restart. Only a pool run dry with the database away makes the instance choose one
alone: seven digits, never one the database hands out (six), said loudly in the log; the
projection never lets such a one overwrite another call's report
(:mod:`hotline.store.projection`). Alone on SQLite the same code runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
from collections.abc import Callable, Container
from datetime import UTC, datetime
from pathlib import Path

from hotline.store.db import Store
from hotline.store.journal import write_atomically

log = logging.getLogger(__name__)

#: References kept reserved ahead: reports taken during a database outage before one has to
#: be chosen alone (a busy night's detention line takes a few an hour).
POOL = 20
#: Refilled when fewer are left.
LOW = 10
#: Seconds between two tries to reserve while the database is away, at most.
RETRY_MAX = 30.0


def shared_candidate() -> str:
    """A reference the database may hand out: six digits."""
    return f"{secrets.randbelow(900_000) + 100_000}"


def lone_candidate() -> str:
    """A reference an instance chooses alone (seven digits: none the database hands out)."""
    return f"{secrets.randbelow(9_000_000) + 1_000_000}"


class References:
    """This instance's pool of reserved references."""

    def __init__(
        self,
        store: Store,
        data_dir: Path,
        instance: str,
        size: int = POOL,
        candidate: Callable[[], str] = shared_candidate,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.path = data_dir / "references.json"
        self.instance = instance
        self.size = size
        self.low = min(LOW, size // 2)
        self.candidate = candidate
        self.clock = clock
        self.pool: list[str] = self._load()
        self.wanted = asyncio.Event()
        #: The pool changed since it was last written; the thread's writer meanwhile.
        self._dirty = False
        self._writer: asyncio.Task[None] | None = None
        #: References chosen alone (the pool was empty): for /health and the tests.
        self.alone = 0

    def _load(self) -> list[str]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            log.error("%s unreadable (%s): references reserved there are not used", self.path, exc)
            return []
        return [str(r) for r in raw.get("pool", []) if isinstance(r, str)]

    def _save(self) -> None:
        """Keep the pool in its file: at once outside an event loop; inside one, in a thread
        (an fsync never on the loop: a caller's report takes a reference), the newest pool
        last (:meth:`saved`)."""
        self._dirty = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._dirty = False
            self._write(json.dumps({"pool": self.pool}))
            return
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_in_thread())

    async def saved(self) -> None:
        """Return once the pool as it is now is in its file (or could not be: logged)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _write_in_thread(self) -> None:
        while self._dirty:
            self._dirty = False
            await asyncio.to_thread(self._write, json.dumps({"pool": self.pool}))

    def _write(self, text: str) -> None:
        try:
            write_atomically(self.path, text)
        except OSError as exc:  # in memory it is right; a restart may offer one again (checked)
            log.error("%s not written: %s", self.path, exc)

    def take(self, taken: Container[str]) -> str:
        """A reference for a new report (``taken``: this instance's reports' references)."""
        while self.pool:
            ref = self.pool.pop(0)
            self._save()
            if len(self.pool) < self.low:
                self.wanted.set()
            if ref not in taken:  # (handed out before a crash kept the file from saying so)
                return ref
        self.wanted.set()
        while (ref := lone_candidate()) in taken:
            pass
        self.alone += 1
        log.error(
            "no reserved report reference left (the database away?): %s chosen by this "
            "instance alone; unique here, and the call log keeps it apart from any other",
            ref,
        )
        return ref

    async def fill(self) -> int:
        """Reserve references until the pool is full; how many were reserved (raises when the
        database is away)."""
        added = 0
        for _ in range(10):  # (each round's collisions are few: 20 of 900,000)
            missing = self.size - len(self.pool)
            if missing <= 0:
                break
            candidates = list(dict.fromkeys(self.candidate() for _ in range(missing)))
            got = await self.store.reserve_references(candidates, self.instance, self.clock())
            self.pool += [ref for ref in got if ref not in self.pool]
            added += len(got)
        if added:
            self._save()
            await self.saved()
        return added

    async def run(self, ready: asyncio.Event) -> None:
        """Keep the pool full, for ever (once the database's schema is in place); retry with
        backoff while the database is away."""
        await ready.wait()
        delay = 0.5
        self.wanted.set()
        while True:
            await self.wanted.wait()
            try:
                added = await self.fill()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("report references not reserved (%s); trying again", exc)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, RETRY_MAX)
                continue
            delay = 0.5
            if added:
                log.info("%d report reference(s) reserved (%d ready)", added, len(self.pool))
            if len(self.pool) >= self.size:
                self.wanted.clear()
            else:  # (a space nearly used up: tried again, slowly)
                await asyncio.sleep(RETRY_MAX)
