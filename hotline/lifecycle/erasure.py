"""Erasure on request: every call a caller's number made (or one call), of one organisation
(or, for a token of every organisation, of all), erased: their recordings and messages from
the vault, their reports from the notifications file, their pending callbacks cancelled (and
gone from the callbacks file), their personal fields from the call log (erased, or the whole
record deleted where the organisation's retention deletes), from the recent events a stream
replays and from the spool; then what was done is recorded, without the number or the call
(a keyed hash of it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from hotline.calls.switchboard import Switchboard
from hotline.config.deployment import Deployment
from hotline.events import EventBus
from hotline.lifecycle.policy import erased, subject_hash
from hotline.reports.escalations import Escalations
from hotline.reports.notifications import NotificationStore
from hotline.store import lifecycle
from hotline.store.calllog import CallLog
from hotline.store.db import Store
from hotline.store.tables import Erasure
from hotline.vault import Vault
from routing import numbers as phone_numbers

log = logging.getLogger(__name__)

#: Seconds an erasure waits for the call log to hold every event (a callback cancelled ends
#: its call: that end is written before the call's record is erased).
FLUSH = 30.0


class NothingToErase(Exception):
    """No call of the organisation has that id (another organisation's is as unknown)."""


class NotWritten(Exception):
    """The call log's database does not hold every event yet: erasing now would leave what
    is still to be written. Try again."""


@dataclass(frozen=True)
class Erased:
    """What an erasure removed."""

    calls: int
    recordings: int
    reports: int
    callbacks: int


class Eraser:
    """Erases a caller's data on request (``hotline erase``, ``POST /api/erasures``)."""

    def __init__(
        self,
        deployment: Deployment,
        store: Store,
        call_log: CallLog,
        vault: Vault,
        notifications: NotificationStore,
        switchboard: Switchboard,
        bus: EventBus,
        key: bytes,
        clock: Callable[[], datetime],
        escalations: Escalations | None = None,
    ) -> None:
        self.deployment = deployment
        #: The reports' escalations (their file holds the number a family left).
        self.escalations = escalations
        self.store = store
        self.call_log = call_log
        self.vault = vault
        self.notifications = notifications
        self.switchboard = switchboard
        self.bus = bus
        self.key = key
        self.clock = clock

    async def erase(
        self,
        organisation: str | None,
        by: str,
        *,
        number: str | None = None,
        call: str | None = None,
    ) -> Erased:
        """Erase the calls of ``number`` (or the call ``call``) of ``organisation`` (None:
        every organisation's). NothingToErase: no such call of it; NotWritten: the call log
        is behind, nothing was erased."""
        if (number is None) == (call is None):
            raise ValueError("name a number or a call")
        org = self.deployment.organisations.get(organisation or "")
        numbers = org.numbers if org is not None else None
        lines = org.lines if org is not None else None
        if not await self.call_log.flush(FLUSH):
            raise NotWritten("the call log's database is behind: nothing erased, try again")
        engine = self.store.engine
        if number is not None:  # (as the log keeps it: read in the organisation's country)
            number = self.deployment.number(number, organisation=organisation)
        calls = await lifecycle.calls_of(engine, numbers, number, call)
        forms = phone_numbers.forms(number) if number is not None else ()
        reports = [
            n
            for n in self.notifications.listing()
            if (n.call in calls or n.number in forms or n.caller in forms)
            and (lines is None or n.line in lines)
        ]
        if call is not None and not calls:
            raise NothingToErase(call)
        every = sorted({*calls, *(n.call for n in reports)})
        # what would still be done with the number: not done (the callbacks first: a
        # report's handling would end its callback as made)
        callbacks = self.switchboard.erased(every)
        for report in reports:
            if report.handled_at is None:
                self.switchboard.handled(report.ref, report.call, "erasure")
        if not await self.call_log.flush(FLUSH):  # (the callbacks' ends, written first)
            raise NotWritten("the call log's database is behind: try again")
        recordings = 0
        for kept in await lifecycle.kept_of(engine, every):
            await self.vault.delete(kept.path)
            recordings += 1
        for report in reports:
            if report.recording and await self.vault.delete(report.recording):
                recordings += 1
        self.notifications.forget(n.ref for n in reports)
        if self.escalations is not None:
            self.escalations.forget(n.ref for n in reports)
        self.bus.forget(set(every))
        # each call as its own organisation's retention says: its record's personal fields
        # erased, or (where it deletes) the whole record
        modes: dict[str, list[str]] = {}
        for call_id, dialled in (await lifecycle.numbers_of(engine, every)).items():
            owner = self.deployment.organisation_of(number=dialled)
            mode = owner.retention.call_log if owner is not None else "pseudonymise"
            modes.setdefault(mode, []).append(call_id)
        done = 0
        for mode, those in sorted(modes.items()):
            done += await lifecycle.forget_calls(engine, those, mode, erased, self.clock())
        await lifecycle.squeeze(engine, self.store.dialect)
        self.call_log.spool.roll()
        result = Erased(done, recordings, len(reports), callbacks)
        kind, subject = ("number", number) if number is not None else ("call", call or "")
        await lifecycle.record_erasure(
            engine,
            Erasure(
                at=self.clock(),
                by=by[:64],
                organisation=organisation,
                kind=kind,
                subject=subject_hash(self.key, subject),
                calls=result.calls,
                recordings=result.recordings,
                reports=result.reports,
                callbacks=result.callbacks,
            ),
        )
        log.info(
            "erasure by %s (%s): %d call(s), %d recording(s), %d report(s), %d callback(s)",
            by,
            organisation or "every organisation",
            *(result.calls, result.recordings, result.reports, result.callbacks),
        )
        return result
