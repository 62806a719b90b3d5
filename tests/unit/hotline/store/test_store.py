"""The call log's writer and store against real databases: SQLite and the machine's
PostgreSQL (a fresh database per test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.events import CallEvent, EventBus
from hotline.store.calllog import CallLog
from hotline.store.db import CallFilter, Store
from hotline.store.spool import Position, Spool
from hotline.store.tables import Callback, Notification, OperatorChange
from routing.events import NotificationStored, from_data

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    found = Store(database_url)
    yield found
    await found.close()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def publish(bus: EventBus, call: str, seconds: float, kind: str, **data: object) -> None:
    bus.publish(CallEvent(call, 0, at(seconds), from_data(kind, dict(data))))


def morning(bus: EventBus) -> None:
    """An answered consultation, an abandoned detention call called back, a message."""
    publish(bus, "", 0, "operator.state", operator="op1", state="available", reachable=True)
    publish(bus, "a", 0, "call.started", caller="380501111111", number="0800213103",
            sip_call_id="sip-a", channel="PJSIP/trunk-1", language="uk")  # fmt: skip
    publish(bus, "a", 3, "menu.answer", menu="language", key="1", language="uk")
    publish(bus, "a", 6, "menu.answer", menu="main", key="2", language="uk")
    publish(bus, "a", 8, "call.routed", asked="consultation", line="consultation", language="uk")
    publish(bus, "a", 9, "call.queued", line="consultation", language="uk", priority=1)
    publish(bus, "a", 21, "call.offered", operator="op1")
    publish(bus, "a", 25, "call.answered", operator="op1", wait=16.0)
    publish(bus, "a", 85, "call.ended", outcome="answered", operator="op1", wait=16.0, talk=60.0)
    publish(bus, "b", 30, "call.started", caller="380502222222", number="0800213103")
    publish(bus, "b", 40, "call.queued", line="detention", language="uk", priority=0)
    publish(bus, "b", 50, "callback.requested", number="380502222222", line="detention",
            reason="abandoned")  # fmt: skip
    publish(bus, "b", 200, "callback.failed", attempt=1, status="NOANSWER", number="380502222222")
    publish(bus, "b", 300, "call.answered", operator="op1", wait=260.0, callback=True)
    publish(bus, "b", 400, "call.ended", outcome="called-back", operator="op1", wait=260.0,
            talk=100.0)  # fmt: skip
    publish(bus, "b", 60, "notification.stored", ref="123456", complete=True, line="detention",
            caller="380502222222", number="380502222222", recording="/x/123456.wav")  # fmt: skip
    publish(bus, "b", 500, "notification.handled", ref="123456", by="op1", note="Told.")


async def written(log: CallLog) -> None:
    task = asyncio.create_task(log.run())
    try:
        assert await log.flush(timeout=30), log.state
    finally:
        task.cancel()


async def test_calls_are_projected_from_their_events(store: Store, tmp_path: Path) -> None:
    bus = EventBus()
    with Spool(tmp_path / "spool") as spool:
        log = CallLog(spool, store)
        log.attach(bus)
        morning(bus)
        # an operator called the notification back from their desk: a call of its own
        publish(bus, "c", 600, "call.started", caller="380502222222", number="0800213103")
        publish(bus, "c", 600, "callback.requested", number="380502222222", line="detention",
                reason="desk", notification="123456")  # fmt: skip
        publish(bus, "c", 601, "call.offered", operator="op2")
        publish(bus, "c", 610, "call.answered", operator="op2", wait=10.0, callback=True)
        publish(bus, "c", 650, "call.ended", outcome="called-back", operator="op2", talk=40.0)
        publish(bus, "", 700, "operator.state", operator="op2", state="wrap_up", reachable=True)
        publish(bus, "b", 710, "notification.stored", ref="654321", complete=True,
                line="detention", caller="380502222222", number="380502222222",
                taken_by="op1")  # fmt: skip
        await written(log)
        assert (log.backlog, log.state.written, log.state.connected) == (0, 24, True)

        kinds = ("call.offered", "call.answered", "call.ended", "notification.handled")
        found = await store.notification_events("123456", "b", at(60), kinds)
        assert [(e.call_id, e.kind) for e in found] == [
            ("b", "call.answered"),
            ("b", "call.ended"),
            ("b", "notification.handled"),
            ("c", "call.offered"),
            ("c", "call.answered"),
            ("c", "call.ended"),
        ]  # (the events of "b" before the notification, and of "a", are not its history)
        # what an instance taking over learns: the open ones, and those it knows open
        assert [n.ref for n in await store.shared_notifications([])] == ["654321"]
        first, second = await store.shared_notifications(["123456"])
        assert (first.ref, first.handled_by, first.note) == ("123456", "op1", "Told.")
        assert (second.ref, second.taken_by, second.handled_at) == ("654321", "op1", None)

        rows, total = await store.calls(CallFilter())
        assert total == 3 and [r.id for r in rows] == ["c", "b", "a"]  # newest first
        a, events = (await store.call("a")) or (None, [])
        assert a is not None
        assert (a.caller, a.number, a.sip_call_id, a.language, a.line) == (
            "380501111111", "0800213103", "sip-a", "uk", "consultation"
        )  # fmt: skip
        assert a.path == ["language:1", "main:2"]
        assert (a.started_at, a.queued_at, a.answered_at, a.ended_at) == (
            at(0),
            at(9),
            at(25),
            at(85),
        )
        assert (a.operator, a.wait, a.talk, a.outcome) == ("op1", 16.0, 60.0, "answered")
        assert [e.kind for e in events][:3] == ["call.started", "menu.answer", "menu.answer"]
        assert [e.seq for e in events] == list(range(1, 9))

        filtered = [
            CallFilter(line="detention"),
            CallFilter(outcome="called-back"),
            CallFilter(caller="380502222222"),
        ]
        for where in filtered:
            assert [r.id for r in (await store.calls(where))[0]] == ["c", "b"], where
        assert [r.id for r in (await store.calls(CallFilter(since=at(30), until=at(31))))[0]] == [
            "b"
        ]
        assert (await store.calls(CallFilter(operator="op1"), limit=1, offset=1))[1] == 2
        assert [c.id for c in await store.queued_calls(at(0), at(60), "consultation")] == ["a"]

        async with store.session() as session:
            callback = await session.get(Callback, "b")
            note = await session.get(Notification, "123456")
            changes = (await session.scalars(OperatorChange.__table__.select())).all()
        assert callback is not None and note is not None
        assert (callback.attempts, callback.last_status, callback.outcome) == (
            2, "NOANSWER", "called-back"
        )  # fmt: skip
        assert (note.handled_by, note.handled_at, note.recording) == (
            "op1",
            at(500),
            "/x/123456.wav",
        )
        assert len(changes) == 2

        # the spool sent again from its start (a crash before the marker was written): no
        # event is stored twice and no call changes
        spool.commit(Position(0, 0), 0)
        spool.backlog = 24
        await written(log)
        assert log.state.written == 24
        again, events_again = (await store.call("a")) or (None, [])
        assert again is not None and again.path == ["language:1", "main:2"]
        assert len(events_again) == len(events)


async def test_an_end_found_unseen_never_overrides_the_end_an_instance_saw(
    store: Store, tmp_path: Path
) -> None:
    """With a standby, the instance taking over may close a call as ``interrupted`` (gone
    from Asterisk, open in the log) while the end the last instance saw is still on its way
    from that one's spool: whichever comes first, the end that was seen stands."""
    for call, first in (("x", "seen"), ("y", "unseen")):
        logs = []
        for name in ("a", "b"):
            bus = EventBus()
            spool = Spool(tmp_path / f"spool-{call}-{name}")
            logs.append((bus, spool, CallLog(spool, store)))
        (seen_bus, *_, seen), (unseen_bus, *_, unseen) = logs
        for bus, _, log in logs:
            log.attach(bus)
        publish(seen_bus, call, 0, "call.started", caller="380501111111", number="0800213103")
        publish(seen_bus, call, 20, "call.answered", operator="op1", wait=20.0)
        publish(seen_bus, call, 50, "call.ended", outcome="answered", operator="op1", talk=30.0)
        publish(unseen_bus, call, 52, "call.ended", outcome="interrupted")
        for log in (seen, unseen) if first == "seen" else (unseen, seen):
            await written(log)
        for _, spool, _ in logs:
            spool.close()
        record, _ = await store.call(call) or (None, [])
        assert record is not None
        assert (record.outcome, record.talk, record.operator) == ("answered", 30.0, "op1")


