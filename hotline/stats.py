"""The figures supervisors manage by, computed from the calls that joined a queue.

Definitions (the same for a line, an operator, an hour or a day):

- offered: calls that joined a queue in the period (a callback request joins one too);
- answered: offered calls an operator answered (a callback counts when the caller picks up);
- abandoned: offered calls whose caller hung up before an answer;
- waiting: offered calls with no answer and no end yet (still queued, or awaiting a callback);
- service_level: answered within ``threshold`` seconds / (offered - waiting);
- average_speed_of_answer: mean wait of the answered calls, in seconds;
- average_handle_time: mean talk time of the answered calls that ended, in seconds;
- longest_wait: the longest wait, answered or not, in seconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

Period = Literal["hour", "day"]


@dataclass(frozen=True)
class Queued:
    """What the statistics need of one call."""

    line: str | None
    operator: str | None
    queued: datetime
    answered: bool
    wait: float | None
    talk: float | None
    outcome: str | None


@dataclass
class Figures:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    waiting: int = 0
    within: int = 0
    waits: float = 0.0
    talks: float = 0.0
    talked: int = 0
    longest: float = 0.0

    def add(self, call: Queued, threshold: float) -> None:
        self.offered += 1
        if call.wait is not None:
            self.longest = max(self.longest, call.wait)
        if call.answered:
            self.answered += 1
            wait = call.wait or 0.0
            self.waits += wait
            self.within += wait <= threshold
            if call.talk is not None:
                self.talks += call.talk
                self.talked += 1
        elif call.outcome == "abandoned":
            self.abandoned += 1
        elif call.outcome is None:
            self.waiting += 1

    def as_json(self) -> dict[str, Any]:
        settled = self.offered - self.waiting
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "waiting": self.waiting,
            "answered_within_threshold": self.within,
            "service_level": round(self.within / settled, 4) if settled else None,
            "average_speed_of_answer": _mean(self.waits, self.answered),
            "average_handle_time": _mean(self.talks, self.talked),
            "talk_time": round(self.talks, 1),
            "longest_wait": round(self.longest, 1),
        }


def _mean(total: float, count: int) -> float | None:
    return round(total / count, 1) if count else None


def period_start(at: datetime, by: Period, tz: ZoneInfo) -> datetime:
    local = at.astimezone(tz)
    if by == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def compute(
    calls: Iterable[Queued],
    since: datetime,
    until: datetime,
    threshold: float = 20.0,
    by: Period = "hour",
    tz: ZoneInfo | None = None,
) -> dict[str, Any]:
    """Totals, per line, per operator and per period (hours or days in ``tz``)."""
    zone = tz or ZoneInfo("UTC")
    total = Figures()
    lines: dict[str, Figures] = defaultdict(Figures)
    operators: dict[str, Figures] = defaultdict(Figures)
    periods: dict[datetime, Figures] = defaultdict(Figures)
    for call in calls:
        total.add(call, threshold)
        lines[call.line or "none"].add(call, threshold)
        if call.operator and call.answered:
            operators[call.operator].add(call, threshold)
        periods[period_start(call.queued, by, zone)].add(call, threshold)
    return {
        "from": since.isoformat(),
        "to": until.isoformat(),
        "threshold": threshold,
        "timezone": zone.key,
        "by": by,
        "total": total.as_json(),
        "lines": {name: f.as_json() for name, f in sorted(lines.items())},
        "operators": {name: f.as_json() for name, f in sorted(operators.items())},
        "periods": [
            {"start": start.isoformat(), **periods[start].as_json()}
            for start in _every(since, until, by, zone)
            if start in periods or (until - since) <= timedelta(days=31)
        ],
    }


def _every(since: datetime, until: datetime, by: Period, tz: ZoneInfo) -> list[datetime]:
    """Every period from ``since`` to ``until`` (empty ones included), in local time."""
    starts = []
    start = period_start(since, by, tz)
    while start < until:
        starts.append(start)
        if by == "hour":  # step in UTC: an hour is an hour across a change of offset
            start = period_start(start.astimezone(UTC) + timedelta(hours=1), by, tz)
        else:  # step in dates: a day may have 23 or 25 hours
            start = datetime.combine(start.date() + timedelta(days=1), time(), tzinfo=tz)
    return starts
