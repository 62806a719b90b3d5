"""`hotline db upgrade` from the previous release's schema with its data in it, on SQLite and
on the machine's PostgreSQL: the real command, run as a process; the call log reads what the
previous release wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.store.db import CallFilter, Store, alembic_config

#: The schema the last release left (its newest migration): main before transfers, wrap-up,
#: notification outcomes and the standby's lease.
PREVIOUS = "0003"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

WHEN = sa.DateTime(timezone=True)
CALLS = sa.table(
    "calls",
    *map(sa.column, ("id", "linkedid", "sip_call_id", "channel", "caller", "caller_name")),
    *map(sa.column, ("number", "language", "line", "priority", "operator", "wait", "talk")),
    *map(sa.column, ("outcome", "callback_number")),
    sa.column("path", sa.JSON),
    sa.column("closed_lines", sa.JSON),
    *(sa.column(name, WHEN) for name in ("started_at", "queued_at", "answered_at", "ended_at")),
)
EVENTS = sa.table(
    "events",
    *map(sa.column, ("id", "call_id", "seq", "kind")),
    sa.column("at", WHEN),
    sa.column("data", sa.JSON),
)
NOTIFICATIONS = sa.table(
    "notifications",
    *map(sa.column, ("ref", "call_id", "line", "caller", "number", "recording", "complete")),
    sa.column("stored_at", WHEN),
)


def _previous(connection: sa.Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, PREVIOUS)


async def test_db_upgrade_from_the_previous_release_keeps_its_calls(
    database_url: str, tmp_path: Path
) -> None:
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(_previous)
        call = {"linkedid": "", "sip_call_id": "", "channel": "PJSIP/trunk-1"}
        call |= {"caller": "380501234567", "caller_name": "", "number": "0800213103"}
        call |= {"language": "uk", "closed_lines": [], "priority": 1, "queued_at": T0}
        call |= dict.fromkeys(("answered_at", "ended_at", "operator", "wait", "talk"))
        call |= {"outcome": None, "callback_number": None}
        await connection.execute(
            sa.insert(CALLS),
            [
                call
                | {"id": "a", "path": ["language:1", "main:1"], "line": "consultation"}
                | {"started_at": T0, "answered_at": T0, "ended_at": T0, "operator": "op3"}
                | {"wait": 12.0, "talk": 300.0, "outcome": "answered"},
                call
                | {"id": "b", "path": ["language:1", "main:2"], "line": "detention"}
                | {"started_at": T0, "callback_number": "380501234567"},
            ],
        )
        await connection.execute(
            sa.insert(EVENTS),
            [
                {"id": "e1", "call_id": "a", "seq": 1, "at": T0, "kind": "call.started"}
                | {"data": {"caller": "380501234567", "number": "0800213103"}},
                {"id": "e2", "call_id": "a", "seq": 2, "at": T0, "kind": "call.ended"}
                | {"data": {"outcome": "answered", "operator": "op3", "talk": 300.0}},
            ],
        )
        await connection.execute(
            sa.insert(NOTIFICATIONS),
            {"ref": "123456", "call_id": "b", "line": "detention", "caller": "380501234567"}
            | {"number": "380501234567", "recording": None, "complete": True, "stored_at": T0},
        )
    await engine.dispose()

    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "db", "upgrade"],
        cwd=tmp_path,
        env={**os.environ, "HOTLINE_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    store = Store(database_url)
    try:
        assert await store.is_current()
        rows, total = await store.calls(CallFilter())
        assert total == 2 and {r.id for r in rows} == {"a", "b"}
        found = await store.call("a")
        assert found is not None
        answered, events = found
        assert (answered.outcome, answered.operator, answered.talk) == ("answered", "op3", 300.0)
        assert answered.transfers == [] and answered.topics == []  # new columns, filled
        assert [e.kind for e in events] == ["call.started", "call.ended"]
        (open_one,) = await store.shared_notifications([])
        assert (open_one.ref, open_one.note, open_one.taken_by) == ("123456", None, None)
    finally:
        await store.close()


async def test_db_upgrade_from_0008_adds_an_empty_outbox_that_fills_with_new_events(
    database_url: str, tmp_path: Path
) -> None:
    """The schema before the outbox (0008), with a call's events in it: `hotline db upgrade`
    adds the outbox, empty (what was written before sends nothing); the next events written
    fill it."""
    from hotline.events import CallEvent
    from hotline.outbound.outbox import OutboxMessage
    from hotline.store.outbox import OutboxStore
    from routing.events import MenuAnswer

    engine = create_async_engine(database_url)

    def before_the_outbox(connection: sa.Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0008")

    async with engine.begin() as connection:
        await connection.run_sync(before_the_outbox)
        await connection.execute(
            sa.insert(EVENTS),
            {"id": "e1", "call_id": "a", "seq": 1, "at": T0, "kind": "call.started"}
            | {"data": {"caller": "380501234567", "number": "0800213103"}},
        )
    await engine.dispose()
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "db", "upgrade"],
        cwd=tmp_path,
        env={**os.environ, "HOTLINE_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr

    def sms(e: CallEvent) -> list[OutboxMessage]:
        return [
            OutboxMessage(f"{e.id}:sms", "ua-legal-aid", "sms", "0501234567", "a", {"text": "t"})
        ]

    store = Store(database_url, [sms])
    try:
        assert await store.is_current()
        box = OutboxStore(store.engine, store.dialect)
        assert await box.messages() == []
        later = CallEvent("a", 2, T0, MenuAnswer("main", "5"), "e2", "ua-legal-aid")
        assert await store.write([later]) == 1
        assert [(m.id, m.state) for m in await box.messages()] == [("e2:sms", "pending")]
    finally:
        await store.close()
