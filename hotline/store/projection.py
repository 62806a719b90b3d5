"""From domain events to the call log's rows: each event, applied once, updates its call,
callback, notification, recording or operator row.

A batch loads the rows it touches as plain dicts, applies its events to them in memory, and
writes them back in a few statements (one insert per table for the new rows, one
executemany update for the changed ones): no ORM object per event or per row, which is what
made the call log the service's biggest cost per call.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.events import CallEvent
from hotline.store.tables import Call, Callback, Event, Notification, OperatorChange, Recording
from routing import events as ev

log = logging.getLogger(__name__)

Row = dict[str, Any]

CALLS: Table = Call.__table__  # type: ignore[assignment]
CALLBACKS: Table = Callback.__table__  # type: ignore[assignment]
NOTIFICATIONS: Table = Notification.__table__  # type: ignore[assignment]
RECORDINGS: Table = Recording.__table__  # type: ignore[assignment]
EVENTS: Table = Event.__table__  # type: ignore[assignment]
OPERATOR_STATES: Table = OperatorChange.__table__  # type: ignore[assignment]


def apply_to_call(call: Row, event: CallEvent) -> None:
    """What an event says about its call."""
    match event.fact:
        case ev.CallStarted() as e:
            call["started_at"] = event.at
            call["caller"] = e.caller[:256]
            call["caller_name"] = e.caller_name[:256]
            call["number"] = e.number[:64]
            call["channel"] = e.channel[:256]
            call["sip_call_id"] = e.sip_call_id[:256]
            call["linkedid"] = e.linkedid[:64]
            call["language"] = e.language
        case ev.MenuAnswer() as e:
            call["path"] = [*call["path"], f"{e.menu}:{e.key}"]
            call["language"] = e.language or call["language"]
        case ev.CallAfterHours() as e:
            call["asked_line"] = e.asked
            call["closed_lines"] = list(e.closed)
            call["line"] = e.line or call["line"]
        case ev.CallRouted() as e:
            call["asked_line"] = e.asked
            call["closed_lines"] = list(e.closed)
            call["line"] = e.line
            call["language"] = e.language
        case ev.CallbackRequested() as e:
            call["callback_number"] = e.number
            call["line"] = e.line
        case ev.CallQueued() as e:
            call["queued_at"] = call["queued_at"] or event.at
            call["line"] = e.line
            call["priority"] = e.priority
        case ev.CallAnswered() as e:
            call["answered_at"] = call["answered_at"] or event.at
            call["operator"] = e.operator
            call["wait"] = call["wait"] if call["transfers"] else e.wait
            _transfer_went(call, "answered", answered_by=e.operator)
        case ev.CallTransferred() as e:
            call["transfers"] = [
                *call["transfers"],
                {"at": event.at.isoformat(), **ev.to_data(e), "outcome": None},
            ]
        case ev.CentreAnswered():
            _transfer_went(call, "answered")
        case ev.TransferFailed() as e:
            _transfer_went(call, "failed", status=e.status)
        case ev.WrappedUp() as e:
            call["topics"] = list(e.topics)
            call["resolution"] = e.resolution
            call["note"] = e.note
            call["wrapped_up_by"] = e.by
            call["wrapped_up_at"] = event.at
        case ev.CallEnded("interrupted") if call["outcome"] is not None:
            pass  # found ended unseen by an instance taking over: the end another one saw stands
        case ev.CallEnded() as e:
            _transfer_went(call, e.outcome)
            call["outcome"] = e.outcome
            call["ended_at"] = event.at
            call["wait"] = e.wait if e.wait is not None else call["wait"]
            call["talk"] = e.talk if e.talk is not None else call["talk"]
            call["operator"] = e.operator or call["operator"]


def _transfer_went(call: Row, outcome: str, **more: str) -> None:
    """How the call's latest transfer went, once known (the first word on it stands)."""
    if call["transfers"] and call["transfers"][-1]["outcome"] is None:
        call["transfers"] = [
            *call["transfers"][:-1],
            {**call["transfers"][-1], "outcome": outcome, **more},
        ]


def new_call(event: CallEvent) -> Row:
    """The row of a call first seen in ``event`` (normally its ``call.started``)."""
    return {
        "id": event.call_id,
        "linkedid": "",
        "sip_call_id": "",
        "channel": "",
        "caller": "",
        "caller_name": "",
        "number": "",
        "language": None,
        "path": [],
        "asked_line": None,
        "line": None,
        "closed_lines": [],
        "priority": None,
        "callback_number": None,
        "started_at": event.at,
        "queued_at": None,
        "answered_at": None,
        "ended_at": None,
        "operator": None,
        "wait": None,
        "talk": None,
        "outcome": None,
        "transfers": [],
        "topics": [],
        "resolution": None,
        "note": None,
        "wrapped_up_by": None,
        "wrapped_up_at": None,
        "forgotten_at": None,
    }


