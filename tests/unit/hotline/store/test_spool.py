"""The spool: in order, durable across restarts, nothing sent twice, nothing lost."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline.events import CallEvent
from hotline.store import spool as spool_module
from hotline.store.calllog import CallLog
from hotline.store.db import Store
from hotline.store.spool import Position, Spool
from routing.events import CallEnded, CallStarted, MenuAnswer

AT = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def event(n: int, call: str = "c1", ended: bool = False) -> CallEvent:
    fact = CallEnded("answered") if ended else MenuAnswer("main", str(n))
    return CallEvent(call, n, AT, fact, f"id{n}")


def test_events_come_back_in_order_and_the_marker_survives_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for n in range(1, 8):
        spool.append(event(n))
    assert spool.backlog == 7
    first, after, _ = spool.read(spool.sent, limit=3)
    assert [e.id for e in first] == ["id1", "id2", "id3"]
    spool.commit(after, len(first))
    assert spool.backlog == 4
    spool.close()

    with Spool(tmp_path) as again:  # a restart: what was sent is not read again
        assert again.backlog == 4
        rest, end, _ = again.read(again.sent)
        assert [e.id for e in rest] == ["id4", "id5", "id6", "id7"]
        assert rest[0] == event(4)
        again.commit(end, len(rest))
        assert again.read(again.sent) == ([], end, 0)


def test_segments_rotate_and_sent_ones_are_deleted(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=300) as spool:
        for n in range(1, 21):
            spool.append(event(n))
        assert len(spool.segments()) > 3
        events, after, _ = spool.read(Position(0, 0), limit=1000)
        assert [e.seq for e in events] == list(range(1, 21))
        spool.commit(after, len(events))
        assert spool.segments() == [after.segment]  # only the one being written is kept
        spool.append(event(21))
        more, _, _ = spool.read(spool.sent)
        assert [e.seq for e in more] == [21]


def test_a_half_written_line_is_set_aside_and_the_rest_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(event(1))
    spool.close()
    segment = tmp_path / "events-000001.jsonl"
    with segment.open("a") as out:
        out.write('{"id": "torn", "call_id": "c1", "se')  # the process died mid-write
    with Spool(tmp_path) as spool:
        spool.append(event(2))
        events, _, _ = spool.read(spool.sent)
    assert [e.id for e in events] == ["id1", "id2"]
    assert "torn" in (tmp_path / "rejected.jsonl").read_text()


def test_numbering_goes_on_for_calls_under_way(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        for n in (1, 2, 3):
            spool.append(event(n, "c1"))
        spool.append(event(1, "c2"))
        spool.append(event(2, "c2", ended=True))
        assert spool.last_seq() == {"c1": 3}


class FullDisk:
    """os.write as on a disk that fills up: part of the first write, then ENOSPC, until
    ``free`` is set."""

    def __init__(self) -> None:
        self.real = os.write
        self.full = True
        self.calls = 0

    def __call__(self, fd: int, data: bytes) -> int:
        if not self.full:
            return self.real(fd, data)
        self.calls += 1
        if self.calls == 1:
            return self.real(fd, data[:7])
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_leaves_no_half_event_in_the_spool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Spool(tmp_path) as spool:
        spool.append(event(1))
        disk = FullDisk()
        monkeypatch.setattr(os, "write", disk)
        with pytest.raises(OSError, match="No space"):
            spool.append(event(2))
        disk.full = False
        spool.append(event(3))
        events, _, _ = spool.read(spool.sent)
        assert [e.seq for e in events] == [1, 3]
        assert not (tmp_path / "rejected.jsonl").exists()


async def test_the_call_log_keeps_events_in_memory_while_the_disk_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
    call_log = CallLog(Spool(tmp_path / "spool"), store)
    disk = FullDisk()
    monkeypatch.setattr(os, "write", disk)
    for n in range(1, 4):
        call_log(event(n))
    assert call_log.disk_error is not None and "No space" in call_log.disk_error
    assert (call_log.unwritten, call_log.backlog) == (3, 3)
    disk.full = False
    await asyncio.sleep(1.2)  # the next try
    assert call_log.unwritten == 0 and call_log.spool.backlog == 3
    events, _, _ = call_log.spool.read(call_log.spool.sent)
    assert [e.seq for e in events] == [1, 2, 3]  # in order
    await asyncio.sleep(0.1)  # the sync after it
    assert call_log.disk_error is None
    await call_log.close()
    await store.close()


async def test_the_spool_is_synced_within_50_ms_even_with_the_database_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")  # never reached
    call_log = CallLog(Spool(tmp_path / "spool"), store)
    synced: list[float] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(time.monotonic()), real_fsync(fd)))
    started = time.monotonic()
    for n in range(1, 20):
        call_log(event(n))
    await asyncio.sleep(0.12)
    assert len(synced) == 1 and synced[0] - started < 0.1  # one sync for the burst, soon
    await call_log.close()
    await store.close()


async def test_a_slow_disk_never_holds_up_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An fsync that takes a second (a busy disk) runs beside the event loop: every call
    goes on meanwhile, and nothing is lost, across new segments too."""
    store = Store("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")  # never reached
    call_log = CallLog(Spool(tmp_path / "spool", segment_bytes=100), store)  # one per event
    real_fsync = os.fsync
    synced: list[int] = []

    def slow(fd: int) -> None:
        time.sleep(1)
        real_fsync(fd)
        synced.append(fd)

    monkeypatch.setattr(os, "fsync", slow)
    call_log(event(1))
    await asyncio.sleep(0.1)  # its sync has begun, in a thread
    started = time.monotonic()
    for n in range(2, 6):
        call_log(event(n))
        await asyncio.sleep(0.01)
    assert time.monotonic() - started < 0.5  # the loop never waited for the disk
    assert not synced
    await call_log.close()  # waits for the syncs, then syncs and closes every segment
    assert len(synced) >= 5
    assert Spool(tmp_path / "spool").backlog == 5
    await store.close()


