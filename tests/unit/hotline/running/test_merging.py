"""The active instance keeps merging what the shared database holds (on SQLite and PostgreSQL):
a callback and a report another instance wrote after the takeover are taken in at the next
round, the callback made once (never again, though the database still says it is open until
this instance's own end of it is written), and a takeover whose first read failed reads it
all again, who was logged in included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.state import LogIn, Reachability, State
from hotline.asterisk.messages import Channel
from hotline.calls.switchboard import Switchboard
from hotline.config.deployment import Deployment
from hotline.events import CallEvent, EventBus
from hotline.reports.notifications import NotificationStore
from hotline.running.merging import Merger
from hotline.store.db import Store
from routing.events import from_data
from tests.unit.hotline.calls.test_switchboard import Asterisk, Clock

T0 = datetime(2026, 11, 25, 8, 50, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    found = Store(database_url)
    await found.upgrade()
    yield found
    await found.close()


def late(call: str, seq: int, minutes: float, kind: str, **data: object) -> CallEvent:
    """An event of another instance's spool, reaching the database late."""
    at = T0 + timedelta(minutes=minutes)
    return CallEvent(call, seq, at, from_data(kind, dict(data)), id=f"{call}-{seq}")


def state(operator: str, now: str, **more: object) -> CallEvent:
    data = {"operator": operator, "state": now, "reachable": True, **more}
    return CallEvent("", 0, T0, from_data("operator.state", data), id=f"{operator}-{now}")


async def no_channels() -> Sequence[Channel]:
    return []


def merger_of(
    store: Store, deployment: Deployment, tmp_path: Path
) -> tuple[Merger, Switchboard, Asterisk, NotificationStore]:
    bus = EventBus()
    asterisk = Asterisk()
    board = Switchboard(deployment, bus, Clock(), asterisk)
    board.witnessing = True
    notifications = NotificationStore(tmp_path)
    merger = Merger(store, deployment, board, notifications, no_channels, lambda: True)
    merger.attach(bus)
    return merger, board, asterisk, notifications


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_what_another_instance_writes_late_is_taken_in_and_called_back_once(
    store: Store, deployment: Deployment, tmp_path: Path
) -> None:
    merger, board, asterisk, notifications = merger_of(store, deployment, tmp_path)
    await merger.take_over([])  # the database as it is at the takeover: nothing open
    assert not board.callbacks and not notifications.items
    await store.write(  # then the old instance's spool reaches it
        [
            late("d1", 1, 0, "call.started", caller="380661112233", number="0800213103"),
            late("d1", 2, 1, "call.queued", line="detention", language="uk", priority=100),
            late(
                "d1",
                3,
                2,
                "callback.requested",
                number="380661112233",
                line="detention",
                reason="abandoned",
            ),
            late("d2", 1, 3, "call.started", caller="380501234567", number="0800213103"),
            late(
                "d2",
                2,
                4,
                "notification.stored",
                ref="482113",
                line="detention",
                caller="380501234567",
                number="380501234567",
                complete=True,
            ),
        ]
    )
    merged = await merger.merge()
    assert (merged.callbacks, merged.notifications) == (1, 1)
    assert board.waiting["d1"].callback and board.callbacks["d1"].number == "380661112233"
    assert notifications.items["482113"].call == "d2"
    assert (await merger.merge()).callbacks == 0  # known: not twice

    board.operator_event("op1", Reachability(True))
    board.operator_event("op1", LogIn())
    await settle()
    assert [c[:3] for c in asterisk.callbacks] == [("d1", "op1", "380661112233")]
    assert board.callback_answered("d1", "op1") is not None
    board.callback_reached("d1")
    board.callback_ended("d1", "ANSWER")  # called back, once
    assert "d1" not in board.callbacks
    # the database still says it is open (this instance's end of it not written yet)
    assert [cb.call_id for cb, _, _ in await store.open_callbacks()] == ["d1"]
    assert (await merger.merge()).callbacks == 0
    await settle()
    assert len(asterisk.callbacks) == 1


async def test_a_first_read_that_failed_is_read_again_whole(
    store: Store, deployment: Deployment, tmp_path: Path
) -> None:
    await store.write(
        [
            state("op3", "paused", reason="admin"),
            state("op5", "available"),
            late("d1", 1, 0, "call.started", caller="380661112233", number="0800213103"),
            late(
                "d1",
                2,
                2,
                "callback.requested",
                number="380661112233",
                line="detention",
                reason="abandoned",
            ),
        ]
    )
    merger, board, _, _ = merger_of(store, deployment, tmp_path)
    away = Store("postgresql+asyncpg://postgres@127.0.0.1:9/nothing")  # (nothing listens)
    merger.store = away
    await merger.take_over([])  # the database did not answer: nothing known
    assert not board.callbacks and board.operators["op3"].state is State.LOGGED_OUT
    await away.close()
    merger.store = store
    board.operator_event("op5", LogIn())  # op5 logged in again meanwhile: left as they are
    merged = await merger.merge()
    assert (merged.operators, merged.callbacks) == (1, 1)
    assert board.operators["op3"].state is State.PAUSED
    assert board.operators["op3"].pause_reason == "admin"
    assert "d1" in board.callbacks
    assert (await merger.merge()).operators == 0  # read once


async def test_a_planned_callback_is_taken_over_with_its_time_and_who_planned_it(
    store: Store, deployment: Deployment, tmp_path: Path
) -> None:
    """Planned for 09:30 by op3 at a wrap-up: the instance taking over at 09:00 keeps it for
    09:30, not now."""
    planned = T0 + timedelta(minutes=40)
    asked = {"number": "380501234567", "line": "consultation", "reason": "planned"}
    await store.write(
        [
            late("p1", 1, 0, "call.started", caller="380501234567", number="0800213103"),
            late("p1", 2, 0, "call.queued", line="consultation", language="uk", priority=10),
            late("p1", 3, 0, "callback.requested", **asked, at=planned.isoformat(), by="op3"),
        ]
    )
    (callback, _, _) = (await store.open_callbacks())[0]
    assert (callback.not_before, callback.planned_by) == (planned, "op3")
    merger, board, asterisk, _ = merger_of(store, deployment, tmp_path)
    await merger.take_over([])
    assert board.waiting["p1"].not_before == planned and board.callbacks["p1"].by == "op3"
    board.operator_event("op3", Reachability(True))
    board.operator_event("op3", LogIn())
    await settle()
    assert asterisk.callbacks == []  # not before its time