def operator_change(at: datetime, e: ev.OperatorChanged) -> Row:
    return {
        "operator": e.operator,
        "at": at,
        "state": e.state,
        "reachable": e.reachable,
        "reason": e.reason,
        "misses": e.misses,
    }


class _Table:
    """The rows of one table a batch touches: those it found (to update) and those it made
    (to insert), by key. A found row is written back with the columns its events changed
    only: most events change two or three of a call's thirty."""

    def __init__(self, table: Table, key: str, found: Iterable[Row]) -> None:
        self.table = table
        self.key = key
        self.rows: dict[str, Row] = {str(row[key]): row for row in found}
        #: the found rows as they were (events replace a row's values, never change them in
        #: place: a shallow copy is enough)
        self.was: dict[str, Row] = {k: dict(row) for k, row in self.rows.items()}
        self.made: set[str] = set()

    def get(self, key: str) -> Row | None:
        return self.rows.get(key)

    def make(self, key: str, row: Row) -> Row:
        self.rows[key] = row
        self.made.add(key)
        return row

    def changes(self) -> dict[tuple[str, ...], list[Row]]:
        """The found rows' changed values, grouped by which columns changed (one executemany
        each), each with its key as ``_key``."""
        groups: dict[tuple[str, ...], list[Row]] = {}
        for key, was in self.was.items():
            row = self.rows[key]
            columns = tuple(name for name, value in row.items() if was.get(name) != value)
            if columns:
                values = {f"_{name}": row[name] for name in columns}
                groups.setdefault(columns, []).append({"_key": row[self.key], **values})
        return groups

    async def save(self, connection: AsyncConnection) -> None:
        made = [self.rows[k] for k in self.made]
        if made:
            await connection.execute(insert(self.table), made)
        for columns, rows in self.changes().items():
            statement = (
                update(self.table)
                .where(self.table.c[self.key] == bindparam("_key"))
                .values({name: bindparam(f"_{name}") for name in columns})
            )
            await connection.execute(statement, rows)


async def _found(
    connection: AsyncConnection, table: Table, key: str, wanted: set[str]
) -> list[Row]:
    if not wanted:
        return []
    # locked until the batch is written (in key order: two writers never wait on each other
    # in a circle): with a standby, two instances' writers may change the same call at once
    query = select(table).where(table.c[key].in_(wanted)).order_by(table.c[key])
    result = await connection.execute(query.with_for_update())
    return [dict(row) for row in result.mappings()]


