"""Which instance is active: a lease in PostgreSQL, with a fencing number.

Several ``hotline serve`` share one config and one PostgreSQL; at any time at most one is
active (routes callers, acts on Asterisk, makes callbacks); the others are standby. The active
one holds the row of the ``leadership`` table: it renews the row's ``expires_at`` (the
database's clock, so the instances' clocks never matter) every third of the lease. A standby
takes the row once it has expired, and increases its ``fence``: every action of the new
leader carries that number, and Asterisk refuses a smaller one (the second wall).

The first wall is here: the leader counts its lease from when it *sent* the renewal that
succeeded, on its own monotonic clock, and stops acting a margin before that runs out. The
database expires the row no earlier than the commit of that renewal plus the lease: the old
leader has stopped before any standby may start. A process that was stopped (SIGSTOP) or cut
off finds, when it runs again, that its lease ran out, and acts no more.

Why PostgreSQL rather than etcd: the call log already requires it in production, with its own
replication; the lease is one row and two statements; a hotline run by a legal aid
organisation gains nothing from a third cluster to operate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

#: The name of the one lease (a column, so that one database could hold several services').
LEASE = "hotline"
#: Seconds between a standby's tries to take the lease, at most.
STANDBY_TRY = 0.25


@dataclass(frozen=True)
class Holder:
    """Who holds the lease, as the database says."""

    instance: str | None
    fence: int
    expires_at: datetime | None
    #: Where the holder's API answers.
    url: str | None = None


class PostgresLease:
    """The ``leadership`` row, with the database's clock (``clock_timestamp()``)."""

    def __init__(self, engine: AsyncEngine, name: str = LEASE, url: str = "") -> None:
        self.engine = engine
        self.name = name
        #: This instance's API, written with the lease it takes (a standby forwards there).
        self.url = url

    async def acquire(self, me: str, seconds: float) -> int | None:
        """Take the lease if nobody holds it (or its holder let it expire): the new fencing
        number; None while another instance holds it. One held under this instance's name is
        taken again, with a new number: a try whose answer never came (it timed out, and yet
        the database had it done), or this instance before a restart, never locks it out.
        While another holds it, this only reads (a standby asks four times a second)."""
        async with self.engine.begin() as connection:
            await self._never_frozen(connection, seconds)
            held = await connection.execute(
                text(
                    "SELECT 1 FROM leadership WHERE name = :name AND holder <> :me "
                    "AND expires_at > clock_timestamp()"
                ),
                {"name": self.name, "me": me},
            )
            if held.first() is not None:
                return None
            row = await connection.execute(
                text(
                    "INSERT INTO leadership (name, holder, fence, expires_at, url) "
                    "VALUES (:name, :me, 1, clock_timestamp() + make_interval(secs => :s), "
                    ":url) "
                    "ON CONFLICT (name) DO UPDATE SET holder = :me, url = :url, "
                    "fence = leadership.fence + 1, "
                    "expires_at = clock_timestamp() + make_interval(secs => :s) "
                    "WHERE leadership.expires_at <= clock_timestamp() OR leadership.holder = :me "
                    "RETURNING fence"
                ),
                {"name": self.name, "me": me, "s": seconds, "url": self.url or None},
            )
            fence = row.scalar()
        return int(fence) if fence is not None else None

    async def renew(self, me: str, fence: int, seconds: float) -> bool:
        """Extend the lease held under ``fence``; False when it is not ours any more (or it
        ran out: then it must be acquired again, with a new fencing number).

        Committed without waiting for the disk (``synchronous_commit`` off): a busy disk
        must not cost the leader its lease. A renewal lost in a crash of PostgreSQL itself
        could let a standby take over while the leader still acts, for the rest of one lease;
        the fencing number (taken with a synchronous commit, so it never repeats) is Asterisk's
        wall against exactly that."""
        async with self.engine.begin() as connection:
            await self._never_frozen(connection, seconds)
            await connection.execute(text("SET LOCAL synchronous_commit TO OFF"))
            row = await connection.execute(
                text(
                    "UPDATE leadership "
                    "SET expires_at = clock_timestamp() + make_interval(secs => :s) "
                    "WHERE name = :name AND holder = :me AND fence = :fence "
                    "AND expires_at > clock_timestamp() RETURNING fence"
                ),
                {"name": self.name, "me": me, "fence": fence, "s": seconds},
            )
            return row.scalar() is not None

    @staticmethod
    async def _never_frozen(connection: AsyncConnection, seconds: float) -> None:
        """A transaction on the lease's row that stops half-way (its process SIGSTOPped, or
        hung, between its UPDATE and its COMMIT) would hold the row's lock, and so the lease,
        for as long as it stays stopped: PostgreSQL ends its session after a third of the
        lease instead (and no instance waits on the row longer than that)."""
        limit = f"{max(100, int(seconds * 1000 / 3))}ms"
        for setting in ("idle_in_transaction_session_timeout", "lock_timeout"):
            await connection.execute(text(f"SET LOCAL {setting} = '{limit}'"))

    async def release(self, me: str, fence: int) -> None:
        """Give the lease up now (a stop): a standby takes over at its next try."""
        async with self.engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE leadership SET expires_at = clock_timestamp() "
                    "WHERE name = :name AND holder = :me AND fence = :fence"
                ),
                {"name": self.name, "me": me, "fence": fence},
            )

    async def holder(self) -> Holder:
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT holder, fence, expires_at, url FROM leadership "
                        "WHERE name = :name AND expires_at > clock_timestamp()"
                    ),
                    {"name": self.name},
                )
            ).first()
        return Holder(row[0], int(row[1]), row[2], row[3]) if row else Holder(None, 0, None)


