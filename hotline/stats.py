"""The figures supervisors manage by, computed from the calls that joined a queue.

Definitions (the same for a line, an operator, an hour or a day):

- offered: calls that joined a queue in the period (a callback request joins one too);
- answered: offered calls an operator answered (a callback counts when the caller picks up);
- abandoned: offered calls whose caller hung up before an answer;
- waiting: offered calls with no answer and no end yet (still queued, or awaiting a callback);
- service_level: answered within ``threshold`` seconds / (offered - waiting);
- average_speed_of_answer: mean wait of the answered calls, in seconds;
- average_handle_time: mean talk time of the answered calls that ended, in seconds;
- longest_wait: the longest wait, answered or not, in seconds;
- transferred: transfers made from the line, by the operator, in the period (a call
  transferred twice counts twice; its other figures go to the line and operator it ended
  with);
- topics and resolutions (from the operators' wrap-ups): per topic (a call of two topics
  counts in both) and per resolution, the calls, their average handle time, and how many of
  them per line, per operator and per period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
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
    #: Each transfer made: the (line, operator) it was made from.
    transfers: tuple[tuple[str | None, str | None], ...] = ()
    #: The wrap-up's topics and resolution.
    topics: tuple[str, ...] = ()
    resolution: str | None = None


@dataclass
class Wrapped:
    """The calls wrapped up with one topic (or resolution)."""

    calls: int = 0
    talks: float = 0.0
    talked: int = 0
    lines: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    operators: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, call: Queued) -> None:
        self.calls += 1
        if call.talk is not None:
            self.talks += call.talk
            self.talked += 1
        self.lines[call.line or "none"] += 1
        if call.operator:
            self.operators[call.operator] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "average_handle_time": _mean(self.talks, self.talked),
            "lines": dict(sorted(self.lines.items())),
            "operators": dict(sorted(self.operators.items())),
        }


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
    transferred: int = 0
    #: Calls by topic (a period's).
    topics: dict[str, int] = field(default_factory=lambda: defaultdict(int))

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
            "transferred": self.transferred,
            **({"topics": dict(sorted(self.topics.items()))} if self.topics else {}),
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
    topics: dict[str, Wrapped] = defaultdict(Wrapped)
    resolutions: dict[str, Wrapped] = defaultdict(Wrapped)
    for call in calls:
        total.add(call, threshold)
        lines[call.line or "none"].add(call, threshold)
        if call.operator and call.answered:
            operators[call.operator].add(call, threshold)
        period = periods[period_start(call.queued, by, zone)]
        period.add(call, threshold)
        for line, operator in call.transfers:
            for figures in (total, lines[line or "none"], period):
                figures.transferred += 1
            if operator:
                operators[operator].transferred += 1
        for topic in call.topics:
            topics[topic].add(call)
            period.topics[topic] += 1
        if call.resolution is not None:
            resolutions[call.resolution].add(call)
    return {
        "from": since.isoformat(),
        "to": until.isoformat(),
        "threshold": threshold,
        "timezone": zone.key,
        "by": by,
        "total": total.as_json(),
        "lines": {name: f.as_json() for name, f in sorted(lines.items())},
        "operators": {name: f.as_json() for name, f in sorted(operators.items())},
        "topics": {name: w.as_json() for name, w in sorted(topics.items())},
        "resolutions": {name: w.as_json() for name, w in sorted(resolutions.items())},
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