def test_under_load_the_marker_is_written_at_most_every_so_often(tmp_path: Path) -> None:
    """A marker behind the database only sends some events again (the database skips them
    by id); one written per batch would cost a file write and a rename each."""
    spool = Spool(tmp_path, mark_every=3600)
    for n in range(1, 8):
        spool.append(event(n))
    first, after, _ = spool.read(spool.sent, limit=3)
    spool.commit(after, len(first))
    assert not (tmp_path / "sent").exists()  # a backlog remains: not yet
    assert Spool(tmp_path).backlog == 7  # a crash now: all seven are read again
    rest, end, _ = spool.read(spool.sent)
    spool.commit(end, len(rest))
    assert Spool(tmp_path).backlog == 0  # caught up: written at once
    spool.append(event(8))
    spool.close()
    assert Spool(tmp_path).backlog == 1


def test_a_spool_the_database_holds_wholly_rolls_over_and_its_old_events_are_gone(
    tmp_path: Path,
) -> None:
    """(retention and erasure: no event stays in a segment that fills up in a year)"""
    with Spool(tmp_path / "spool") as spool:
        spool.append(CallEvent("c1", 1, AT, CallStarted("380501234567", "0800213103"), "e1"))
        spool.sync()
        assert not spool.roll()  # not in the database yet
        _, after, lines = spool.read(spool.sent)
        spool.commit(after, lines)
        assert spool.roll()
        on_disk = b"".join(p.read_bytes() for p in (tmp_path / "spool").glob("events-*"))
        assert b"380501234567" not in on_disk
        spool.append(CallEvent("c2", 1, AT, CallStarted("380509999999", "0800213103"), "e2"))
        spool.sync()
        assert [e.call_id for e in spool.read(spool.sent)[0]] == ["c2"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.one_of(st.integers(1, 9), st.integers(-12, -1)), max_size=40),
    fresh_max=st.integers(1, 12),
)
def test_the_writer_reads_what_was_appended_in_order_from_memory_or_disk(
    tmp_path_factory: pytest.TempPathFactory, steps: list[int], fresh_max: int
) -> None:
    """Appends (n events) and the writer's batches (up to -n) in any order, across segments
    and past what memory keeps: every event once, in order, equal to what was appended; and a
    restarted process, reading the files alone, finds the same backlog."""
    folder = tmp_path_factory.mktemp("spool")
    appended: list[CallEvent] = []
    sent: list[CallEvent] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spool_module, "FRESH_MAX", fresh_max)
        spool = Spool(folder, segment_bytes=400)
        for step in steps:
            if step > 0:
                for _ in range(step):
                    appended.append(event(len(appended) + 1))
                    spool.append(appended[-1])
            else:
                events, after, lines = spool.read(spool.sent, limit=-step)
                sent += events
                spool.commit(after, lines)
            assert sent == appended[: len(sent)]
            assert spool.backlog == len(appended) - len(sent)
        spool.close()
    with Spool(folder) as again:
        rest, _, _ = again.read(again.sent, limit=1000)
        assert sent + rest == appended


def test_the_events_this_process_appended_are_not_read_back_from_disk(tmp_path: Path) -> None:
    """Read back, each would be parsed again: the writer takes them as they were."""
    with Spool(tmp_path) as spool:
        spool.append(event(1))
        first, after, _ = spool.read(spool.sent)  # (a new spool: its start is read from disk)
        spool.commit(after, len(first))
        appended = [event(2), event(3)]
        for each in appended:
            spool.append(each)

        def from_disk(start: Position) -> None:
            raise AssertionError(f"read from disk at {start}")

        spool._lines = from_disk  # type: ignore[method-assign]
        events, after, lines = spool.read(spool.sent)
        assert lines == 2
        assert all(got is was for got, was in zip(events, appended, strict=True))
        spool.commit(after, lines)
        assert spool.backlog == 0
