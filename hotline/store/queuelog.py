"""Asterisk's queue_log, from the event stream: what QueueMetrics-style tools read of
app_queue's queues, written for the service's own (HOTLINE_QUEUE_LOG).

A line is ``epoch|callid|queue|agent|event|data...``, as Asterisk 22's logger writes it
(main/logger.c, ``ast_queue_log``: ``"%ld|%s|%s|%s|%s|"`` then the data, so an event
without data still ends with ``|``); the events and their data are app_queue's, in the order
of its ``ast_queue_log`` calls (apps/app_queue.c of Asterisk 22.10.1, Debian's and the
sandbox's). The callid is the call's id (its Asterisk uniqueid, as app_queue's), the queue a
line (``consultation``), the agent an operator's id (``op3``, app_queue's member name) or
``NONE``.

====================================  ===============================================
the service                           queue_log (data)
====================================  ===============================================
start, or taking over (HA)            QUEUESTART ()
call.queued                           ENTERQUEUE (url: empty, caller number, position)
call.missed                           RINGNOANSWER (ring ms)
call.answered                         CONNECT (hold s, operator's channel uniqueid, ring s)
call.ended after CONNECT              COMPLETECALLER / COMPLETEAGENT (hold s, talk s,
                                      original position)
call.ended ``abandoned`` in a queue   RINGCANCELED (ring ms, when a phone rang), ABANDON
                                      (position, original position, wait s)
call.ended otherwise in a queue       WITHDRAW (position, original position, wait s,
                                      the outcome: ``handed-over`` to the fallback queue...)
callback.requested: key 1             EXITWITHKEY (1, position, original position, wait s)
callback.requested: a message, key 2  EXITWITHKEY (2, ...)
callback.requested: hung up           ABANDON (the detention line calls them back)
call.message_asked (nobody in time)   EXITWITHTIMEOUT (position, original position, wait s)
call.transferred, blind               BLINDTRANSFER (target, its kind: line, operator or
                                      centre; hold s, talk s, original position)
call.transferred, attended            ATTENDEDTRANSFER (BRIDGE, the colleague, hold s,
                                      talk s, original position)
call.transfer_failed                  ENTERQUEUE at the head of the line it came from
operator.state                        ADDMEMBER (), REMOVEMEMBER (), PAUSE (reason),
                                      UNPAUSE (): in each of their lines
====================================  ===============================================

Times are the queue_log's own, in whole seconds as app_queue's (differences of the lines'
epochs; a ring's seconds cut, its milliseconds exact): from the ENTERQUEUE written here
(after a restart, a caller still waiting enters again after QUEUESTART). What happens to
a call after it left its queue (a callback made later, a colleague's conversation after a
transfer) is in the call log, not here: app_queue does not follow it either.

:class:`QueueLog` turns events into lines (pure: no clock, no I/O); :class:`QueueLogFile`,
a thin adapter, writes them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from hotline.events import CallEvent
from hotline.privacy import mask
from hotline.store.journal import append_whole
from routing import events as ev

log = logging.getLogger(__name__)

#: How caller numbers are written: ``masked`` (the last two digits, as the service's own log
#: shows them) or ``full`` (what app_queue writes: for a tool that reports by caller).
Numbers = Literal["masked", "full"]

#: The agent of an event that has none, and the callid of one about no call (app_queue's).
NONE = "NONE"


def line(at: datetime, call: str, queue: str, agent: str, event: str, *data: object) -> str:
    """One queue_log line (without its newline): a field never holds ``|`` or a line break
    (app_queue writes ``_`` for a caller name's ``|`` too)."""
    fields = [str(int(at.timestamp())), call, queue, agent, event, *map(str, data or ("",))]
    return "|".join(f.replace("|", "_").replace("\n", " ").replace("\r", " ") for f in fields)


@dataclass
class Stay:
    """A caller's stay in a line's queue, from its ENTERQUEUE to its leaving."""

    line: str
    entered: datetime
    #: Their position when they entered (app_queue's origposition).
    first: int
    #: The operator whose phone rings for them, and since when.
    ringing: tuple[str, datetime] | None = None
    #: The operator talking to them, since when, and the hold time written in CONNECT.
    talking: tuple[str, datetime, int] | None = None


@dataclass
class QueueLog:
    """The queue_log lines of each event, from what the events before it said. Pure: no
    clock, no I/O.

    ``lines_of`` gives each operator's lines (their member events are written in each);
    ``numbers`` how a caller's number is written."""

    lines_of: Mapping[str, Sequence[str]]
    numbers: Numbers = "masked"
    _callers: dict[str, str] = field(default_factory=dict)
    _stays: dict[str, Stay] = field(default_factory=dict)
    #: Each line's callers in queue order (until CONNECT, or their leaving).
    _queues: dict[str, list[str]] = field(default_factory=dict)
    #: The line each call was transferred out of (where a failed transfer brings it back).
    _came_from: dict[str, str] = field(default_factory=dict)
    #: Each operator's state and pause reason, as last said.
    _operators: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def start(self, now: datetime) -> list[str]:
        """This instance starts carrying the queues (at its start, or taking over): what came
        before is forgotten, as app_queue's is at Asterisk's start."""
        self.forget()
        return [line(now, NONE, NONE, NONE, "QUEUESTART")]

    def forget(self) -> None:
        """Another instance carries the queues now (HA): nothing of ours is under way."""
        self._callers.clear()
        self._stays.clear()
        self._queues.clear()
        self._came_from.clear()
        self._operators.clear()

    def lines(self, event: CallEvent) -> list[str]:
        """The lines ``event`` writes (most write none)."""
        call, at = event.call_id, event.at
        match event.fact:
            case ev.CallStarted(caller=caller):
                self._callers[call] = caller if self.numbers == "full" else mask(caller)
            case ev.CallQueued(line=queue):
                return self._enter(call, queue, at)
            case ev.CallOffered(operator):
                if (stay := self._waiting(call)) is not None:
                    stay.ringing = (operator, at)
            case ev.CallMissed(operator):
                return self._missed(call, operator, at)
            case ev.CallAnswered(operator, peer=peer):
                return self._connect(call, operator, peer or "", at)
            case ev.CallbackRequested(reason=reason):
                return self._callback(call, reason, at)
            case ev.MessageAsked():
                return self._leave(call, at, "EXITWITHTIMEOUT")
            case ev.CallTransferred() as moved:
                return self._transferred(call, moved, at)
            case ev.TransferFailed():
                return self._back(call, at)
            case ev.CallEnded() as ended:
                return self._ended(call, ended, at)
            case ev.OperatorChanged() as changed:
                return self._operator(changed, at)
        return []

    # -- callers ----------------------------------------------------------------------------
    def _enter(self, call: str, queue: str, at: datetime, head: bool = False) -> list[str]:
        out = self._leave(call, at, "WITHDRAW", "moved") if call in self._stays else []
        waiting = self._queues.setdefault(queue, [])
        position = 1 if head else len(waiting) + 1
        waiting.insert(position - 1, call)
        self._stays[call] = Stay(queue, at, position)
        number = self._callers.get(call, "")
        return [*out, line(at, call, queue, NONE, "ENTERQUEUE", "", number, position)]

    def _waiting(self, call: str) -> Stay | None:
        """The call's stay while it waits (not yet talking)."""
        stay = self._stays.get(call)
        return stay if stay is not None and stay.talking is None else None

    def _position(self, stay: Stay, call: str) -> int:
        waiting = self._queues.get(stay.line, [])
        return waiting.index(call) + 1 if call in waiting else 1

    def _dequeue(self, stay: Stay, call: str) -> None:
        waiting = self._queues.get(stay.line, [])
        if call in waiting:
            waiting.remove(call)

    def _missed(self, call: str, operator: str, at: datetime) -> list[str]:
        stay = self._waiting(call)
        if stay is None or stay.ringing is None or stay.ringing[0] != operator:
            return []
        rang = _ms(at, stay.ringing[1])
        stay.ringing = None
        return [line(at, call, stay.line, operator, "RINGNOANSWER", rang)]

    def _connect(self, call: str, operator: str, peer: str, at: datetime) -> list[str]:
        stay = self._waiting(call)
        if stay is None:
            return []  # not waiting here: a callback, a colleague's after a transfer
        rang = stay.ringing[1] if stay.ringing and stay.ringing[0] == operator else at
        hold = _seconds(at, stay.entered)
        self._dequeue(stay, call)
        stay.ringing, stay.talking = None, (operator, at, hold)
        ring = _ms(at, rang) // 1000
        return [line(at, call, stay.line, operator, "CONNECT", hold, peer, ring)]

    def _callback(self, call: str, reason: str, at: datetime) -> list[str]:
        if reason == "abandoned":  # they hung up; the line calls them back
            return self._leave(call, at, "ABANDON")
        if reason == "asked":
            return self._leave(call, at, "EXITWITHKEY", key="1")
        if reason == "notification":  # the message they chose to leave (a timeout's: left)
            return self._leave(call, at, "EXITWITHKEY", key="2")
        return []

    def _leave(
        self, call: str, at: datetime, event: str, info: str | None = None, key: str | None = None
    ) -> list[str]:
        """The caller leaves their queue unanswered: ``event`` with their positions and wait
        (``key`` before them, ``info`` after them)."""
        stay = self._waiting(call)
        if stay is None:
            return []
        position = self._position(stay, call)
        self._dequeue(stay, call)
        del self._stays[call]
        data = [position, stay.first, _seconds(at, stay.entered)]
        out = []
        if event == "ABANDON" and stay.ringing is not None:  # app_queue: each phone ringing
            operator, since = stay.ringing
            out.append(line(at, call, stay.line, operator, "RINGCANCELED", _ms(at, since)))
        keyed = [key] if key is not None else []
        extra = [info] if info is not None else []
        return [*out, line(at, call, stay.line, NONE, event, *keyed, *data, *extra)]

    def _transferred(self, call: str, moved: ev.CallTransferred, at: datetime) -> list[str]:
        stay = self._stays.get(call)
        if stay is None or stay.talking is None:
            return []  # (from the menus: no queue)
        operator, since, hold = stay.talking
        del self._stays[call]
        self._came_from[call] = stay.line
        times = [hold, _seconds(at, since), stay.first]
        if moved.mode == "attended":
            where = ["BRIDGE", moved.to]  # (no bridge id here: the colleague it joined)
            return [line(at, call, stay.line, operator, "ATTENDEDTRANSFER", *where, *times)]
        where = [moved.to, moved.target]
        return [line(at, call, stay.line, operator, "BLINDTRANSFER", *where, *times)]

    def _back(self, call: str, at: datetime) -> list[str]:
        """A transfer failed: the caller is back at the head of the line they came from."""
        stay = self._stays.get(call)
        if stay is not None and stay.talking is not None:  # refused as the phone left them
            operator, since, hold = stay.talking
            del self._stays[call]
            talk = _seconds(at, since)
            end = line(at, call, stay.line, operator, "COMPLETEAGENT", hold, talk, stay.first)
            return [end, *self._enter(call, stay.line, at, head=True)]
        line_before = self._came_from.pop(call, None)
        if line_before is None or call in self._stays:
            return []
        return self._enter(call, line_before, at, head=True)

    def _ended(self, call: str, ended: ev.CallEnded, at: datetime) -> list[str]:
        self._callers.pop(call, None)
        self._came_from.pop(call, None)
        stay = self._stays.get(call)
        if stay is None:
            return []
        if stay.talking is None:
            if ended.outcome == "abandoned":
                return self._leave(call, at, "ABANDON")
            return self._leave(call, at, "WITHDRAW", ended.outcome)
        del self._stays[call]
        operator, since, hold = stay.talking
        event = "COMPLETEAGENT" if ended.by == "operator" else "COMPLETECALLER"
        talk = _seconds(at, since)
        return [line(at, call, stay.line, operator, event, hold, talk, stay.first)]

    # -- operators --------------------------------------------------------------------------
    def _operator(self, changed: ev.OperatorChanged, at: datetime) -> list[str]:
        """An operator's member events, in each of their lines: logged in, out, paused (or
        paused for another reason), resumed."""
        who, state, reason = changed.operator, changed.state, changed.reason
        was, why = self._operators.get(who, ("logged_out", None))
        self._operators[who] = (state, reason)
        events: list[tuple[str, str]] = []
        if was == "logged_out" and state != "logged_out":
            events.append(("ADDMEMBER", ""))
        if state == "logged_out":
            if was != "logged_out":
                events.append(("REMOVEMEMBER", ""))
        elif state == "paused":
            if was != "paused" or reason != why:
                events.append(("PAUSE", reason or ""))
        elif was == "paused":  # (app_queue's data: the unpause's own reason; a resume has none)
            events.append(("UNPAUSE", ""))
        queues = self.lines_of.get(who, ())
        return [line(at, NONE, q, who, event, data) for event, data in events for q in queues]


def _seconds(at: datetime, since: datetime) -> int:
    """Seconds between two instants as app_queue counts them: the difference of their
    epochs (``time(NULL) - qe->start``), so that the lines' epochs add up."""
    return max(0, int(at.timestamp()) - int(since.timestamp()))


def _ms(at: datetime, since: datetime) -> int:
    return max(0, round((at - since).total_seconds() * 1000))


#: Seconds between two syncs of the file while lines come: one fsync, in a thread, for all of
#: them (a report for statistics, not a promise to a caller: the call log is the record).
SYNC_EVERY = 1.0


class QueueLogFile:
    """The queue_log file, fed by the event stream (a synchronous subscriber).

    Each event's lines are appended at once, whole or not at all (one short local write on
    the event loop, as the call log's spool); the file is synced to disk in a thread, at most
    once every SYNC_EVERY seconds, never on the loop; it is opened again when it was moved
    away (logrotate) or deleted. A full disk loses lines (counted, said once, and when it can
    be written again): nothing waits for this file."""

    def __init__(self, path: Path, translation: QueueLog) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.translation = translation
        self._fd, self._inode = self._open()
        #: Files rotated away: synced, then closed, by the next sync.
        self._retired: list[int] = []
        self._syncing: asyncio.TimerHandle | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._closed = False
        #: Lines the file could not take; why it cannot now (None: it can).
        self.lost = 0
        self.error: str | None = None

    def _open(self) -> tuple[int, int]:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return fd, os.fstat(fd).st_ino

    def __call__(self, event: CallEvent) -> None:
        self._write(self.translation.lines(event))

    def start(self, now: datetime) -> None:
        """This instance carries the queues from ``now`` (QUEUESTART)."""
        self._write(self.translation.start(now))

    def stand_down(self) -> None:
        """Another instance carries the queues now: the calls under way here are its."""
        self.translation.forget()

    def _write(self, lines: list[str]) -> None:
        if not lines or self._closed:
            return
        data = "".join(f"{text}\n" for text in lines).encode()
        try:
            self._follow_rotation()
            append_whole(self._fd, data, os.lseek(self._fd, 0, os.SEEK_END), self.path)
        except OSError as exc:
            self.lost += len(lines)
            if self.error is None:
                log.error("queue_log %s cannot be written (%s): lines lost", self.path, exc)
            self.error = str(exc)
            return
        if self.error is not None:
            log.warning("queue_log %s written again; %d line(s) lost", self.path, self.lost)
            self.error = None
        if self._syncing is None:
            self._syncing = asyncio.get_running_loop().call_later(SYNC_EVERY, self._start_sync)

    def _follow_rotation(self) -> None:
        """Open the file again if the one open is no longer at its path (a stat: as cheap as
        the write it precedes)."""
        try:
            moved = os.stat(self.path).st_ino != self._inode
        except FileNotFoundError:
            moved = True
        if moved:
            fd, self._inode = self._open()
            self._retired.append(self._fd)
            self._fd = fd

    def _start_sync(self) -> None:
        self._syncing = None
        if self._sync_task is not None and not self._sync_task.done():  # one at a time
            self._syncing = asyncio.get_running_loop().call_later(SYNC_EVERY, self._start_sync)
            return
        self._sync_task = asyncio.get_running_loop().create_task(self._sync())

    async def _sync(self) -> None:
        retired, self._retired = self._retired, []
        try:
            await asyncio.to_thread(_fsync, [*retired, self._fd])
        except OSError as exc:
            log.error("queue_log %s could not be synced: %s", self.path, exc)
        for fd in retired:
            os.close(fd)

    async def close(self) -> None:
        """At a stop: what was written synced, the file closed."""
        self._closed = True
        if self._syncing is not None:
            self._syncing.cancel()
        if self._sync_task is not None:
            await asyncio.wait([self._sync_task])
        await self._sync()
        os.close(self._fd)


def _fsync(fds: list[int]) -> None:
    for fd in fds:
        os.fsync(fd)
