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

And of the detention reports stored in the period (:func:`reports`), per line and in all:

- reports, accepted (by a person on duty, or on their behalf), open (not accepted, not
  closed);
- time to acceptance: from the report to the person who accepted it, its median (p50), p90
  and longest, in seconds, of those accepted;
- within_target: the share accepted within the line's ``notification_target`` (of the
  reports accepted or old enough to have been: an open one still within it counts in
  neither);
- calls: the calls to people on duty it took, on average and at most, for those accepted.
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class Reported:
    """What the statistics need of one detention report."""

    line: str
    stored: datetime
    #: When a person accepted it (None: not yet, or never).
    accepted: datetime | None
    closed: bool
    #: Calls made to people on duty until it was accepted.
    calls: int
    #: Seconds within which it is to be accepted (the line's notification_target).
    target: float


@dataclass
class ReportFigures:
    reports: int = 0
    accepted: int = 0
    open: int = 0
    within: int = 0
    due: int = 0
    times: list[float] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)

    def add(self, report: Reported, now: datetime) -> None:
        self.reports += 1
        if report.accepted is not None:
            self.accepted += 1
            took = (report.accepted - report.stored).total_seconds()
            self.times.append(took)
            self.calls.append(report.calls)
            self.due += 1
            self.within += took <= report.target
        else:
            self.open += not report.closed
            self.due += (now - report.stored).total_seconds() > report.target

    def as_json(self) -> dict[str, Any]:
        times = sorted(self.times)
        return {
            "reports": self.reports,
            "accepted": self.accepted,
            "open": self.open,
            "time_to_acceptance": {
                "p50": _percentile(times, 0.5),
                "p90": _percentile(times, 0.9),
                "max": round(times[-1], 1) if times else None,
            },
            "within_target": round(self.within / self.due, 4) if self.due else None,
            "calls": {
                "mean": _mean(sum(self.calls), len(self.calls)),
                "max": max(self.calls) if self.calls else None,
            },
        }


def _percentile(ordered: list[float], q: float) -> float | None:
    """The ``q`` quantile of ``ordered`` (nearest rank)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(round(q * len(ordered), 9)))  # (0.9 * 10 is 9.000000000000002)
    return round(ordered[min(rank, len(ordered)) - 1], 1)


def reports(items: Iterable[Reported], now: datetime) -> dict[str, Any]:
    """The detention reports' figures, in all and per line."""
    total = ReportFigures()
    lines: dict[str, ReportFigures] = defaultdict(ReportFigures)
    for item in items:
        total.add(item, now)
        lines[item.line].add(item, now)
    return {
        **total.as_json(),
        "lines": {name: f.as_json() for name, f in sorted(lines.items())},
    }