class Rows:
    """What a batch of events changes, loaded once, changed in memory, written back."""

    def __init__(self, calls: _Table, callbacks: _Table, notifications: _Table, recordings: _Table):
        self.calls = calls
        self.callbacks = callbacks
        self.notifications = notifications
        self.recordings = recordings
        self.operator_changes: list[Row] = []
        self.messages: list[Row] = []

    @classmethod
    async def load(cls, connection: AsyncConnection, events: Sequence[CallEvent]) -> Rows:
        call_ids = {e.call_id for e in events if e.call_id}
        facts = [e.fact for e in events]
        refs = {
            ref
            for e in events
            if isinstance(e.fact, ev.NotificationStored | ev.NotificationHandled)
            for ref in (e.fact.ref, apart(e.fact.ref, e.call_id))
        }
        paths = {f.path for f in facts if isinstance(f, ev.RecordingStored | ev.RecordingDeleted)}
        return cls(
            _Table(CALLS, "id", await _found(connection, CALLS, "id", call_ids)),
            _Table(CALLBACKS, "call_id", await _found(connection, CALLBACKS, "call_id", call_ids)),
            _Table(NOTIFICATIONS, "ref", await _found(connection, NOTIFICATIONS, "ref", refs)),
            _Table(RECORDINGS, "path", await _found(connection, RECORDINGS, "path", paths)),
        )

    async def save(self, connection: AsyncConnection) -> None:
        for table in (self.calls, self.callbacks, self.notifications, self.recordings):
            await table.save(connection)
        if self.operator_changes:
            await connection.execute(insert(OPERATOR_STATES), self.operator_changes)
        if self.messages:
            await connection.execute(insert(RECORDINGS), self.messages)

    def apply(self, event: CallEvent) -> None:
        if isinstance(event.fact, ev.OperatorChanged):
            self.operator_changes.append(operator_change(event.at, event.fact))
            return
        if not event.call_id:
            return
        call = self.calls.get(event.call_id) or self.calls.make(event.call_id, new_call(event))
        apply_to_call(call, event)
        self._callback(event)
        self._notification(event)
        self._recording(event)

    def _recording(self, event: CallEvent) -> None:
        match event.fact:
            case ev.RecordingStored(path, seconds) if path not in self.recordings.rows:
                self.recordings.make(
                    path,
                    {
                        "call_id": event.call_id,
                        "kind": "conversation",
                        "path": path,
                        "created_at": event.at,
                        "seconds": seconds,
                        "deleted_at": None,
                    },
                )
            case ev.RecordingDeleted(path) if row := self.recordings.get(path):
                row["deleted_at"] = event.at

    def _callback(self, event: CallEvent) -> None:
        fact = event.fact
        callback = self.callbacks.get(event.call_id)
        if isinstance(fact, ev.CallbackRequested):
            if callback is None:
                callback = self.callbacks.make(
                    event.call_id,
                    {
                        "call_id": event.call_id,
                        "requested_at": event.at,
                        "attempts": 0,
                        "last_status": None,
                        "answered_at": None,
                        "ended_at": None,
                        "outcome": None,
                    },
                )
            callback["number"] = fact.number[:64]
            callback["reason"] = fact.reason[:32]
            callback["line"] = fact.line
            callback["notification"] = fact.notification
            callback["not_before"] = datetime.fromisoformat(fact.at) if fact.at else None
            callback["planned_by"] = fact.by
            return
        if callback is None:
            return
        match fact:
            case ev.CallbackFailed() as e:
                callback["attempts"] = e.attempt
                callback["last_status"] = e.status[:32]
            case ev.CallAnswered(callback=True):
                callback["attempts"] += 1
                callback["answered_at"] = event.at
            case ev.CallEnded() as e:
                callback["ended_at"] = event.at
                callback["outcome"] = e.outcome

    def _report(self, ref: str, call: str, storing: bool) -> str:
        """The key of ``call``'s report ``ref``: the reference itself, unless another call's
        report has it (two instances that each chose it alone, the database away): then that
        one stays as it is and this one is kept apart, under :func:`apart`."""
        found = self.notifications.rows.get(ref)
        if found is None or found["call_id"] == call:
            return ref
        key = apart(ref, call)
        if storing and key not in self.notifications.rows:
            log.error(
                "call log: report %s of call %s has the reference of call %s's report: "
                "that one kept as it is, this one stored as %s",
                ref,
                call,
                found["call_id"],
                key,
            )
        return key

    def _notification(self, event: CallEvent) -> None:
        match event.fact:
            case ev.NotificationStored() as e:
                key = self._report(e.ref, event.call_id, storing=True)
                item = self.notifications.get(key) or self.notifications.make(
                    key,
                    {"ref": key, "handled_at": None, "handled_by": None, "outcome": None}
                    | {"note": None, "forgotten_at": None},
                )
                item["call_id"] = event.call_id
                item["line"] = e.line
                item["caller"] = e.caller[:256]
                item["number"] = e.number[:64]
                item["recording"] = e.recording
                item["complete"] = e.complete
                item["stored_at"] = event.at
                item["taken_by"] = e.taken_by
                if e.recording:
                    self.messages.append(
                        {
                            "call_id": event.call_id,
                            "kind": "message",
                            "path": e.recording,
                            "created_at": event.at,
                            "seconds": None,
                            "deleted_at": None,
                        }
                    )
            case ev.NotificationHandled(ref, by, outcome, note) if (
                handled := self.notifications.get(self._report(ref, event.call_id, False))
            ):
                handled["handled_at"] = event.at
                handled["handled_by"] = by
                handled["outcome"] = outcome
                handled["note"] = note


def apart(ref: str, call: str) -> str:
    """Where a report is kept whose reference another call's report has: the reference and a
    mark of its own call (``482113~1f0c9a``), found by either."""
    return f"{ref}~{hashlib.sha256(call.encode()).hexdigest()[:6]}"


def event_row(event: CallEvent) -> Row:
    return {
        "id": event.id,
        "call_id": event.call_id or None,
        "seq": event.seq,
        "at": event.at,
        "kind": event.kind,
        "data": ev.to_data(event.fact),
    }
