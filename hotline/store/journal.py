"""Small durable files for promises made to callers: each record is on disk (fsync) before the
caller hears of it.

A :class:`Journal` is an append-only file of JSON lines. ``append`` returns once the record is
written whole (a crash of the process loses nothing then); when the disk is full it leaves the
file as it was and raises, so the caller is never told of what was not stored. The sync to
disk (against a power cut) never blocks the event loop: an fsync may take seconds on a busy
disk, and every call, the API and AMI wait on that loop. Inside one, ``append`` starts the sync
in a thread (one at a time, covering every record written so far), and what must not be said
to a caller before it is on disk awaits :meth:`Journal.synced` first. Outside a loop (start-up,
the command line) it syncs at once. A crash can tear only the last line (never synced, so
never acknowledged): at start the torn bytes are set aside in ``<name>.torn`` and cut off, so
the next record starts on a line of its own instead of being glued to them and lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def sync_folder(folder: Path) -> None:
    """Make a file's creation or rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_file(path: Path) -> bool:
    """Sync a file someone else wrote (Asterisk's recording) and its folder to disk; False
    (logged) when it is not there to sync: Asterisk's spool is not shared with this machine."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        log.warning("cannot sync %s: %s (is Asterisk's spool shared with the service?)", path, exc)
        return False
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    sync_folder(path.parent)
    return True


def append_whole(fd: int, data: bytes, size: int, name: object, sync: bool = False) -> None:
    """Append ``data`` to the file open as ``fd`` (O_APPEND, ``size`` bytes long until now),
    synced too with ``sync``, or nothing of it: on an error (a full disk may take part of a
    write) the file is cut back to ``size`` and the error raised, so that no half line is
    left for the next one to be glued to. ``name`` says which file in the log."""
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        if sync:
            os.fsync(fd)
    except OSError:
        try:
            os.ftruncate(fd, size)
        except OSError:
            log.exception("%s: could not cut a partial line", name)
        raise


def _fsync_path(path: Path) -> None:
    """Sync the file at ``path`` (an fsync of any descriptor of a file syncs all of it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: the old content or the new, never half of either."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


class Journal:
    """Append-only JSON lines, each written whole by ``append`` and synced in a thread
    (:meth:`synced`)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        #: Records written, and records known to be on disk (counted since the start).
        self._written = 0
        self._synced = 0
        self._syncing: asyncio.Task[None] | None = None
        #: Why the last sync failed (None: it did not).
        self._failed: OSError | None = None
        self._repair()

    def _repair(self) -> None:
        """Set aside and cut off a torn last line (a crash in the middle of a write)."""
        if not self.path.exists():
            return
        with self.path.open("rb+") as journal:
            data = journal.read()
            if not data or data.endswith(b"\n"):
                return
            keep = data.rfind(b"\n") + 1
            with self.path.with_name(self.path.name + ".torn").open("ab") as aside:
                aside.write(data[keep:] + b"\n")
            journal.truncate(keep)
            journal.flush()
            os.fsync(journal.fileno())
        log.error(
            "%s: a torn last record (%d bytes, never acknowledged) was set aside in %s.torn",
            self.path,
            len(data) - keep,
            self.path.name,
        )

    def records(self) -> Iterator[dict[str, Any]]:
        """Every readable record, in order; an unreadable line is logged and passed over."""
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8", errors="replace") as journal:
            for number, line in enumerate(journal, 1):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                if isinstance(record, dict):
                    yield record
                else:
                    log.error("%s:%d: unreadable record skipped", self.path, number)

    def append(self, record: dict[str, Any]) -> None:
        """Write ``record`` whole; on any error (a full disk) the file is left as it was and
        the error raised: the record is not stored. Synced at once outside an event loop;
        inside one, in a thread right after (:meth:`synced`)."""
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            append_whole(fd, line, os.lseek(fd, 0, os.SEEK_END), self.path, sync=loop is None)
        finally:
            os.close(fd)
        self._written += 1
        if loop is None:
            self._synced = self._written
        elif self._syncing is None or self._syncing.done():
            self._syncing = loop.create_task(self._sync())

    async def synced(self) -> None:
        """Return once every record appended so far is on disk (OSError if it cannot be)."""
        target = self._written
        while self._synced < target:
            if self._syncing is None or self._syncing.done():
                self._syncing = asyncio.get_running_loop().create_task(self._sync())
            # (shielded: a caller who hangs up does not stop the sync the others wait for)
            await asyncio.shield(self._syncing)
            if self._synced < target and self._failed is not None:
                raise self._failed

    async def settled(self) -> bool:
        """:meth:`synced`, for what goes on either way: False (logged) if the sync failed
        (the records are written, and kept unless the machine loses power)."""
        try:
            await self.synced()
        except OSError:
            return False
        return True

    async def _sync(self) -> None:
        """fsync in a thread until every record written so far is on disk."""
        while self._synced < self._written:
            target = self._written
            try:
                await asyncio.to_thread(_fsync_path, self.path)
            except OSError as exc:
                self._failed = exc
                log.error("%s: not synced to disk: %s", self.path, exc)
                return
            self._failed = None
            self._synced = target

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        """Replace every record with ``records`` (compaction), atomically."""
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        written = self._written
        write_atomically(self.path, text)  # (synced: a compaction, at start-up or rarely)
        self._synced = max(self._synced, written)
