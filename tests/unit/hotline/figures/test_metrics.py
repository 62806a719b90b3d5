"""/metrics' notification gauges: open and overdue notifications per line, with the line's
organisation; a line with none open has no sample."""

from __future__ import annotations

import platform
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from hotline.figures.metrics import LiveState
from hotline.reports.notifications import Notification

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


def test_every_reader_sees_the_build_and_the_process_and_no_created_series() -> None:
    """What the maintainers of a Prometheus-scraped service expose: the version and the
    process's own figures to every reader; no ``_created`` series beside the counters."""
    from prometheus_client import CollectorRegistry, generate_latest

    from hotline import __version__
    from hotline.figures.metrics import TALK, View

    # (a line of its own: the metrics are the process's, and other tests read them after)
    TALK.labels("ge-legal-aid", "ge-consultation").observe(120)
    registry = CollectorRegistry()
    registry.register(View("ua-legal-aid"))
    text = generate_latest(registry).decode()
    assert (
        f'hotline_build_info{{python="{platform.python_version()}",version="{__version__}"}} 1.0'
        in text
    )
    for series in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
    ):
        assert f"\n{series} " in text, series
    assert "_created" not in text
    assert "ge-legal-aid" not in text  # (another organisation's talk times stay its own)