class Leadership:
    """This instance's role. ``active`` is true only while the lease surely holds; the
    switchboard asks it before every action, the AMI client before every command that acts.

    ``on_active(fence)`` runs once the lease is taken (it sets the fence in Asterisk and
    rebuilds the queues); ``on_standby()`` once it is lost or given up; ``on_regained()`` once
    a renewal that came late (the database slow) brought the lease back after a moment in
    doubt, under the same fencing number."""

    def __init__(
        self,
        lease: PostgresLease | AloneLease,
        me: str,
        seconds: float = 3.0,
        on_active: Callable[[int], Awaitable[None]] | None = None,
        on_standby: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lease = lease
        self.me = me
        self.seconds = seconds
        #: Stop acting this long before the lease would end (clock rates, a slow statement).
        self.margin = seconds / 6
        #: How often a standby tries to take the lease: often, whatever the lease's length
        #: (one given up at a stop is taken at the next try; until then new callers wait in
        #: silence, and a key they press is lost)
        self.try_every = min(seconds / 6, STANDBY_TRY)
        self.on_active = on_active
        self.on_standby = on_standby
        self.on_regained: Callable[[], Awaitable[None]] | None = None
        self.clock = clock
        self.fence: int | None = None
        self._until = float("-inf")
        self.error: str | None = None
        #: Released at a stop: never taken again by this process.
        self.stopped = False
        #: The fencing number given up at the stop (the dialplan points at this instance
        #: under it until the next one has taken over).
        self.released: int | None = None
        #: ``on_active`` is running: the lease is held, the queue not rebuilt yet.
        self.taking_over = False
        if isinstance(lease, AloneLease):  # alone: active from the start, for good
            self.fence, self._until = 1, float("inf")

    @property
    def active(self) -> bool:
        return self.fence is not None and self.clock() < self._until

    @property
    def in_doubt(self) -> bool:
        """Its lease ran out here (no renewal answered in time) and may still come back:
        it acts on nothing meanwhile, and keeps what it sees for then."""
        return self.fence is not None and not self.stopped and not self.active

    def answers_for(self, fence: int) -> bool:
        """Whether the dialplan, pointing at the instance of fencing number ``fence`` (its
        HOTLINE_FENCE; 0 when no instance claimed it), points at this one: its lease's, or
        the one it gave up at a stop, until the next instance raises it. Alone, always."""
        if isinstance(self.lease, AloneLease):
            return True
        return fence in (self.fence, self.released)

    @property
    def role(self) -> str:
        """``active``; ``taking over`` while the queue is rebuilt from Asterisk and the
        database (it acts, but what it shows is not whole yet); ``standby``."""
        if not self.active:
            return "standby"
        return "taking over" if self.taking_over else "active"

    async def step(self) -> None:
        """One round: renew the lease held, or try to take it."""
        if self.stopped:
            return
        sent = self.clock()
        # a renewal may take what is left of the lease (a busy database commits slowly; a
        # late success still counts from when it was sent); a try to take it, a third
        limit = max(self.seconds / 3, self._until - sent)
        try:
            async with asyncio.timeout(limit):
                if self.fence is not None:
                    kept = await self.lease.renew(self.me, self.fence, self.seconds)
                    fence = self.fence if kept else None
                else:
                    fence = await self.lease.acquire(self.me, self.seconds)
            self.error = None
        except Exception as exc:  # the database away, or slow: the lease runs out on its own
            self.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            if self.fence is not None and not self.active:
                await self._step_down("its lease ran out while the database did not answer")
            return
        if self.stopped:
            return  # (released meanwhile: what it just took runs out unused)
        if fence is None:
            if self.fence is not None:
                await self._step_down("another instance holds the lease")
            return
        in_doubt = self.in_doubt
        self._until = sent + self.seconds - self.margin
        if in_doubt:
            log.warning("%s: its lease is back (fencing number %d)", self.me, fence)
            if self.on_regained is not None:
                await self.on_regained()
        if self.fence is None:
            self.fence = fence
            log.warning("%s is active (fencing number %d)", self.me, fence)
            if self.on_active is not None:
                self.taking_over = True
                try:
                    await self.on_active(fence)
                finally:
                    self.taking_over = False

    async def _step_down(self, why: str) -> None:
        log.warning("%s is standby: %s", self.me, why)
        self.fence, self._until = None, float("-inf")
        if self.on_standby is not None:
            await self.on_standby()

    async def run(self) -> None:
        """Renew every third of the lease (or try to take it, every ``try_every``), for ever;
        a lease found run out (the process was stopped) is given up before anything else."""
        while True:
            if self.fence is not None and not self.active:
                await self._step_down("its lease ran out (the process was stopped or slow)")
            await self.step()
            await asyncio.sleep(self.seconds / 3 if self.active else self.try_every)

    async def release(self) -> None:
        """At a stop: give the lease to a standby now (and never take it again)."""
        self.stopped = True
        fence = self.released = self.fence
        if fence is None:
            return
        self.fence, self._until = None, float("-inf")
        try:
            async with asyncio.timeout(2):
                await self.lease.release(self.me, fence)
        except Exception as exc:
            log.warning("lease not released (%s): a standby takes over once it ends", exc)


class AloneLease:
    """SQLite (a single machine's file): this instance is alone, and always active."""

    async def acquire(self, me: str, seconds: float) -> int | None:
        return 1

    async def renew(self, me: str, fence: int, seconds: float) -> bool:
        return True

    async def release(self, me: str, fence: int) -> None:
        return None

    async def holder(self) -> Holder:
        return Holder(None, 1, None)
