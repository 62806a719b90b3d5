"""The deliverer: on the active instance only, sends what the outbox holds that is due, each
message through its channel's door, and records what became of it.

A message that fails is tried again after an exponential backoff with jitter (10 s, 20 s, 40 s,
... at most an hour apart by default), for at least ``give_up_after`` (24 hours by default)
since it was written; then it is given up, loudly (an ERROR in the log, a counter in
/metrics). Sending never blocks a call: it is this task's work, each try with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.figures import metrics
from hotline.outbound.door import DeliveryFailed, Door, recipient
from hotline.store.outbox import OutboxMessageRow, OutboxStore, Standing

log = logging.getLogger(__name__)

#: Messages sent at the same time, at most (a slow receiver holds one of them, not the rest).
IN_FLIGHT = 16
#: Seconds between two looks at the outbox when nothing woke the deliverer (a message
#: written by another instance, a retry that came due).
POLL = 1.0
#: Seconds between two counts of what is pending (for /health and /metrics).
COUNT_EVERY = 5.0
#: What sets each channel's door up, for the error of a message that has none.
SETTING = {
    "sms": "HOTLINE_SMS_URL",
    "email": "HOTLINE_SMTP_HOST",
    "webhook": "HOTLINE_WEBHOOK_SECRET_<ORGANISATION>",
}


@dataclass(frozen=True)
class RetryPolicy:
    """When a failed message is tried again, and when it is given up."""

    #: Seconds before the first retry; each next wait doubles, up to ``longest``.
    first: float = 10.0
    longest: float = 3600.0
    #: Seconds since a message was written after which a failure gives it up.
    give_up_after: float = 86400.0

    def delay(self, failures: int, draw: float, asked: float | None = None) -> float:
        """Seconds to wait after the ``failures``-th failure (``draw``: a random number in
        [0, 1): the wait is between half and all of the backoff, so that many messages failed
        together do not come back together); at least what the receiver ``asked``."""
        backoff = min(self.longest, self.first * 2.0 ** min(failures - 1, 40))
        wait = backoff * (0.5 + draw / 2)
        return max(wait, min(asked, self.longest)) if asked is not None else wait


@dataclass
class Tally:
    """What this instance's deliverer has done since its start, and its last error."""

    delivered: int = 0
    failed: int = 0
    given_up: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    #: What the database said of the outbox at the last count (None: not counted yet).
    standing: Standing | None = None
    counted_at: datetime | None = None


