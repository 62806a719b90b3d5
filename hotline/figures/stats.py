"""The figures supervisors manage by, computed from the calls that joined a queue.

Definitions (the same for a line, an operator, an hour or a day):

- offered: calls that joined a queue in the period (a callback request joins one too);
- answered: offered calls an operator answered (a callback counts when the caller picks up);
- abandoned: offered calls whose caller hung up before an answer;
- waiting: offered calls with no answer and no end yet (still queued, or awaiting a callback);
- service_level: answered within ``threshold`` seconds / (offered - waiting);
  ``service_levels`` the same for each of several thresholds at once;
- average_speed_of_answer: mean wait of the answered calls, in seconds;
- average_handle_time: mean talk time of the answered calls that ended, in seconds (talk
  only; the wrap-up is not in it);
- longest_wait: the longest wait, answered or not, in seconds;
- transferred: transfers made from the line, by the operator, in the period (a call
  transferred twice counts twice; its other figures go to the line and operator it ended
  with);
- topics and resolutions (from the operators' wrap-ups): per topic (a call of two topics
  counts in both) and per resolution, the calls, their average handle time, and how many of
  them per line, per operator and per period.

And of the operators, from their state changes (:func:`operators_time`), per operator and in
all, in seconds of the period: logged in, available, ringing, on a call, in wrap-up, paused
(and paused per reason); occupancy = (on a call + wrap-up) / (logged in - paused); the mean
wrap-up per answered call, and average_handle_time_with_wrap_up = the mean talk plus it.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

Period = Literal["15min", "30min", "hour", "day", "week", "month"]
#: Minutes of the periods shorter than a day.
MINUTES = {"15min": 15, "30min": 30, "hour": 60}
#: The most periods one answer lists with the empty ones (over more: those with calls only).
MOST_PERIODS = 1000


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


def from_row(r: Any) -> Queued:
    """What the statistics need of a call log's row (hotline.store.tables.Call)."""
    return Queued(
        r.line,
        r.operator,
        r.queued_at,
        r.answered_at is not None,
        r.wait,
        r.talk,
        r.outcome,
        tuple((t.get("line"), t.get("operator")) for t in r.transfers if t.get("operator")),
        tuple(r.topics),
        r.resolution,
    )


def from_report(n: Any, events: list[Any], target: float) -> Reported:
    """What the statistics need of a detention report (hotline.store.tables.Notification) and
    its escalation's events, held to ``target`` seconds."""
    accepted = next((e.at for e in events if e.kind == "escalation.accepted"), None)
    calls = 0  # the calls to people on duty it took until it was accepted
    for event in events:
        if event.kind == "escalation.accepted":
            break
        calls += 1
    return Reported(n.line, n.stored_at, accepted, n.handled_at is not None, calls, target)


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
    #: Answered within each of the other thresholds.
    withins: dict[float, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, call: Queued, threshold: float, more: Sequence[float] = ()) -> None:
        self.offered += 1
        if call.wait is not None:
            self.longest = max(self.longest, call.wait)
        if call.answered:
            self.answered += 1
            wait = call.wait or 0.0
            self.waits += wait
            self.within += wait <= threshold
            for other in more:
                self.withins[other] += wait <= other
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
            **(
                {
                    "service_levels": {
                        f"{t:g}": round(n / settled, 4) if settled else None
                        for t, n in sorted(self.withins.items())
                    }
                }
                if self.withins
                else {}
            ),
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
    """The start of the period ``at`` falls in: a quarter or half hour, an hour, a day, a week
    (from Monday) or a month, in ``tz``."""
    local = at.astimezone(tz)
    if by in MINUTES:
        minute = local.minute - local.minute % MINUTES[by]
        return local.replace(minute=minute, second=0, microsecond=0)
    day = local.date()
    if by == "week":
        day -= timedelta(days=day.weekday())
    elif by == "month":
        day = day.replace(day=1)
    return datetime.combine(day, time(), tzinfo=tz)


def compute(
    calls: Iterable[Queued],
    since: datetime,
    until: datetime,
    threshold: float = 20.0,
    by: Period = "hour",
    tz: ZoneInfo | None = None,
    thresholds: Sequence[float] = (),
) -> dict[str, Any]:
    """Totals, per line, per operator and per period (in ``tz``); the service level at
    ``threshold``, and at each of ``thresholds`` too."""
    zone = tz or ZoneInfo("UTC")
    total = Figures()
    lines: dict[str, Figures] = defaultdict(Figures)
    operators: dict[str, Figures] = defaultdict(Figures)
    periods: dict[datetime, Figures] = defaultdict(Figures)
    topics: dict[str, Wrapped] = defaultdict(Wrapped)
    resolutions: dict[str, Wrapped] = defaultdict(Wrapped)
    more = tuple(sorted(set(thresholds)))
    for call in calls:
        total.add(call, threshold, more)
        lines[call.line or "none"].add(call, threshold, more)
        if call.operator and call.answered:
            operators[call.operator].add(call, threshold, more)
        period = periods[period_start(call.queued, by, zone)]
        period.add(call, threshold, more)
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
        **({"thresholds": list(more)} if more else {}),
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
            if start in periods or periods_between(since, until, by) <= MOST_PERIODS
        ],
    }


