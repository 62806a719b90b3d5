"""The audit trail of access to personal data: who played or downloaded a conversation's
recording, played a detention message, read an operator's note, exported the call log as
CSV, listened in on a call or erased someone's data; when, from where, and whose data it was.

An entry names ids only (a call, a report's reference, the reader's operator id or token's
name, never the token), never a number, a name or a note: it may be kept long after what it
names is gone, and it is (``audit.days``, six years by default; each organisation may set its
own). It is written as the call log's events are: to the local spool at once (a short local
write, nothing for the reader to wait on), to the database behind it, so a database that is
away loses none (:mod:`hotline.store.calllog`).

What is refused when the trail cannot be written: the spool's disk failing (full), a
recording, a message or an export is refused (503) rather than handed out without a trace; a
note shown on the desk or a listening in goes on (the entry kept in memory until the disk
takes it, as the call log's events are): an operator talking to a caller needs the caller's
history now.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from hotline.events import CallEvent
from routing.events import (
    Accessed,
    CallSpied,
    EscalationAccepted,
    EscalationDeclined,
    EscalationUnanswered,
)

log = logging.getLogger(__name__)


class Kind(StrEnum):
    """What was reached."""

    #: A conversation's recording, played or downloaded (each request: a player's seek too).
    RECORDING = "recording"
    #: A detention report's recorded message, played over the API (or heard by a person on
    #: duty on the escalation's call).
    MESSAGE = "message"
    #: An operator's note on a call or a report, shown (call details, the list, the desk,
    #: the event stream, a report's details).
    NOTE = "note"
    #: The call log exported as CSV (numbers: one entry per organisation whose calls it held).
    EXPORT = "export"
    #: A supervisor listening in on an operator's call.
    LISTEN = "listen"
    #: Someone's data erased on request.
    ERASURE = "erasure"


#: Kinds refused when the trail cannot be written (the rest go on: kept in memory).
STRICT = frozenset({Kind.RECORDING, Kind.MESSAGE, Kind.EXPORT, Kind.ERASURE})

#: Seconds within which the same reader's sight of the same note is one entry: the desk is
#: read again on every event of the operator, and a wallboard's stream shows every wrap-up.
NOTE_WINDOW = 900.0

#: Readers' notes remembered for :data:`NOTE_WINDOW` (the oldest forgotten first).
REMEMBERED = 50_000

#: Days an entry is kept by default: six years, longer than any of the data it names.
DEFAULT_DAYS = 2190


@dataclass(frozen=True)
class Reader:
    """Who reached the data, as the trail names them: never their token."""

    by: str
    role: str
    operator: str | None = None
    #: The organisation their token sees (None: every one).
    scope: str | None = None
    address: str | None = None


def access(
    at: datetime,
    kind: Kind,
    reader: Reader,
    organisation: str | None,
    *,
    call: str | None = None,
    ref: str | None = None,
    detail: str | None = None,
) -> CallEvent:
    """One entry, as the call log spools it (no call of its own: ``call`` is in the fact, so
    a call long ended is not taken for one under way at a restart)."""
    fact = Accessed(
        kind.value,
        reader.by[:64],
        reader.role,
        reader.operator,
        reader.scope,
        organisation,
        call,
        ref,
        reader.address[:64] if reader.address else None,
        detail[:200] if detail else None,
    )
    return CallEvent("", 0, at, fact, uuid.uuid4().hex, organisation)


def erasure(
    at: datetime,
    by: str,
    organisation: str | None,
    *,
    call: str | None = None,
    ref: str | None = None,
    role: str = "supervisor",
    address: str | None = None,
    detail: str | None = None,
) -> CallEvent:
    """The entry of an erasure (``hotline erase``: ``by`` the administrator's name, ``role``
    ``"cli"``; the API: the supervisor's token's name): what was erased, by ids only, and
    (``detail``) how much, never the number asked for."""
    return access(
        at,
        Kind.ERASURE,
        Reader(by, role, scope=organisation, address=address),
        organisation,
        call=call,
        ref=ref,
        detail=detail,
    )


class TrailUnwritable(Exception):
    """The trail cannot be written now (the spool's disk): the access is refused."""


Write = Callable[[CallEvent], None]


class Trail:
    """Records entries through ``write`` (the call log: spooled at once, written to the
    database behind); ``disk_error`` says why the spool cannot be written now (None: it
    can); ``clock`` is the service's."""

    def __init__(
        self,
        write: Write,
        clock: Callable[[], datetime],
        disk_error: Callable[[], str | None] = lambda: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write = write
        self.clock = clock
        self.disk_error = disk_error
        self.monotonic = monotonic
        #: (reader, their address, organisation, call, ref) -> when its note was recorded.
        self._notes: OrderedDict[tuple[object, ...], float] = OrderedDict()

    def record(
        self,
        kind: Kind,
        reader: Reader,
        organisation: str | None,
        *,
        call: str | None = None,
        ref: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record one access now. A :data:`STRICT` kind raises :class:`TrailUnwritable`
        while the spool's disk fails, before anything is recorded: the caller refuses it."""
        if kind in STRICT and (why := self.disk_error()) is not None:
            raise TrailUnwritable(why)
        self.write(
            access(self.clock(), kind, reader, organisation, call=call, ref=ref, detail=detail)
        )

    def noted(
        self, reader: Reader, organisation: str | None, *, call: str | None, ref: str | None = None
    ) -> None:
        """``reader`` was shown the note of a call (or of a report): recorded, unless they
        were shown it within :data:`NOTE_WINDOW` already, from the same address (a token
        used from elsewhere meanwhile is not hidden behind its holder's reads)."""
        key = (reader.by, reader.role, reader.scope, reader.address, organisation, call, ref)
        now = self.monotonic()
        seen = self._notes.pop(key, None)
        self._notes[key] = seen if seen is not None and now - seen < NOTE_WINDOW else now
        while len(self._notes) > REMEMBERED:
            self._notes.popitem(last=False)
        if seen is None or now - seen >= NOTE_WINDOW:
            self.record(Kind.NOTE, reader, organisation, call=call, ref=ref)

    def erased(self, entry: CallEvent) -> None:
        """Record an erasure made in this process (:func:`erasure` makes ``entry``)."""
        if (why := self.disk_error()) is not None:
            raise TrailUnwritable(why)
        self.write(entry)

    def __call__(self, event: CallEvent) -> None:
        """A subscriber of the event stream: a supervisor joining a call is a listening in,
        whether from the API or their phone; a person on duty who answered a report's call
        (and pressed a key, or hung up without one) heard its message there."""
        org, call = event.organisation, event.call_id or None
        match event.fact:
            case CallSpied(supervisor, operator, mode):
                reader = Reader(supervisor, "supervisor", scope=org)
                detail = f"{mode} {operator}"
                self.write(access(event.at, Kind.LISTEN, reader, org, call=call, detail=detail))
            case (
                EscalationDeclined(ref, _, person)
                | EscalationAccepted(ref, person, _, int())
                | EscalationUnanswered(ref, _, person, "HUNGUP")
            ):
                reader = Reader(person, "duty", scope=org)
                entry = access(
                    event.at, Kind.MESSAGE, reader, org, call=call, ref=ref, detail="by phone"
                )
                self.write(entry)


def cutoffs(days: int, own: Mapping[str, int | None], now: datetime) -> dict[str | None, datetime]:
    """Before when each organisation's entries are deleted: its own ``audit.days``, else
    the deployment's ``days`` (the key None: entries of no organisation's data)."""
    found: dict[str | None, datetime] = {None: now - timedelta(days=days)}
    for org, kept in own.items():
        found[org] = now - timedelta(days=kept if kept is not None else days)
    return found


class Prunable(Protocol):
    async def prune_audit(self, cutoffs: dict[str | None, datetime]) -> int: ...


#: Seconds between two rounds of pruning (a round that fails is tried again in an hour).
PRUNE_EVERY = 86_400.0


async def prune(
    store: Prunable,
    days: Callable[[], tuple[int, Mapping[str, int | None]]],
    clock: Callable[[], datetime],
    ready: asyncio.Event,
    active: Callable[[], bool] = lambda: True,
) -> None:
    """Once the database is ready, then daily, on the active instance: delete the entries
    older than their organisation's ``audit.days`` (``days``: the deployment's and each
    organisation's own, as the config says now)."""
    await ready.wait()
    while True:
        if not active():
            await asyncio.sleep(60)
            continue
        try:
            gone = await store.prune_audit(cutoffs(*days(), clock()))
        except Exception as exc:
            log.warning("audit trail: pruning skipped this round: %s", exc)
            await asyncio.sleep(3600)
            continue
        if gone:
            log.info("audit trail: %d entries past their time deleted", gone)
        await asyncio.sleep(PRUNE_EVERY)
