"""Report references are unique across instances (the shared database decides, from a pool
reserved ahead that outlasts an outage and a restart), and the call log never lets a report
overwrite another call's report of the same reference: on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.events import CallEvent
from hotline.reports.notifications import NotificationStore
from hotline.reports.references import References
from hotline.store.db import Store
from hotline.store.projection import apart
from hotline.store.tables import Notification
from routing.events import NotificationHandled, NotificationStored
from tests.conftest import postgres_database

T0 = datetime(2026, 12, 6, 3, 10, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    found = Store(database_url)
    await found.upgrade()
    yield found
    await found.close()


def stored(call: str, seq: int, ref: str, number: str, minutes: float) -> CallEvent:
    fact = NotificationStored(ref, "detention", number, number, True, f"/x/{call}.wav")
    return CallEvent(call, seq, T0 + timedelta(minutes=minutes), fact, id=f"{call}-{seq}")


def handled(call: str, seq: int, ref: str, note: str, minutes: float) -> CallEvent:
    fact = NotificationHandled(ref, "op1", "family-informed", note)
    return CallEvent(call, seq, T0 + timedelta(minutes=minutes), fact, id=f"{call}-{seq}")


async def report(store: Store, ref: str) -> Notification | None:
    async with store.session() as session:
        return await session.get(Notification, ref)


async def test_a_report_never_takes_over_another_calls_report_of_the_same_reference(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """Call a's report 482113 is handled with a note; call b's report comes with the same
    reference (chosen alone by two instances, the database away): a's stays a's, handled, with
    its note; b's is kept apart, open, found by its own key; b's close closes b's alone."""
    await store.write([stored("a", 1, "482113", "380501111111", 0)])
    await store.write([handled("a", 2, "482113", "Mother told.", 5)])
    with caplog.at_level(logging.ERROR):
        await store.write([stored("b", 1, "482113", "380662222222", 9)])
    first = await report(store, "482113")
    assert first is not None
    assert (first.call_id, first.number, first.handled_by) == ("a", "380501111111", "op1")
    assert (first.outcome, first.note) == ("family-informed", "Mother told.")
    second = await report(store, apart("482113", "b"))
    assert second is not None and second.ref == apart("482113", "b")
    assert (second.call_id, second.number, second.handled_at) == ("b", "380662222222", None)
    assert "has the reference of call a's report" in caplog.text  # said loudly
    assert [n.ref for n in await store.shared_notifications([])] == [second.ref]  # open: b's

    await store.write([handled("b", 2, "482113", "Brother told.", 12)])
    first, second = await report(store, "482113"), await report(store, second.ref)
    assert first is not None and first.note == "Mother told."
    assert second is not None and (second.note, second.outcome) == (
        "Brother told.",
        "family-informed",
    )


def few(values: int) -> Callable[[], str]:
    """Candidates from a space of ``values`` references only: collisions all the time."""
    space = itertools.cycle(str(100_000 + n) for n in range(values))
    return lambda: next(space)


async def test_two_instances_never_hand_out_the_same_reference(tmp_path: Path) -> None:
    """Instances a and b reserve from one PostgreSQL at once, from a space of 30 references so
    that they try the same ones all the time: every report's reference is its own."""
    with postgres_database() as url:
        stores = [Store(url) for _ in "ab"]
        await stores[0].upgrade()
        try:
            instances = []
            for name, own in zip("ab", stores, strict=True):
                notifications = NotificationStore(tmp_path / name)
                notifications.references = References(
                    own, tmp_path / name, name, size=15, candidate=few(30)
                )
                instances.append(notifications)
            pools = [n.references for n in instances if n.references is not None]
            await asyncio.gather(*(pool.fill() for pool in pools))
            taken = [
                [n.take("c", "detention", "", "", "op1", T0).ref for _ in range(15)]
                for n in instances
            ]
            assert all(len(set(refs)) == 15 for refs in taken), taken
            assert not set(taken[0]) & set(taken[1]), taken
            assert all(len(ref) == 6 for ref in taken[0] + taken[1])  # all from the database
        finally:
            for own in stores:
                await own.close()


async def test_reports_are_taken_while_the_database_is_away_and_after_a_restart(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The pool reserved ahead serves while the database is away, and after a restart (kept
    in the data folder); once it runs dry a reference is chosen alone, seven digits, said
    loudly, never one the database hands out."""
    refs = References(store, tmp_path, "a", size=4)
    assert await refs.fill() == 4
    reserved = list(refs.pool)
    await store.close()  # (the database away: nothing more is reserved)
    away = Store("postgresql+asyncpg://postgres@127.0.0.1:9/nothing")  # (nothing listens)
    again = References(away, tmp_path, "a", size=4)
    assert again.pool == reserved  # a restart keeps what was reserved
    notifications = NotificationStore(tmp_path)
    notifications.references = again
    first = notifications.take("c1", "detention", "", "", "op1", T0)
    assert first.ref == reserved[0] and not again.wanted.is_set()
    assert [notifications.new_reference() for _ in range(3)] == reserved[1:]
    assert again.wanted.is_set()  # below half: refilled as soon as it can be
    with pytest.raises(OSError):
        await again.fill()
    await away.close()
    with caplog.at_level(logging.ERROR):
        alone = notifications.new_reference()
    assert len(alone) == 7 and alone not in reserved and again.alone == 1
    assert "chosen by this instance alone" in caplog.text


async def test_a_reference_taken_during_a_call_is_kept_in_its_file_from_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taking a reference (a caller's report) rewrites the pool's file: its fsync is made in
    a thread, never on the event loop every call waits on."""
    loop_thread = threading.get_ident()
    synced_in: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced_in.append(threading.get_ident())
        real_fsync(fd)

    (tmp_path / "references.json").write_text(json.dumps({"pool": ["111111", "222222"]}))
    monkeypatch.setattr(os, "fsync", fsync)
    refs = References(Store("sqlite+aiosqlite://"), tmp_path, "a", size=2)
    assert refs.take(set()) == "111111"
    assert loop_thread not in synced_in, "the pool's file synced on the event loop"
    await refs.saved()
    assert synced_in and loop_thread not in synced_in
    assert json.loads((tmp_path / "references.json").read_text()) == {"pool": ["222222"]}
    await refs.store.close()
