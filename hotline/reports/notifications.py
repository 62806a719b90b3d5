"""Detention notifications: never lost.

A detention caller nobody answered in time leaves a recorded message and a callback number.
Both are written to disk and synced **before** the reference number is read back, so a
reference a caller heard always exists. The notification stays open, and is called back by
the next free operator, until an operator marks it handled.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from hotline.asterisk.agi import AgiCallIO, AgiChannel, CallerHungUp
from hotline.asterisk.dialplan import Result, Var
from hotline.calls.switchboard import CallbackRefused, Switchboard
from hotline.reports.references import References
from hotline.store.journal import Journal, sync_file
from hotline.vault.spool import SpoolDoor
from ivr import Prompt
from routing.events import NotificationStored

log = logging.getLogger(__name__)

#: Where Asterisk records the messages (inside its own file system).
RECORDINGS = "/var/spool/asterisk/hotline/notifications"


@dataclass
class Notification:
    ref: str
    call: str
    line: str
    caller: str
    number: str
    recording: str
    at: datetime
    complete: bool
    handled_at: datetime | None = None
    handled_by: str | None = None
    #: The operator who took it by phone, talking to the caller (no recording then).
    taken_by: str | None = None
    #: How it was handled (``queues.notification_outcomes``), and the handler's note.
    outcome: str | None = None
    note: str | None = None
    #: What operators did with it, oldest first: {"at", "by", "kind": played|called, ...}.
    done: list[dict[str, Any]] = field(default_factory=list)
    #: The caller's language (the family is told of the report in it).
    language: str | None = None

    def overdue(self, now: datetime, target: float) -> bool:
        """Open for longer than ``target`` seconds."""
        return self.handled_at is None and (now - self.at).total_seconds() > target

    def stored(self) -> NotificationStored:
        """The event that told of it."""
        return NotificationStored(
            self.ref,
            self.line,
            self.caller,
            self.number,
            self.complete,
            self.recording or None,
            self.taken_by,
            self.language,
        )

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        out["handled_at"] = self.handled_at.isoformat() if self.handled_at else None
        out["open"] = self.handled_at is None
        del out["done"], out["note"]  # (the history and the note: for those who may see them)
        return out


class UnknownNotification(Exception):
    """No notification has that reference."""


class NotificationStore:
    """notifications.jsonl in the data folder: every record synced to disk as it is written
    (:class:`hotline.store.journal.Journal`: a torn last record is repaired at start)."""

    def __init__(self, data_dir: Path) -> None:
        self.journal = Journal(data_dir / "notifications.jsonl")
        self.path = self.journal.path
        self.items: dict[str, Notification] = {}
        #: Where new references come from (reserved in the shared database: unique across
        #: instances); None: chosen here, unique among this instance's own.
        self.references: References | None = None
        for raw in self.journal.records():
            try:
                self._apply(raw)
            except (ValueError, KeyError, TypeError):
                log.error("%s: unreadable notification record skipped: %.80r", self.path, raw)

    def _apply(self, raw: dict[str, Any]) -> None:
        if "handled" in raw:
            item = self.items[raw["handled"]]
            item.handled_at = datetime.fromisoformat(raw["at"])
            item.handled_by = raw.get("by")
            item.outcome, item.note = raw.get("outcome"), raw.get("note")
        elif "did" in raw:
            done = dict(raw)
            self.items[done.pop("did")].done.append(done)
        else:
            raw = dict(raw)
            raw["at"] = datetime.fromisoformat(raw["at"])
            self.items[raw["ref"]] = Notification(**raw)

    def _write(self, raw: dict[str, Any]) -> None:
        self.journal.append(raw)

    def new_reference(self) -> str:
        if self.references is not None:
            return self.references.take(self.items)
        while (ref := f"{secrets.randbelow(900_000) + 100_000}") in self.items:
            pass
        return ref

    def add(self, item: Notification) -> Notification:
        raw = asdict(item)
        raw["at"] = item.at.isoformat()
        for later in ("handled_at", "handled_by", "outcome", "note", "done"):
            del raw[later]
        self._write(raw)
        self.items[item.ref] = item
        return item

    def take(
        self,
        call: str,
        line: str,
        caller: str,
        number: str,
        by: str,
        at: datetime,
        language: str | None = None,
    ) -> Notification:
        """An operator took the notification by phone: stored (synced) before its reference
        is read out to the caller (OSError: it could not be, and no reference exists)."""
        return self.add(
            Notification(
                self.new_reference(),
                call,
                line,
                caller,
                number,
                "",
                at,
                True,
                taken_by=by,
                language=language,
            )
        )

    def handle(
        self,
        ref: str,
        by: str,
        at: datetime,
        outcome: str | None = None,
        note: str | None = None,
    ) -> Notification:
        """Close it: who, how (``outcome``), with their ``note`` (a second close changes
        nothing)."""
        item = self.items.get(ref)
        if item is None:
            raise UnknownNotification(ref)
        if item.handled_at is None:
            raw = {"handled": ref, "by": by, "at": at.isoformat()}
            self._write({**raw, "outcome": outcome, "note": note})
            item.handled_at, item.handled_by = at, by
            item.outcome, item.note = outcome, note
        return item

    def merge(self, shared: Iterable[Notification]) -> int:
        """On taking over (a standby, HOTLINE_HA): the notifications the database holds,
        ``shared``. One this instance never saw (another took it) is added; one open here
        that another instance handled is closed. Each kept in the file as if taken here.
        Returns how many changed."""
        changed = 0
        for item in shared:
            mine = self.items.get(item.ref)
            if mine is not None and mine.call != item.call:
                log.error(  # (chosen alone by two instances: the call log keeps both)
                    "notification %s of call %s is call %s's in the call log: not merged",
                    item.ref,
                    mine.call,
                    item.call,
                )
                continue
            base, _, apart = item.ref.partition("~")
            if apart and (same := self.items.get(base)) is not None and same.call == item.call:
                continue  # its own, kept here under the reference its caller heard
            if mine is None:
                opened = replace(item, handled_at=None, handled_by=None, outcome=None, note=None)
                mine = self.add(opened)
                changed += 1
            if mine.handled_at is None and item.handled_at is not None:
                by, at = item.handled_by or "", item.handled_at
                self.handle(item.ref, by, at, item.outcome, item.note)
                changed += 1
        return changed

    def forget(self, refs: Iterable[str]) -> list[Notification]:
        """Remove the reports ``refs`` (retention, erasure): from memory, and from the file,
        rewritten without a record of them (atomically; on the event loop, as every append
        is, so that none is lost to the rewrite). The reports removed; OSError: none was."""
        gone = {ref for ref in refs if ref in self.items}
        if not gone:
            return []
        self.journal.rewrite(r for r in self.journal.records() if _ref_of(r) not in gone)
        return [self.items.pop(ref) for ref in sorted(gone)]

    def did(self, ref: str, kind: str, by: str, at: datetime, **more: str) -> None:
        """An operator ``played`` its message, or ``called`` its number back (``call``: that
        call's id): kept in its history."""
        done = {"kind": kind, "by": by, "at": at.isoformat(), **more}
        self._write({"did": ref, **done})
        self.items[ref].done.append(done)

    def listing(self) -> list[Notification]:
        """Open ones first (oldest first), then the handled ones (newest first)."""
        items = list(self.items.values())
        open_ = sorted((n for n in items if n.handled_at is None), key=lambda n: n.at)
        done = sorted(
            (n for n in items if n.handled_at is not None), key=lambda n: n.at, reverse=True
        )
        return open_ + done


def _ref_of(record: dict[str, Any]) -> str | None:
    """The report a record of the file is about (its storing, handling, or a step of it)."""
    for key in ("handled", "did", "ref"):
        if key in record:
            return str(record[key])
    return None


class MessageRoute:
    """The AGI route ``message`` (and key 2 while waiting): record the details, take a number,
    store, read back the reference.

    Whatever interrupts the dialogue (the caller hanging up, an error of ours, the service
    stopping) keeps what was recorded: the notification is stored and called back. Only a
    caller who heard their reference was told it exists, and by then both the notification and
    the recording are synced to disk, the recording sealed in the vault (its plaintext gone
    from Asterisk's spool)."""

    def __init__(self, switchboard: Switchboard, store: NotificationStore, door: SpoolDoor) -> None:
        self.switchboard = switchboard
        self.store = store
        #: The vault beside Asterisk's spool: the recorded message is sealed through it.
        self.door = door

    async def message(self, channel: AgiChannel) -> None:
        call = channel.call
        board = self.switchboard
        waiting = board.waiting.get(call)
        if waiting is None:
            await channel.result(Result.WAIT)
            return
        language = await channel.get_variable(Var.LANGUAGE) or "en"
        io = AgiCallIO(channel)
        ref = self.store.new_reference()
        caller = board.callers.get(call, "")
        taken = Notification(
            ref,
            call,
            waiting.line,
            caller,
            caller,
            f"{RECORDINGS}/{ref}.wav",
            board.clock(),
            False,
            language=language,
        )
        urgent = board.deployment.lines[waiting.line].urgent
        board.hold(call, True)
        recorded = False
        try:
            await io.say([Prompt(language, "detention-message" if urgent else "leave-message")])
            recorded = True
            await channel.record_file(taken.recording.removesuffix(".wav"), seconds=120, silence=5)
            typed = (await io.collect(Prompt(language, "callback-number"), 8, 16)).rstrip("#")
            number = board.deployment.number(typed, line=waiting.line)
            if board.deployment.callbacks.refuses(number) is None:
                taken.number = number
            taken.complete = True
        except CallerHungUp:
            pass  # what was recorded so far is kept, and the caller is called back
        except BaseException as exc:
            # our fault, or the service stopping: what the caller said is kept, and the
            # dialplan's fallback queue takes them to a person (no HOTLINE_RESULT)
            log.warning("message of %s interrupted (%r); what was said is kept", call, exc)
            if recorded:
                # Asterisk may still be writing it (its Record goes on without us): synced
                # as it is now, and sealed once finished (SpoolDoor.seal_leftovers)
                # (in a thread, not waited for: this task is on its way out)
                loop = asyncio.get_running_loop()
                loop.run_in_executor(None, sync_file, self.door.message_file(taken.recording))
                self._keep(taken, recorded)
            else:
                board.let_go(call, "failed")
            raise
        if recorded:
            await self._seal(taken)
        if not self._keep(taken, recorded):
            return  # not stored (the disk): never read back; the fallback queue takes them
        if not taken.complete:
            return
        # on disk before the caller hears its reference (synced in a thread)
        await self.store.journal.settled()
        digits = [Prompt(language, f"number-{d}") for d in taken.ref]
        try:
            await io.say([Prompt(language, "detention-registered"), *digits, *digits])
        except CallerHungUp:
            return
        await channel.result(Result.DONE)

    async def _seal(self, taken: Notification) -> None:
        """The message, finished, sealed into the vault (synced, its plaintext removed), in a
        thread; should that fail (the vault's disk full), its plaintext synced where Asterisk
        wrote it, and sealed later."""
        try:
            await self.door.seal_message(taken.recording)
        except Exception as exc:
            log.error("message %s not sealed (sealed later): %s", taken.ref, exc)
            await asyncio.to_thread(sync_file, self.door.message_file(taken.recording))

    def _keep(self, taken: Notification, recorded: bool) -> bool:
        """Store the notification (its recording kept already), promise its callback; False
        when it could not be stored (a full disk: logged, and the caller is let go to a
        person)."""
        board = self.switchboard
        if not recorded:
            taken.recording = ""  # they hung up before the beep: called back all the same
        try:
            self.store.add(taken)
        except OSError as exc:
            log.error("notification %s of %s NOT stored: %s", taken.ref, taken.call, exc)
            board.let_go(taken.call, "failed", error=f"notification not stored: {exc}")
            return False
        log.info("detention notification %s stored (call %s)", taken.ref, taken.call)
        try:
            board.to_callback(
                taken.call,
                taken.number,
                reason="notification",
                notification=taken.ref,
                recording=taken.recording.removesuffix(".wav") or None,
            )
        except (CallbackRefused, OSError) as exc:  # logged; the notification stays open
            log.warning("notification %s: no callback (%s)", taken.ref, exc)
            board.hold(taken.call, False)
            board.hung_up(taken.call)
        board.emit(
            taken.call,
            taken.stored(),
        )
        return True
