"""Retention, on the active instance: every day (and at start), each organisation's data past
its time is removed (hotline/lifecycle/policy.py says what is due): conversation recordings
deleted from the vault, then reports (their messages from the vault, their records from the
notifications file, their numbers and notes from the call log), then the call log's records
(pseudonymised or deleted, their recordings and messages gone from the vault first); the
database's files and the event spool are then left with nothing of what was removed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from hotline.calls.recordings import Recorder
from hotline.config.deployment import Deployment
from hotline.lifecycle.policy import due, erased, pseudonym
from hotline.reports.escalations import Escalations
from hotline.reports.notifications import NotificationStore
from hotline.store import lifecycle
from hotline.store.calllog import CallLog
from hotline.store.db import Store
from hotline.vault import Vault

log = logging.getLogger(__name__)

#: Seconds between two rounds, and before a failed round (the database away) is tried again.
DAY = 24 * 3600.0
RETRY = 3600.0
#: Seconds a round waits for the call log to hold every event before it changes rows.
FLUSH = 30.0


@dataclass
class Round:
    """What one round removed."""

    recordings: int = 0
    reports: int = 0
    calls: int = 0


class Retention:
    """Applies every organisation's retention, a round at a time."""

    def __init__(
        self,
        deployment: Deployment,
        store: Store,
        call_log: CallLog,
        vault: Vault,
        notifications: NotificationStore,
        recorder: Recorder,
        key: bytes,
        clock: Callable[[], datetime],
        active: Callable[[], bool] = lambda: True,
        escalations: Escalations | None = None,
    ) -> None:
        self.deployment = deployment
        #: The reports' escalations (their file holds the number a family left).
        self.escalations = escalations
        self.store = store
        self.call_log = call_log
        self.vault = vault
        self.notifications = notifications
        self.recorder = recorder
        self.key = key
        self.clock = clock
        #: Only the active instance removes (both share the database and the vault).
        self.active = active

    async def round(self, now: datetime) -> Round:
        """Remove what is due at ``now``. Raises when the database or the shared vault is
        away (what was done stays done; the rest is done by the next round)."""
        done = Round()
        engine = self.store.engine
        orgs = self.deployment.organisations.values()
        every_number = frozenset(n for org in orgs for n in org.numbers)
        every_line = frozenset(line for org in orgs for line in org.lines)
        await self.call_log.flush(FLUSH)
        for d in due(self.deployment, now):
            numbers = d.numbers if d.organisation is not None else None
            lines = d.lines if d.organisation is not None else None
            replace = partial(pseudonym, self.key) if d.call_log == "pseudonymise" else erased
            old = await lifecycle.recordings_due(engine, numbers, every_number, d.recordings_before)
            if await self.recorder.expire(old):
                done.recordings += len(old)
                # their deletions on their calls written before a call may be deleted: one
                # written after would make its call's row again
                await self.call_log.flush(FLUSH)
            # reports: the file (the durable original) and the call log
            kept = self.notifications.listing()
            refs = {
                n.ref
                for n in kept
                if n.handled_at is not None
                and n.at < d.reports_before
                and (n.line in d.lines if lines is not None else n.line not in every_line)
            }
            reports = await lifecycle.reports_due(engine, lines, every_line, d.reports_before)
            calls = {c for _, c in reports} | {n.call for n in kept if n.ref in refs}
            for message in await lifecycle.kept_of(engine, calls, "message"):
                await self.vault.delete(message.path)
            for n in kept:  # (a message the call log has not heard of yet)
                if n.ref in refs and n.recording:
                    await self.vault.delete(n.recording)
            forgotten = self.notifications.forget(refs)
            if self.escalations is not None and refs:
                self.escalations.forget(refs)
            await lifecycle.forget_reports(engine, reports, d.call_log, replace, now)
            done.reports += len({r for r, _ in reports} | {n.ref for n in forgotten})
            # the call log's records, a batch at a time
            while batch := await lifecycle.calls_due(engine, numbers, every_number, d.calls_before):
                for kept_file in await lifecycle.kept_of(engine, batch):
                    await self.vault.delete(kept_file.path)
                done.calls += await lifecycle.forget_calls(engine, batch, d.call_log, replace, now)
        strictest = min(d.recordings_before for d in due(self.deployment, now))
        await self.recorder.expire_failed(strictest)
        if done.reports or done.calls:
            await lifecycle.squeeze(engine, self.store.dialect)
            self.call_log.spool.roll()
        return done

    async def run(self, ready: asyncio.Event) -> None:
        """Once the call log's database is ready: a round, then one a day (a round that
        failed: in an hour), on the active instance only."""
        await ready.wait()
        next_round = 0.0
        while True:
            if self.active() and time.monotonic() >= next_round:
                try:
                    done = await self.round(self.clock())
                    log.info(
                        "retention: %d recording(s), %d report(s), %d call(s) past their time "
                        "removed",
                        done.recordings,
                        done.reports,
                        done.calls,
                    )
                    next_round = time.monotonic() + DAY
                except Exception as exc:
                    log.warning("retention skipped this round (tried again in an hour): %s", exc)
                    next_round = time.monotonic() + RETRY
            await asyncio.sleep(5.0)