class Deliverer:
    """Sends the outbox's due messages while ``active()`` (this instance holds the lease)."""

    def __init__(
        self,
        store: OutboxStore,
        doors: Mapping[str, Door],
        active: Callable[[], bool],
        me: str,
        policy: RetryPolicy = RetryPolicy(),
        timeout: float = 15.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.doors = doors
        self.active = active
        self.me = me
        self.policy = policy
        self.timeout = timeout
        self.clock = clock
        self.draw = draw
        #: A claim outlasts a try and its writing: nobody else sends the message meanwhile.
        self.lease = timedelta(seconds=2 * timeout + 30)
        self.tally = Tally()
        #: The same, each organisation's own (what its tokens see in /health).
        self.tallies: dict[str, Tally] = {}
        self._wake = asyncio.Event()
        #: The sends under way, and the message each holds a claim on.
        self._flying: dict[asyncio.Task[None], int] = {}

    def wake(self) -> None:
        """Something was written to the outbox: look now rather than at the next poll."""
        self._wake.set()

    async def run(self, ready: asyncio.Event) -> None:
        """Forever, once the database's schema is in place: claim what is due and send it."""
        await ready.wait()
        counted = float("-inf")
        loop = asyncio.get_running_loop()
        failures = 0
        was_active = False
        while True:
            self._wake.clear()
            try:
                if loop.time() - counted >= COUNT_EVERY:
                    await self.count()
                    counted = loop.time()
                active = self.active()
                if active and not was_active:
                    await self._inherit()
                was_active = active
                room = IN_FLIGHT - len(self._flying)
                if active and room > 0:
                    for row in await self.store.claim(self.me, self.clock(), self.lease, room):
                        task = asyncio.create_task(self._deliver(row), name=f"outbox-{row.n}")
                        self._flying[task] = row.n
                        task.add_done_callback(self._landed)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: the messages wait in it
                failures += 1
                if failures == 1:
                    log.warning("outbox: cannot read the outbox (%s); trying again", _why(exc))
                await asyncio.sleep(min(30.0, POLL * 2**failures))
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL)

    async def _inherit(self) -> None:
        """Just become active: the claims another instance (or this one's previous process)
        left end once a send it had begun must be over (it sent nothing after its lease ran
        out, and a send lasts ``timeout`` at most), not at their lease's end."""
        until = self.clock() + timedelta(seconds=self.timeout + 1)
        cut = await self.store.shorten_claims(until, keep=self._flying.values())
        if cut:
            log.info(
                "outbox: %d message(s) claimed before this instance was active: free at %s",
                cut,
                until.isoformat(timespec="seconds"),
            )

    def _landed(self, task: asyncio.Task[None]) -> None:
        self._flying.pop(task, None)
        self._wake.set()  # room for more, and the key's next message may be due now

    async def stop(self) -> None:
        """At a stop: let the messages in flight finish (a few seconds at most)."""
        if self._flying:
            await asyncio.wait(list(self._flying), timeout=5)

    async def count(self) -> None:
        self.tally.standing = await self.store.standing()
        self.tally.counted_at = self.clock()

    async def _deliver(self, row: OutboxMessageRow) -> None:
        message = row.message
        where = f"{message.channel} to {recipient(message.channel, message.to)}"
        door = self.doors.get(message.channel)
        failed: DeliveryFailed
        try:
            if door is None:
                raise DeliveryFailed(f"no {message.channel} door ({SETTING[message.channel]})")
            async with asyncio.timeout(self.timeout):
                await door.send(message)
        except DeliveryFailed as exc:
            failed = exc
        except TimeoutError:
            failed = DeliveryFailed(f"no answer within {self.timeout:g} s")
        except Exception as exc:  # a door's bug: tried again, and said
            log.exception("outbox: %s (%s) failed unexpectedly", message.id, where)
            failed = DeliveryFailed(_why(exc))
        else:
            try:
                await self.store.delivered(row.n, self.clock())
            except Exception as exc:  # sent, not recorded: sent again once its claim ends
                log.warning("outbox: %s delivered, not recorded (%s)", message.id, _why(exc))
            for tally in self._tallies(message.organisation):
                tally.delivered += 1
            metrics.OUTBOX_DELIVERED.labels(message.organisation, message.channel).inc()
            log.info("outbox: %s %s (%s) delivered", where, message.id, message.organisation)
            return
        await self._failed(row, where, failed)

    async def _failed(self, row: OutboxMessageRow, where: str, failed: DeliveryFailed) -> None:
        message, now = row.message, self.clock()
        failures = row.attempts + 1
        age = (now - row.created_at).total_seconds()
        give_up = failed.permanent or age >= self.policy.give_up_after
        wait = self.policy.delay(failures, self.draw(), failed.retry_after)
        why = str(failed)
        for tally in self._tallies(message.organisation):
            tally.failed += 1
            tally.last_error = f"{where} ({message.organisation}): {why}"
            tally.last_error_at = now
        metrics.OUTBOX_FAILURES.labels(message.organisation, message.channel).inc()
        try:
            await self.store.failed(row.n, why, now + timedelta(seconds=wait), now, give_up)
        except Exception as exc:  # tried again once its claim ends
            log.warning("outbox: %s: its failure not recorded (%s)", message.id, _why(exc))
            return
        if give_up:  # (counted once it is recorded so: the table and the counts agree)
            for tally in self._tallies(message.organisation):
                tally.given_up += 1
            metrics.OUTBOX_GIVEN_UP.labels(message.organisation, message.channel).inc()
            log.error(
                "outbox: GIVEN UP after %d tries over %.0f s: %s %s (%s): %s",
                failures,
                age,
                where,
                message.id,
                message.organisation,
                why,
            )
        else:
            log.warning(
                "outbox: %s %s (%s) failed (try %d): %s; next try in %.1f s",
                where,
                message.id,
                message.organisation,
                failures,
                why,
                wait,
            )
        if not give_up and wait < POLL:  # (a later one is found by the polls)
            asyncio.get_running_loop().call_later(wait, self.wake)

    def _tallies(self, organisation: str) -> tuple[Tally, Tally]:
        """The instance's tally and the organisation's."""
        return self.tally, self.tallies.setdefault(organisation, Tally())

    def health(self, organisation: str | None = None) -> dict[str, Any]:
        """For /health: what is pending by channel, how old the oldest is, the last error;
        of every organisation, or of ``organisation`` only (what its tokens see)."""
        now, standing = self.clock(), self.tally.standing
        tally = self.tally if organisation is None else self.tallies.get(organisation, Tally())
        pending: dict[str, int] = dict.fromkeys(sorted(self.doors), 0)
        oldest: datetime | None = None
        for p in standing.pending if standing else ():
            if organisation is not None and p.organisation != organisation:
                continue
            pending[p.channel] = pending.get(p.channel, 0) + p.count
            oldest = p.oldest if oldest is None else min(oldest, p.oldest)
        return {
            "doors": sorted(self.doors),
            "pending": pending,
            "oldest_pending_seconds": (now - oldest).total_seconds() if oldest else None,
            "delivered": tally.delivered,
            "failed": tally.failed,
            "given_up": tally.given_up,
            "last_error": tally.last_error,
            "last_error_at": tally.last_error_at.isoformat() if tally.last_error_at else None,
        }

    def gauges(self) -> list[tuple[str, str, int, float]]:
        """(organisation, channel, pending, age of the oldest in seconds) for /metrics, on
        the active instance only (a standby's count is the same database's: not its to say)."""
        standing = self.tally.standing
        if standing is None or not self.active():
            return []
        now = self.clock()
        return [
            (p.organisation, p.channel, p.count, (now - p.oldest).total_seconds())
            for p in standing.pending
        ]


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