def periods_between(since: datetime, until: datetime, by: Period) -> int:
    """About how many periods of ``by`` there are from ``since`` to ``until``."""
    seconds = (until - since).total_seconds()
    length = {"day": 86400, "week": 7 * 86400, "month": 28 * 86400}
    return math.ceil(seconds / (MINUTES[by] * 60 if by in MINUTES else length[by]))


def _every(since: datetime, until: datetime, by: Period, tz: ZoneInfo) -> list[datetime]:
    """Every period from ``since`` to ``until`` (empty ones included), in local time."""
    starts = []
    start = period_start(since, by, tz)
    while start < until:
        starts.append(start)
        if by in MINUTES:  # step in UTC: an hour is an hour across a change of offset
            step = timedelta(minutes=MINUTES[by])
            start = period_start(start.astimezone(UTC) + step, by, tz)
        elif by == "day":  # step in dates: a day may have 23 or 25 hours
            start = datetime.combine(start.date() + timedelta(days=1), time(), tzinfo=tz)
        elif by == "week":
            start = datetime.combine(start.date() + timedelta(days=7), time(), tzinfo=tz)
        else:
            after = start.date().replace(day=28) + timedelta(days=4)  # in the next month
            start = datetime.combine(after.replace(day=1), time(), tzinfo=tz)
    return starts


@dataclass(frozen=True)
class Change:
    """An operator's state as it changed."""

    operator: str
    at: datetime
    state: str
    reason: str | None = None


#: The states an operator works in (logged in, not paused).
WORKING = ("available", "ringing", "on_call", "wrap_up")


def operators_time(
    changes: Iterable[Change], answered: dict[str, int], talk: dict[str, float],
    since: datetime, until: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Seconds each operator spent in each state from ``since`` to ``until`` (a change before
    ``since`` says where they stood as it began), with their occupancy and wrap-up per call
    (``answered``, ``talk``: their answered calls and talk time in the period); and in all."""
    spent: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    paused: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    where: dict[str, tuple[str, str | None, datetime]] = {}

    def close(operator: str, end: datetime) -> None:
        state, reason, start = where[operator]
        seconds = (end - max(start, since)).total_seconds()
        if seconds > 0 and state != "logged_out":
            spent[operator][state] += seconds
            if state == "paused":
                paused[operator][reason or "unknown"] += seconds

    for change in sorted(changes, key=lambda c: c.at):
        if change.at >= until:
            continue
        if change.operator in where:
            close(change.operator, change.at)
        where[change.operator] = (change.state, change.reason, change.at)
    for operator in list(where):
        close(operator, until)

    def figures(
        states: dict[str, float], pauses: dict[str, float], calls: int, talks: float
    ) -> dict[str, Any]:
        working = sum(states[s] for s in WORKING)
        busy = states["on_call"] + states["wrap_up"]
        wrap = round(states["wrap_up"] / calls, 1) if calls else None
        return {
            "logged_in": round(working + states["paused"], 1),
            **{s: round(states[s], 1) for s in (*WORKING, "paused")},
            "paused_by_reason": {r: round(v, 1) for r, v in sorted(pauses.items())},
            "occupancy": round(busy / working, 4) if working else None,
            "average_wrap_up": wrap,
            "average_handle_time_with_wrap_up": (
                round(talks / calls + states["wrap_up"] / calls, 1) if calls else None
            ),
        }

    total: dict[str, float] = defaultdict(float)
    total_pauses: dict[str, float] = defaultdict(float)
    found = {}
    for operator in sorted(set(spent) | set(answered)):
        for state, seconds in spent[operator].items():
            total[state] += seconds
        for reason, seconds in paused[operator].items():
            total_pauses[reason] += seconds
        found[operator] = figures(
            spent[operator], paused[operator], answered.get(operator, 0), talk.get(operator, 0.0)
        )
    return {
        "total": figures(total, total_pauses, sum(answered.values()), sum(talk.values())),
        "operators": found,
    }


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
