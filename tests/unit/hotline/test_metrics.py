"""/metrics' notification gauges: open and overdue notifications per line, with the line's
organisation; a line with none open has no sample."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hotline.metrics import LiveState
from hotline.notifications import Notification

T0 = datetime(2026, 12, 6, 3, 10, tzinfo=UTC)


def notification(line: str, age: timedelta, handled: bool = False) -> Notification:
    at = T0 - age
    return Notification(
        "000001", "c1", line, "380501234567", "380501234567", "", at, True, T0 if handled else None
    )


def test_open_and_overdue_notifications_are_counted_by_line() -> None:
    target = 900
    items = [
        notification("detention", timedelta(minutes=20)),  # overdue
        notification("detention", timedelta(minutes=5)),
        notification("detention", timedelta(hours=2), handled=True),  # closed: not counted
        notification("consultation", timedelta(minutes=1)),
    ]
    assert [n.overdue(T0, target) for n in items] == [True, False, False, False]
    board: Any = SimpleNamespace(lines_now=dict)
    live = LiveState(
        board,
        dict,
        {"detention": "ua-legal-aid", "consultation": "ua-legal-aid"},
        lambda: [(n.line, n.overdue(T0, target)) for n in items if n.handled_at is None],
    )
    samples = {
        (sample.name, sample.labels["line"]): sample.value
        for family in live.collect()
        if family.name.startswith("hotline_notifications")
        for sample in family.samples
    }
    assert samples == {
        ("hotline_notifications_open", "consultation"): 1,
        ("hotline_notifications_open", "detention"): 2,
        ("hotline_notifications_overdue", "consultation"): 0,
        ("hotline_notifications_overdue", "detention"): 1,
    }