async def test_the_outcome_filter_other_finds_the_outcomes_this_version_does_not_know(
    store: Store, tmp_path: Path
) -> None:
    """A row written by another version (an outcome this one has not heard of) is what
    ``outcome=other`` finds; the known ones and calls under way are not."""
    bus = EventBus()
    with Spool(tmp_path / "spool") as spool:
        log = CallLog(spool, store)
        log.attach(bus)
        for n, outcome in enumerate(["answered", "queued", None, "escalation-taken"]):
            publish(bus, f"c{n}", n, "call.started", caller="380501111111", number="0800213103")
            if outcome is not None:
                publish(bus, f"c{n}", n + 0.5, "call.ended", outcome=outcome)
        await written(log)
    assert [r.id for r in (await store.calls(CallFilter(outcome="other")))[0]] == ["c3", "c1"]
    assert [r.id for r in (await store.calls(CallFilter(outcome="answered")))[0]] == ["c0"]


async def test_an_event_that_cannot_be_written_is_set_aside(store: Store, tmp_path: Path) -> None:
    bus = EventBus()
    with Spool(tmp_path / "spool") as spool:
        log = CallLog(spool, store)
        log.attach(bus)
        publish(bus, "x", 0, "call.started", caller="1", number="2")
        # a bug: a notification without a reference (typed, yet not checked when made)
        nameless = NotificationStored(None, "detention", "1", "2", True)  # type: ignore[arg-type]
        bus.publish(CallEvent("x", 0, at(1), nameless))
        publish(bus, "x", 2, "call.ended", outcome="hung-up")
        await written(log)
        assert (log.state.written, log.state.connected) == (2, True)
        rejected = (tmp_path / "spool" / "rejected.jsonl").read_text()
        assert '"notification.stored"' in rejected
    call, events = (await store.call("x")) or (None, [])
    assert call is not None and call.outcome == "hung-up" and len(events) == 2


