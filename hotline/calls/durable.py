"""What the switchboard promised, kept on disk so that a restart (a deploy's SIGTERM, a crash's
SIGKILL) breaks no promise: the callers to call back, with their place and their retry
schedule, and who was logged in or paused.

- ``callbacks.jsonl`` (a :class:`~hotline.store.journal.Journal`): a callback is synced here
  *before* the caller hears that they will be called back; every attempt updates it; its end
  closes it. At start the open ones come back in their original order; the file is compacted.
- ``operators.json``: each operator's logged-in or paused state (with the reason), rewritten
  atomically when it changes (in a thread: a busy disk never holds up the event loop). At
  start they are logged in (or paused) again: a deploy does not log every lawyer out behind
  their back.
- ``shelters.json``: the offices in shelter (an air-raid alert), since when, until when, by
  whom; rewritten as ``operators.json`` is. An office in shelter stays in it across a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from agents.state import State
from hotline.store.journal import Journal, write_atomically
from routing.queue import Shelter
from routing.signals import Pending

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingCallback:
    """A callback as kept on disk: where it stands, and the call's last event number then
    (its log numbers on from there after a restart)."""

    pending: Pending
    seq: int = 0

    def as_json(self) -> dict[str, Any]:
        raw = asdict(self.pending)
        raw["entered"] = self.pending.entered.isoformat()
        raw["next_try"] = self.pending.next_try.isoformat() if self.pending.next_try else None
        raw["seq"] = self.seq
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PendingCallback:
        known = {f.name for f in fields(Pending)}
        values = {k: v for k, v in raw.items() if k in known}
        values["entered"] = datetime.fromisoformat(values["entered"])
        if values.get("next_try"):
            values["next_try"] = datetime.fromisoformat(values["next_try"])
        return cls(Pending(**values), int(raw.get("seq", 0)))


#: An operator's state as kept: logged in (available) or paused with a reason.
Presence = tuple[State, str | None]


class Durable:
    """The switchboard's promises on disk, in the service's data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.callbacks_journal = Journal(data_dir / "callbacks.jsonl")
        self.operators_file = JsonFile(data_dir / "operators.json")
        self.shelters_file = JsonFile(data_dir / "shelters.json")
        self.callbacks: dict[str, PendingCallback] = {}
        for raw in self.callbacks_journal.records():
            try:
                if "done" in raw:
                    self.callbacks.pop(str(raw["done"]), None)
                else:
                    kept = PendingCallback.from_json(raw["pending"])
                    self.callbacks[kept.pending.call] = kept
            except (KeyError, TypeError, ValueError) as exc:
                log.error("%s: unreadable record skipped (%s)", self.callbacks_journal.path, exc)
        self.compact()
        self._presence: dict[str, Presence] = self._read_operators()
        self._shelters: tuple[Shelter, ...] = self._read_shelters()

    # -- callbacks -------------------------------------------------------------------------
    def compact(self) -> None:
        """Keep only the open callbacks in the file (at start; after an erasure, so that an
        erased number is gone from it)."""
        try:
            self.callbacks_journal.rewrite(
                {"pending": p.as_json()} for p in self.callbacks.values()
            )
        except OSError as exc:  # a full disk: the uncompacted file is as good
            log.warning("%s: not compacted: %s", self.callbacks_journal.path, exc)

    def keep(self, kept: PendingCallback) -> None:
        """Store a callback (or its progress) on disk; OSError if it could not be."""
        self.callbacks_journal.append({"pending": kept.as_json()})
        self.callbacks[kept.pending.call] = kept

    async def kept(self) -> None:
        """Every callback stored so far on disk (synced in a thread; a failure is logged)."""
        await self.callbacks_journal.settled()

    def close(self, call: str) -> None:
        """The callback is over (made, given up, or its notification handled)."""
        if self.callbacks.pop(call, None) is None:
            return
        try:
            self.callbacks_journal.append({"done": call})
        except OSError as exc:  # at worst the caller is called once more after a restart
            log.error("callback of %s: its end could not be stored: %s", call, exc)

    # -- operators and shelters -----------------------------------------------------------
    def presence(self) -> dict[str, Presence]:
        """Each operator's state when last stored (logged-out ones are not listed)."""
        return dict(self._presence)

    def operators_changed(self, now: Mapping[str, Presence]) -> None:
        """Store who is logged in or paused (:func:`routing.queue.presence`), if that
        changed: in a thread, the newest state last; a failure is only logged (and tried
        again at the next change)."""
        if now == self._presence:
            return
        self._presence = dict(now)
        raw = {op: {"state": s.value, "reason": why} for op, (s, why) in now.items()}
        self.operators_file.store(raw)

    def shelters(self) -> tuple[Shelter, ...]:
        """The offices in shelter when last stored."""
        return self._shelters

    def shelters_changed(self, now: tuple[Shelter, ...]) -> None:
        """Store the offices in shelter (as :meth:`operators_changed` does)."""
        self._shelters = now
        self.shelters_file.store(
            [
                {
                    "office": s.office,
                    "since": s.since.isoformat(),
                    "by": s.by,
                    "until": s.until.isoformat() if s.until else None,
                }
                for s in now
            ]
        )

    async def flush(self) -> None:
        """Wait until the operators' states and the shelters are on disk (before an operator
        is told their change, and at a stop)."""
        await self.operators_file.flush()
        await self.shelters_file.flush()

    def _read_operators(self) -> dict[str, Presence]:
        raw = self.operators_file.read()
        try:
            return {
                str(op): (State(value["state"]), value.get("reason"))
                for op, value in (raw or {}).items()
                if value["state"] in (State.AVAILABLE, State.PAUSED)
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("%s is unreadable (%s): everyone starts logged out", self.operators_file, exc)
            return {}

    def _read_shelters(self) -> tuple[Shelter, ...]:
        raw = self.shelters_file.read()
        try:
            return tuple(
                Shelter(
                    str(s["office"]),
                    datetime.fromisoformat(s["since"]),
                    str(s["by"]),
                    datetime.fromisoformat(s["until"]) if s.get("until") else None,
                )
                for s in raw or []
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("%s is unreadable (%s): no office starts in shelter", self.shelters_file, exc)
            return ()


class JsonFile:
    """A small JSON file rewritten whole (atomically, in a thread: a busy disk never holds up
    the event loop), the newest value last; a failure is logged and tried again at the next
    change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._value: Any = None
        self._writer: asyncio.Task[None] | None = None

    def __str__(self) -> str:
        return str(self.path)

    def read(self) -> Any:
        """Its value (None: no file, or unreadable: said in the log)."""
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.error("%s is unreadable (%s)", self.path, exc)
            return None

    def store(self, value: Any) -> None:
        self._value = value
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        written = None
        while written != self._value:
            written = self._value
            text = json.dumps(written, indent=1) + "\n"
            try:
                await asyncio.to_thread(write_atomically, self.path, text)
            except OSError as exc:
                log.error("%s: not stored: %s", self.path, exc)
                return

    async def flush(self) -> None:
        if self._writer is not None:
            await asyncio.wait([self._writer])
