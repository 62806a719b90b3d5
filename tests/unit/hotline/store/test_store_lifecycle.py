"""The call log's side of retention and erasure against real databases (SQLite and
PostgreSQL): which calls are due, what pseudonymising leaves (the figures, no number), what
deleting leaves (nothing), and, on SQLite, that the old values are gone from the file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest

from hotline.events import EventBus
from hotline.lifecycle.policy import erased, pseudonym
from hotline.store import lifecycle
from hotline.store.calllog import CallLog
from hotline.store.db import CallFilter, Store
from hotline.store.spool import Spool
from hotline.store.tables import Notification
from tests.unit.hotline.store.test_store import at, morning, publish, written

UA = frozenset({"0800213103"})
GE = frozenset({"0322920055"})
EVERY = UA | GE
KEY = b"k" * 32


@pytest.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    """The morning's Ukrainian calls, and a Georgian one, written."""
    found = Store(database_url)
    bus = EventBus()
    with Spool(tmp_path / "spool") as spool:
        log = CallLog(spool, found)
        log.attach(bus)
        morning(bus)
        publish(bus, "g", 10, "call.started", caller="995599123456", number="0322920055")
        publish(bus, "g", 90, "call.ended", outcome="abandoned", wait=70.0)
        await written(log)
    yield found
    await found.close()


def figures(calls: list[object]) -> list[tuple[object, ...]]:
    return [
        (c.id, c.outcome, c.wait, c.talk, c.line, c.operator, c.started_at, c.ended_at)  # type: ignore[attr-defined]
        for c in calls
    ]


async def test_the_due_calls_are_an_organisations_own_and_over(store: Store) -> None:
    engine = store.engine
    assert await lifecycle.calls_due(engine, UA, EVERY, at(1000)) == ["a", "b"]
    assert await lifecycle.calls_due(engine, UA, EVERY, at(20)) == ["a"]  # (b started at 30)
    assert await lifecycle.calls_due(engine, GE, EVERY, at(1000)) == ["g"]
    assert await lifecycle.calls_due(engine, None, EVERY, at(1000)) == []  # nobody's
    assert await lifecycle.calls_due(engine, None, UA, at(1000)) == ["g"]  # its number gone


async def test_pseudonymised_calls_keep_their_figures_and_lose_every_number(
    store: Store, database_url: str
) -> None:
    before, _ = await store.calls(CallFilter())
    done = await lifecycle.forget_calls(
        store.engine, ["a", "b"], "pseudonymise", partial(pseudonym, KEY), at(2000)
    )
    assert done == 2
    after, total = await store.calls(CallFilter())
    assert total == 3 and figures(after) == figures(before)
    by_id = {c.id: c for c in after}
    assert by_id["a"].caller == pseudonym(KEY, "380501111111") != "380501111111"
    assert by_id["b"].caller == by_id["b"].callback_number == pseudonym(KEY, "380502222222")
    assert by_id["g"].caller == "995599123456"  # another organisation's, not due
    assert (by_id["a"].sip_call_id, by_id["a"].forgotten_at) == ("", at(2000))
    for call in ("a", "b"):
        found = await store.call(call)
        assert found is not None
        text = repr([e.data for e in found[1]])
        assert "38050" not in text and "Told." not in text, text
    async with store.session() as session:
        report = await session.get(Notification, "123456")
        assert report is not None and report.note is None
        assert report.number == pseudonym(KEY, "380502222222")
        assert report.outcome is None and report.handled_by == "op1"  # (its figures)
    # already forgotten: not due again
    assert await lifecycle.calls_due(store.engine, UA, EVERY, at(1000)) == []
    await lifecycle.squeeze(store.engine, store.dialect)
    if store.dialect == "sqlite":
        on_disk = b"".join(
            p.read_bytes() for p in Path(database_url.split("///", 1)[1]).parent.glob("hotline.db*")
        )
        assert b"380501111111" not in on_disk and b"380502222222" not in on_disk
        assert b"Told." not in on_disk
        assert b"995599123456" in on_disk  # (what is not due stays)


async def test_deleted_calls_leave_nothing(store: Store, database_url: str) -> None:
    assert await lifecycle.forget_calls(store.engine, ["a", "b"], "delete", erased, at(2000)) == 2
    rows, total = await store.calls(CallFilter())
    assert total == 1 and [r.id for r in rows] == ["g"]
    assert await store.call("b") is None
    async with store.session() as session:
        assert await session.get(Notification, "123456") is None
    await lifecycle.squeeze(store.engine, store.dialect)
    if store.dialect == "sqlite":
        on_disk = b"".join(
            p.read_bytes() for p in Path(database_url.split("///", 1)[1]).parent.glob("hotline.db*")
        )
        assert b"380501111111" not in on_disk and b"380502222222" not in on_disk


async def test_an_erasure_finds_every_call_of_a_number_in_its_organisation_only(
    store: Store,
) -> None:
    engine = store.engine
    assert await lifecycle.calls_of(engine, UA, "380502222222", None) == ["b"]
    # the number as the log keeps it now finds the rows logged in the carrier's form before
    assert await lifecycle.calls_of(engine, UA, "+380502222222", None) == ["b"]
    assert await lifecycle.calls_of(engine, GE, "380502222222", None) == []
    assert await lifecycle.calls_of(engine, None, "995599123456", None) == ["g"]
    assert await lifecycle.calls_of(engine, UA, None, "g") == []  # another's call
    assert await lifecycle.calls_of(engine, GE, None, "g") == ["g"]


async def test_a_report_is_forgotten_before_its_call(store: Store) -> None:
    engine = store.engine
    assert await lifecycle.reports_due(engine, {"detention"}, set(), at(1000)) == [("123456", "b")]
    assert await lifecycle.kept_of(engine, ["b"], "message") == [
        lifecycle.Kept("b", "/x/123456.wav")
    ]
    done = await lifecycle.forget_reports(
        engine, [("123456", "b")], "pseudonymise", partial(pseudonym, KEY), at(2000)
    )
    assert done == 1
    assert await lifecycle.kept_of(engine, ["b"], "message") == []
    assert await lifecycle.reports_due(engine, {"detention"}, set(), at(1000)) == []
    found = await store.call("b")
    assert found is not None
    stored = [e.data for e in found[1] if e.kind == "notification.stored"]
    assert stored[0]["number"] == pseudonym(KEY, "380502222222")
    assert found[0].caller == "380502222222"  # the call's own record: its own period
