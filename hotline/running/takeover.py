"""An instance becoming the active one, and standing down: :class:`Takeover`, called by the
leadership (hotline/running/leadership.py) and on every reconnection to Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from hotline.asterisk.ami import AmiEffects
from hotline.calls.announcements import Announcements
from hotline.calls.switchboard import Switchboard
from hotline.config.deployment import Deployment
from hotline.config.settings import Settings
from hotline.reports.escalations import Escalations
from hotline.running.interrupted import Interrupted
from hotline.running.leadership import Leadership
from hotline.running.merging import Merger
from hotline.running.shared import shared_announcements, shared_escalations
from hotline.store.db import Store
from hotline.store.queuelog import QueueLogFile

log = logging.getLogger(__name__)


@dataclass
class Takeover:
    """What an instance does as the leadership makes it the active one (and on every
    reconnection to Asterisk while it is), gives it back a lease it doubted, or makes it
    stand down."""

    settings: Settings
    deployment: Deployment
    leadership: Leadership
    effects: AmiEffects
    switchboard: Switchboard
    escalations: Escalations
    interrupted: Interrupted
    store: Store
    merger: Merger
    queue_log: QueueLogFile | None = None
    #: The lines' recorded announcements (read back from the database as it takes over).
    announcements: Announcements | None = None

    async def resync(self) -> None:
        """After (re)connecting to Asterisk (or taking over): every operator phone's state now,
        and the calls that ended while the service was not listening; with a standby
        (HOTLINE_HA), Asterisk is told that this instance is the active one, the callers
        waiting there are queued here in their first order, and the calls ended unseen are
        looked for a few seconds later. A standby does nothing."""
        if not self.leadership.active:
            return
        effects = self.effects
        if self.settings.ha:  # every caller queued before any phone counts as free: by priority
            await self.claim()
            self.switchboard.reconcile(await effects.channels())
            self.switchboard.adopt(*await effects.callers())
        for phone in await effects.phones(self.deployment.operators):
            self.switchboard.phone(phone)
        await self.escalations.resume()
        if not self.settings.ha:
            self.switchboard.reconcile(await effects.channels())
            await self.interrupted.close()
        else:  # in a while: how the last instance's calls ended is still on its way to the log
            self.interrupted.soon()

    async def claim_if_active(self) -> None:
        """After the dialplan was reloaded (its globals back to the rendered ones): with a
        standby, Asterisk is told again that this instance is the active one."""
        if self.settings.ha and self.leadership.active:
            await self.claim()

    async def claim(self) -> None:
        """Point the dialplan at this instance and raise Asterisk's fencing number to this
        lease's: actions of a deposed instance carry a smaller one."""
        secret = self.settings.agi_secret.get_secret_value()
        fence = self.leadership.fence
        assert fence is not None  # (active)
        agi = f"{self.settings.agi_address()}/{secret}"
        await self.effects.claim(fence, self.settings.takeover_seconds(), agi)

    async def keep_claim(self, every: float = 5.0) -> None:
        """With a standby: every ``every`` seconds, the active instance checks that Asterisk
        still holds its fencing number, and claims the dialplan again if not (a `dialplan
        reload` puts the globals back as rendered: the fence at 0, FastAGI at the first
        instance's address)."""
        while True:
            await asyncio.sleep(every)
            fence = self.leadership.fence
            if not self.leadership.active or not self.effects.ami.connected or fence is None:
                continue
            try:
                if await self.effects.fence() != fence:
                    log.warning("Asterisk's dialplan globals were reset (a reload?): set again")
                    await self.claim()
            except Exception as exc:  # Asterisk away: its reconnection claims again
                log.info("cannot check Asterisk's dialplan globals: %s", exc)

    async def taken_over(self, fence: int, within: float) -> bool:
        """(A stopping instance, its lease given up) whether another instance has raised
        Asterisk's fencing number over ``fence``, i.e. has pointed the dialplan at itself,
        within ``within`` seconds."""
        try:
            async with asyncio.timeout(within):
                while True:
                    with contextlib.suppress(Exception):  # Asterisk away: asked again
                        if await self.effects.fence() > fence:
                            return True
                    await asyncio.sleep(0.1)
        except TimeoutError:
            return False

    async def take_over(self, fence: int) -> None:
        """This instance became the active one: the queue as the database and Asterisk hold
        it (operators' states, callbacks not made, notifications, callers waiting), then it
        acts."""
        self.switchboard.reset()
        self.switchboard.witnessing = True
        self.escalations.stand_down()
        if self.queue_log is not None:
            self.queue_log.start(self.switchboard.clock())
        try:
            channels = await self.effects.channel_list()
        except Exception as exc:  # Asterisk away: its reconnection resyncs
            log.warning("taking over (fencing number %d): %s", fence, exc)
            return
        # what the database holds: now, and again and again while active
        # (hotline/running/merging.py)
        await self.merger.take_over(channels)
        try:
            await self.escalations_learnt()
        except Exception as exc:  # Asterisk keeps each report's last call: see resume()
            log.error("taking over without the database's escalations (%s)", exc)
        if self.announcements is not None and self.settings.ha:
            try:
                await self.announcements.adopt(await shared_announcements(self.store))
            except Exception as exc:  # (its own, as it last knew them, are played)
                log.error("taking over without the database's announcements (%s)", exc)
        try:
            await self.resync()
        except Exception as exc:  # Asterisk away: its reconnection resyncs
            log.warning("taking over (fencing number %d): %s", fence, exc)

    async def escalations_learnt(self) -> None:
        """The open reports' escalations as the shared database holds them, taken in; and
        an escalation for each open report that has none yet (one another instance took)."""
        shared = await shared_escalations(self.store, self.deployment)
        self.escalations.adopt(shared)
        if self.leadership.active and self.effects.ami.connected:
            await self.escalations.ensure(self.escalations.open_reports())

    async def regained(self) -> None:
        """The lease is back after a moment in doubt: what was seen meanwhile is applied."""
        self.switchboard.resume()

    async def stand_down(self) -> None:
        """Another instance is active now: this one forgets its queue and acts no more."""
        self.switchboard.reset()
        self.escalations.stand_down()
        if self.queue_log is not None:
            self.queue_log.stand_down()
