"""The notifications file keeps each notification's history: who played its message, who
called it back from a desk, who closed it, how, and with what note, across a restart; an
instance taking over learns those another instance took or closed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotline.reports.notifications import NotificationStore

T0 = datetime(2026, 12, 6, 3, 10, tzinfo=UTC)


def test_a_notifications_history_and_close_survive_a_restart(tmp_path: Path) -> None:
    store = NotificationStore(tmp_path)
    item = store.take("c1", "detention", "380501234567", "380671230099", "op1", T0)
    store.did(item.ref, "played", "op2", T0 + timedelta(minutes=1))
    store.did(item.ref, "called", "op2", T0 + timedelta(minutes=2), call="callback-x")
    store.handle(item.ref, "op2", T0 + timedelta(minutes=5), "family-informed", "Mother told.")
    store.handle(item.ref, "op3", T0 + timedelta(minutes=9), "not-reached")  # already closed

    again = NotificationStore(tmp_path).items[item.ref]
    assert [(d["kind"], d["by"]) for d in again.done] == [("played", "op2"), ("called", "op2")]
    assert again.done[1]["call"] == "callback-x"
    assert (again.handled_by, again.outcome, again.note) == (
        "op2",
        "family-informed",
        "Mother told.",
    )
    assert again.handled_at == T0 + timedelta(minutes=5)
    shown = again.as_json()
    assert shown["outcome"] == "family-informed" and "note" not in shown and "done" not in shown


def test_taking_over_learns_the_notifications_another_instance_took_or_closed(
    tmp_path: Path,
) -> None:
    other = NotificationStore(tmp_path / "a")  # the instance that was active
    taken = other.take("c1", "detention", "380501234567", "380671230099", "op1", T0)
    closed = other.take("c2", "detention", "380501234568", "380671230098", "op1", T0)
    here = NotificationStore(tmp_path / "b")
    stale = here.take("c3", "detention", "380501234569", "380671230097", "op2", T0)
    other.items[stale.ref] = replace(stale)
    other.handle(closed.ref, "op3", T0 + timedelta(minutes=3), "family-informed", "Told.")
    other.handle(stale.ref, "op3", T0 + timedelta(minutes=4), "not-reached")

    shared = [replace(n) for n in other.items.values()]  # as the database holds them
    assert here.merge(shared) == 4  # two learnt (one already closed), one closed here
    assert here.merge(shared) == 0  # a second takeover changes nothing
    again = NotificationStore(tmp_path / "b").items  # kept in this instance's file too
    assert again[taken.ref].handled_at is None and again[taken.ref].taken_by == "op1"
    assert (again[closed.ref].outcome, again[closed.ref].note) == ("family-informed", "Told.")
    assert (again[stale.ref].handled_by, again[stale.ref].outcome) == ("op3", "not-reached")


def test_forgotten_reports_are_gone_from_memory_and_from_the_file(tmp_path: Path) -> None:
    """(retention and erasure: the file is rewritten without a record of them)"""
    store = NotificationStore(tmp_path)
    at = datetime(2026, 11, 25, 9, tzinfo=UTC)
    kept = store.take("c1", "detention", "380501111111", "380501111111", "op1", at)
    gone = store.take("c2", "detention", "380502222222", "380507777777", "op1", at)
    store.did(gone.ref, "played", "op2", at)
    store.handle(gone.ref, "op2", at, note="Lives at 5 Shevchenko St.")
    assert [n.ref for n in store.forget([gone.ref, "999999"])] == [gone.ref]
    on_disk = (tmp_path / "notifications.jsonl").read_text()
    for personal in ("380502222222", "380507777777", "Shevchenko", gone.ref):
        assert personal not in on_disk
    assert "380501111111" in on_disk
    again = NotificationStore(tmp_path)  # (as a restart reads it)
    assert list(again.items) == [kept.ref]
    assert store.forget([gone.ref]) == []