async def test_an_unreachable_database_keeps_everything_in_the_spool(tmp_path: Path) -> None:
    away = Store("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")  # nothing listens on 9
    bus = EventBus()
    with Spool(tmp_path / "spool") as spool:
        log = CallLog(spool, away, retry_max=0.2)
        log.attach(bus)
        task = asyncio.create_task(log.run())
        morning(bus)
        assert not await log.flush(timeout=2)
        task.cancel()
        assert (log.state.connected, log.backlog) == (False, 17)
        assert log.state.error and "refused" in log.state.error.lower()
    await away.close()

    reachable = Store(f"sqlite+aiosqlite:///{tmp_path / 'log.db'}")
    with Spool(tmp_path / "spool") as spool:  # after a restart, with a database this time
        log = CallLog(spool, reachable)
        assert log.backlog == 17
        await written(log)
        assert (await reachable.calls(CallFilter()))[1] == 2
    await reachable.close()


async def test_the_migrations_make_the_tables_the_code_declares(store: Store) -> None:
    """Every column of hotline/store/tables.py comes from a migration, and no migration left
    one the code no longer has (Alembic's own comparison)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from hotline.store.tables import Base

    await store.upgrade()
    async with store.engine.connect() as conn:
        differences = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    assert differences == []


def morning_events() -> list[CallEvent]:
    """The morning's events as the bus numbers them (ids, seqs), in order."""
    bus = EventBus()
    events: list[CallEvent] = []
    bus.subscribe(events.append)
    morning(bus)
    return events


