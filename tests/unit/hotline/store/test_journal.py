"""The durable files behind promises to callers: synced records, torn tails set aside, a
full disk that leaves the file as it was."""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

import pytest

from hotline.store.journal import Journal


def test_records_come_back_in_order(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    for n in range(3):
        journal.append({"n": n})
    assert [r["n"] for r in Journal(tmp_path / "j.jsonl").records()] == [0, 1, 2]
    assert (tmp_path / "j.jsonl").stat().st_mode & 0o077 == 0


def test_a_torn_last_record_is_set_aside_and_the_next_one_kept(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"n": 0}\n{"n": 1, "tor')
    journal = Journal(path)
    journal.append({"n": 2})
    assert [r["n"] for r in Journal(path).records()] == [0, 2]
    assert (tmp_path / "j.jsonl.torn").read_text() == '{"n": 1, "tor\n'


def test_an_unreadable_line_is_passed_over(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_text('{"n": 0}\nnot json\n[1, 2]\n{"n": 3}\n')
    assert [r["n"] for r in Journal(path).records()] == [0, 3]


def test_a_full_disk_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    journal.append({"n": 0})
    real_write = os.write

    def half_then_full(fd: int, data: bytes) -> int:
        if half_then_full.calls == 0:  # type: ignore[attr-defined]
            half_then_full.calls = 1  # type: ignore[attr-defined]
            return real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    half_then_full.calls = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="No space"):
        journal.append({"n": 1, "padding": "x" * 100})
    monkeypatch.undo()
    assert path.read_text() == json.dumps({"n": 0}) + "\n"
    journal.append({"n": 2})
    assert [r["n"] for r in journal.records()] == [0, 2]


def test_rewrite_replaces_every_record_at_once(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    journal.append({"n": 0})
    journal.rewrite([{"n": 5}, {"n": 6}])
    assert [r["n"] for r in journal.records()] == [5, 6]
    assert not list(tmp_path.glob("*.tmp"))


async def test_a_record_written_from_the_event_loop_is_synced_in_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An fsync may take seconds on a busy disk: never on the loop every call waits on. The
    record is written at once (a crash of the process loses nothing), on disk once
    ``synced`` returns, every fsync made in another thread."""
    loop_thread = threading.get_ident()
    synced_in: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced_in.append(threading.get_ident())
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "j.jsonl"
    journal = Journal(path)
    for n in range(3):
        journal.append({"n": n})
    assert [r["n"] for r in Journal(path).records()] == [0, 1, 2]  # written already
    assert loop_thread not in synced_in, "append synced on the event loop's thread"
    await journal.synced()
    assert synced_in, "never synced"
    assert loop_thread not in synced_in, "an fsync on the event loop's thread"
    synced_in.clear()
    await journal.synced()  # nothing new: nothing more to sync
    assert synced_in == []


async def test_a_sync_that_fails_is_told_to_whoever_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal(tmp_path / "j.jsonl")

    def failing(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "fsync", failing)
    journal.append({"n": 0})
    with pytest.raises(OSError, match="I/O error"):
        await journal.synced()
    assert await journal.settled() is False
    monkeypatch.undo()
    journal.append({"n": 1})
    assert await journal.settled() is True
