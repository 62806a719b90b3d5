"""The call log's write-ahead spool: every event on local disk before the database sees it.

Events are appended, one JSON line each, to numbered segment files in ``<data>/spool``. The
database writer reads them back in order and, once a batch is committed, records how far it
got in ``sent`` (written atomically, at most once a second under load: a crash may send the
last second again). A segment wholly sent is deleted. So an event survives a database outage,
a service restart and a crash between the two (the writer skips what the database already
holds, by the event's id). The events this process appended are also kept in memory until
sent, so the writer takes them from there rather than reading and parsing them again: the
files are read only for what an earlier process left, or past a long outage's worth.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from hotline.events import CallEvent
from hotline.store.journal import append_whole
from routing.events import CallEnded

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Position:
    """A place in the spool: a segment and a byte offset in it."""

    segment: int
    offset: int


#: Seconds between two writes of the ``sent`` marker while a backlog remains (each is a file
#: written and renamed; the database's own check by event id makes a late marker harmless).
MARK_EVERY = 1.0
#: Events kept in memory for the writer (about 50 MB; past it, the rest is read from disk).
FRESH_MAX = 100_000


class Spool:
    """Append-only event segments plus the position the database has reached."""

    def __init__(
        self, folder: Path, segment_bytes: int = 16 * 1024 * 1024, mark_every: float = MARK_EVERY
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.segment_bytes = segment_bytes
        self.mark_every = mark_every
        self._marker = folder / "sent"
        self.sent = self._read_marker()
        #: Where the marker on disk points, and when it was written.
        self._marked, self._marked_at = self.sent, time.monotonic()
        segments = self.segments()
        self._segment = max(segments[-1] if segments else 1, self.sent.segment)
        self._repair_tail(self._path(self._segment))
        self._fd = self._open(self._segment)
        self._size = os.fstat(self._fd).st_size
        #: Segments finished since the last sync: synced, then closed, by the next one.
        self._retired: list[int] = []
        self._lock = threading.Lock()
        #: Events written here and not yet in the database.
        self.backlog = sum(1 for _ in self._lines(self.sent))
        #: The latest events appended by this process and not yet sent, each with the
        #: position after it, in one unbroken run from ``_fresh_from``.
        self._fresh: deque[tuple[CallEvent, Position]] = deque()
        self._fresh_from = Position(0, 0)

    # -- writing ---------------------------------------------------------------------------
    def _open(self, segment: int) -> int:
        return os.open(self._path(segment), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def append(self, event: CallEvent) -> None:
        """One event, handed to the OS when this returns (synced by :meth:`sync`). On an
        error (a full disk) the segment is left as it was, without half a line, and the error
        raised: the event is not in the spool."""
        before = Position(self._segment, self._size)
        if self._size >= self.segment_bytes:
            fd = self._open(self._segment + 1)
            with self._lock:  # a sync in another thread may be on the old one now
                self._retired.append(self._fd)
                self._segment, self._fd, self._size = self._segment + 1, fd, 0
        line = (json.dumps(event.as_json(), ensure_ascii=False) + "\n").encode()
        append_whole(self._fd, line, self._size, "spool")
        self._size += len(line)
        self.backlog += 1
        if not self._fresh:  # (a run begins; one grown too long waits to be sent first)
            self._fresh_from = before
        elif self._fresh[-1][1] != before or len(self._fresh) >= FRESH_MAX:
            return
        self._fresh.append((event, Position(self._segment, self._size)))

    def sync(self) -> None:
        """Everything appended so far on disk. Blocks on a busy disk (seconds, at worst): the
        service runs it in a thread, one at a time, while :meth:`append` goes on."""
        with self._lock:
            retired, self._retired = self._retired, []
            fd = self._fd
        for old in retired:
            try:
                os.fsync(old)
            except OSError:
                with self._lock:
                    self._retired.insert(0, old)  # the next sync tries it again
                raise
            os.close(old)
        os.fsync(fd)

    def close(self) -> None:
        if self.sent != self._marked:
            self.mark()
        for fd in (*self._retired, self._fd):
            os.close(fd)

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------
    def read(self, start: Position, limit: int = 500) -> tuple[list[CallEvent], Position, int]:
        """Up to ``limit`` events from ``start``, the position after them and the number of
        lines read. A line that cannot be read is logged, kept in ``rejected.jsonl`` and
        passed over (counted as read: it leaves the backlog with the events around it)."""
        if self._fresh and start == self._fresh_from:  # appended here: as they were
            taken = list(islice(self._fresh, limit))
            return [event for event, _ in taken], taken[-1][1], len(taken)
        events: list[CallEvent] = []
        position = start
        lines = 0
        for line, after in self._lines(start):
            position = after
            lines += 1
            try:
                events.append(CallEvent.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                log.error("spool %s: unreadable event set aside (%s)", after, exc)
                self.reject(line)
            if len(events) >= limit:
                break
        return events, position, lines

    def commit(self, position: Position, count: int) -> None:
        """The database holds everything before ``position`` (``count`` lines more)."""
        if self.advance(position, count):
            self.mark()

    def advance(self, position: Position, count: int) -> bool:
        """:meth:`commit` in memory; True when the marker is due (then :meth:`mark`, which
        may run in another thread)."""
        self.sent = position
        self.backlog = max(0, self.backlog - count)
        fresh = self._fresh
        while fresh and fresh[0][1] <= position:
            fresh.popleft()
        self._fresh_from = max(self._fresh_from, position)
        return not self.backlog or time.monotonic() - self._marked_at >= self.mark_every

    def mark(self) -> None:
        """Write the marker; delete the segments wholly before it."""
        position = self.sent
        tmp = self._marker.with_suffix(".tmp")
        tmp.write_text(json.dumps({"segment": position.segment, "offset": position.offset}))
        os.replace(tmp, self._marker)
        if position.segment > self._marked.segment:
            for segment in self.segments():
                if segment < position.segment:
                    self._path(segment).unlink(missing_ok=True)
        self._marked, self._marked_at = position, time.monotonic()

    def roll(self) -> bool:
        """Once the database holds everything: go on in a new segment, and delete the old
        one, so that no event (a number retention or an erasure removed from the database)
        stays in the spool until its segment fills up. Whether it rolled."""
        if self.backlog or self.sent != Position(self._segment, self._size):
            return False
        fd = self._open(self._segment + 1)
        with self._lock:  # a sync in another thread may be on the old one now
            self._retired.append(self._fd)
            self._segment, self._fd, self._size = self._segment + 1, fd, 0
        self.sent = Position(self._segment, 0)
        self.mark()
        return True

    def reject(self, line: str) -> None:
        with (self.folder / "rejected.jsonl").open("a", encoding="utf-8") as out:
            out.write(line.rstrip("\n") + "\n")

    def last_seq(self) -> dict[str, int]:
        """The last number of each call not yet ended in the unsent events (to go on)."""
        seqs: dict[str, int] = {}
        for event in self.read(self.sent, limit=10**9)[0]:
            if event.call_id:
                seqs[event.call_id] = max(seqs.get(event.call_id, 0), event.seq)
                if isinstance(event.fact, CallEnded):
                    seqs.pop(event.call_id)
        return seqs

    # -- files -----------------------------------------------------------------------------
    def segments(self) -> list[int]:
        found = []
        for path in self.folder.glob("events-*.jsonl"):
            try:
                found.append(int(path.stem.removeprefix("events-")))
            except ValueError:
                continue
        return sorted(found)

    def _path(self, segment: int) -> Path:
        return self.folder / f"events-{segment:06d}.jsonl"

    def _lines(self, start: Position) -> Iterator[tuple[str, Position]]:
        for segment in self.segments():
            if segment < start.segment:
                continue
            offset = start.offset if segment == start.segment else 0
            with self._path(segment).open("rb") as segment_file:
                segment_file.seek(offset)
                for raw in segment_file:
                    if not raw.endswith(b"\n"):
                        return  # being written: read it next time
                    offset += len(raw)
                    yield raw.decode("utf-8", errors="replace"), Position(segment, offset)
            # this segment is done; go on at the start of the next one
            start = Position(segment + 1, 0)

    def _read_marker(self) -> Position:
        try:
            raw = json.loads(self._marker.read_text())
            return Position(int(raw["segment"]), int(raw["offset"]))
        except FileNotFoundError:
            return Position(0, 0)
        except (ValueError, KeyError, TypeError):
            log.error("%s is unreadable: the whole spool will be sent again", self._marker)
            return Position(0, 0)

    @staticmethod
    def _repair_tail(path: Path) -> None:
        """A crash may have left half a line: end it, so it is set aside, not glued on."""
        if path.exists() and path.stat().st_size:
            with path.open("rb+") as segment:
                segment.seek(-1, os.SEEK_END)
                if segment.read(1) != b"\n":
                    segment.write(b"\n")
