"""With a standby: the active instance keeps merging what other instances wrote late.

An instance cut off from the database goes on taking reports and promising callbacks: they are
in its own journal and spool, and reach PostgreSQL only when it can write again (as a standby,
or after a restart), after another instance took over and read the database. So the active
instance reads the open callbacks and notifications again every :data:`EVERY` seconds for as
long as it is active (not only once, at takeover), and takes in what it does not know: a
report learnt (or closed, when another instance closed it), a callback queued, to be made
once: never one it holds, nor one that ended here. The read at takeover is the first round;
if it failed (the database away), the next rounds try it again whole, who was logged in or
paused included.

Why for as long as it is active, rather than until every other instance's backlog is empty:
it cannot know of a backlog that is not written anywhere yet (an instance that died with one
writes it when it starts again, days later perhaps), and a round costs little: two indexed
reads of the open rows (measured on PostgreSQL, 200 open callbacks and 200 open reports among
100,000 closed ones: 9.4 ms a round at the median, so under 0.5% of a core every 2 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from agents.state import State
from hotline.asterisk.messages import Channel
from hotline.calls.switchboard import Switchboard
from hotline.config.deployment import Deployment
from hotline.events import CallEvent, EventBus
from hotline.reports.notifications import NotificationStore
from hotline.running import shared as found
from hotline.store.db import Store
from routing.events import CallEnded
from routing.signals import Restore

log = logging.getLogger(__name__)

#: Seconds between two rounds.
EVERY = 2.0
#: Calls that ended here remembered (a callback ended here is never taken in again, though
#: the database may still say it is open until this instance's own spool reaches it).
ENDED_KEPT = 10_000


@dataclass(frozen=True)
class Merged:
    """What a round took in."""

    callbacks: int = 0
    notifications: int = 0
    operators: int = 0


class Merger:
    """The active instance's rounds of reading the shared database."""

    def __init__(
        self,
        store: Store,
        deployment: Deployment,
        switchboard: Switchboard,
        notifications: NotificationStore,
        channels: Callable[[], Awaitable[Sequence[Channel]]],
        active: Callable[[], bool],
        every: float = EVERY,
    ) -> None:
        self.store = store
        self.deployment = deployment
        self.switchboard = switchboard
        self.notifications = notifications
        self.channels = channels
        self.active = active
        self.every = every
        #: Told after a later round that learnt reports (their escalations go on here).
        self.learnt: Callable[[], Awaitable[None]] | None = None
        #: Whether who was logged in or paused was read at this takeover.
        self.presence_read = False
        self._ended: dict[str, None] = {}
        self._lock = asyncio.Lock()
        self._failing: str | None = None

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(self._seen)

    def _seen(self, event: CallEvent) -> None:
        if isinstance(event.fact, CallEnded) and event.call_id:
            self._ended[event.call_id] = None
            while len(self._ended) > ENDED_KEPT:
                del self._ended[next(iter(self._ended))]

    async def take_over(self, channels: Sequence[Channel]) -> None:
        """The first round, as this instance takes over (``channels``: Asterisk's now)."""
        self.presence_read = False
        try:
            merged = await self.merge(channels)
        except Exception as exc:  # the callers still come first: they are in Asterisk
            log.error(
                "taking over without the database (%s): read again every %g s until it answers "
                "(operators logged in, callbacks not made, notifications)",
                exc,
                self.every,
            )
            return
        log.info(
            "taking over: %d operator(s) logged in or paused, %d callback(s) to make, "
            "%d notification(s) learnt",
            merged.operators,
            merged.callbacks,
            merged.notifications,
        )

    async def merge(self, channels: Sequence[Channel] | None = None) -> Merged:
        """One round: what the database holds that this instance does not know, taken in.
        Raises when the database does not answer."""
        async with self._lock:
            board, notifications = self.switchboard, self.notifications
            known_open = [n.ref for n in notifications.items.values() if n.handled_at is None]
            shared = await found.shared_notifications(self.store, known_open)
            presence = {} if self.presence_read else await found.shared_presence(self.store)
            rows = await self.store.open_callbacks()
            if not self.active():
                return Merged()  # (stood down meanwhile: the active one merges)
            notified = notifications.merge(shared)
            known = {*board.callbacks, *board.waiting, *board.talks, *self._ended}
            new = [row for row in rows if row[0].call_id not in known]
            if new and channels is None:
                channels = await self.channels()
            pending = found.pending(new, self.deployment, channels or ())
            if not self.presence_read:  # (late, an operator who logged in meanwhile stays)
                presence = {
                    op: kept
                    for op, kept in presence.items()
                    if op in board.operators and board.operators[op].state is State.LOGGED_OUT
                }
            if presence or pending:
                board.restore(Restore(presence, pending))
            if pending and self.presence_read:
                log.warning(
                    "%d callback(s) another instance wrote late taken in: %s",
                    len(pending),
                    ", ".join(p.call for p in pending),
                )
            self.presence_read = True
            return Merged(len(pending), notified, len(presence))

    async def run(self) -> None:
        """A round every :attr:`every` seconds while this instance is active and holds a
        queue, for ever; a round that fails is tried again at the next."""
        while True:
            await asyncio.sleep(self.every)
            if not self.active() or not self.switchboard.witnessing:
                continue
            try:
                merged = await self.merge()
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                if why != self._failing:  # once per cause, not every round
                    log.warning("cannot read the shared database (%s): trying again", why)
                self._failing = why
                continue
            if self._failing is not None:
                log.info("the shared database answers again (%s)", merged)
                self._failing = None
            if merged.notifications and self.learnt is not None:
                try:
                    await self.learnt()
                except Exception as exc:
                    log.warning("reports learnt late: %s; again at the next round", exc)