async def rows_of(store: Store) -> dict[str, list[dict[str, object]]]:
    from hotline.store import projection as p

    tables = (p.CALLS, p.CALLBACKS, p.NOTIFICATIONS, p.RECORDINGS, p.OPERATOR_STATES)
    async with store.engine.connect() as connection:
        return {
            table.name: sorted(
                (dict(row) for row in (await connection.execute(table.select())).mappings()),
                key=repr,
            )
            for table in tables
        }


@pytest.mark.parametrize("split", [[17], [1] * 17, [3, 5, 2, 7], [8, 1, 8]])
async def test_the_rows_are_the_same_however_the_events_are_batched(
    database_url: str, tmp_path: Path, split: list[int]
) -> None:
    """A call's events fall into several of the writer's batches (one every 0.2 s): each
    batch writes back what its own events changed, and the rows end as one batch makes them."""
    events = morning_events()
    at_once = Store(f"sqlite+aiosqlite:///{tmp_path / 'once.db'}")
    await at_once.upgrade()
    assert await at_once.write(events) == len(events) == sum(split)
    expected = await rows_of(at_once)
    await at_once.close()

    batched = Store(database_url)
    await batched.upgrade()
    start = 0
    for size in split:
        assert await batched.write(events[start : start + size]) == size
        start += size
    found = await rows_of(batched)
    await batched.close()
    for name in ("calls", "callbacks", "notifications"):
        for rows in (found[name], expected[name]):  # (PostgreSQL's JSON: equal, not the text)
            for row in rows:
                row.pop("n", None)
    assert found["calls"] == expected["calls"]
    assert found["callbacks"] == expected["callbacks"]
    assert found["notifications"] == expected["notifications"]
    assert len(found["recordings"]) == len(expected["recordings"]) == 1


async def test_a_call_is_written_back_with_the_columns_its_events_changed(
    store: Store,
) -> None:
    """A call's end changes five of its thirty columns: the update names those alone."""
    from sqlalchemy import event

    await store.upgrade()
    events = [e for e in morning_events() if e.call_id == "a"]
    *before, end = events
    await store.write(before)
    updates: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("UPDATE calls"):
            updates.append(statement)

    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    await store.write([end])
    event.remove(store.engine.sync_engine, "before_cursor_execute", seen)
    assert len(updates) == 1
    assigned = updates[0].split(" SET ")[1].split(" WHERE ")[0]
    assert sorted(part.split("=")[0].strip() for part in assigned.split(",")) == [
        "ended_at",
        "outcome",
        "talk",
    ]


async def test_a_callers_history_is_found_whatever_form_their_number_was_stored_in(
    store: Store,
) -> None:
    """Rows logged before numbers were normalised hold the carrier's form of then (national,
    international without ``+``); the caller who calls now (``+380501234567``) is one caller
    with all of them, in the desk's history and in the calls' filter; another caller is not."""
    await store.upgrade()
    callers = {
        "national": "0501234567",
        "international": "380501234567",
        "e164": "+380501234567",
        "another": "+380501234568",
        "withheld": "anonymous",
    }
    bus = EventBus()
    events: list[CallEvent] = []
    bus.subscribe(events.append)
    for i, (call, caller) in enumerate(callers.items()):
        publish(bus, call, 60 * i, "call.started", caller=caller, number="0800213103")
        publish(bus, call, 60 * i + 30, "call.ended", outcome="hung-up")
    assert await store.write(events) == len(events)

    found = await store.calls_from("+380501234567", T0, but="e164")
    assert [c.id for c in found] == ["international", "national"]  # newest first
    matching, total = await store.calls(CallFilter(caller="+380501234567"))
    assert sorted(c.id for c in matching) == ["e164", "international", "national"] and total == 3
    assert [c.id for c in await store.calls_from("anonymous", T0)] == ["withheld"]
