"""`hotline forecast`: how many operators each line needed, hour by hour, to meet its service
level target (Erlang C on what the call log saw: the calls that joined the queue and how long
they talked), beside how many were on duty then. The same model the service's estimates use
(:mod:`routing.estimate`), which the simulated queue matches (:mod:`routing.simulate`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from agents.operator import Operator
from routing.estimate import operators_needed

HOUR = timedelta(hours=1)
#: The states of an operator who is on duty (logged in and not paused).
ON_DUTY = frozenset({"available", "ringing", "on_call", "wrap_up"})


@dataclass(frozen=True)
class Queued:
    """A call that joined a line's queue, as the forecast needs it."""

    line: str
    at: datetime
    #: Seconds an operator talked with the caller (None: not answered).
    talk: float | None


@dataclass(frozen=True)
class Change:
    """An operator's state from ``at`` on."""

    operator: str
    at: datetime
    state: str


@dataclass(frozen=True)
class Goal:
    """What a line's hours are held to (its organisation's queue rules): ``share`` of its
    calls answered within ``within`` seconds; ``default_handle``: the talk assumed for an
    hour with no answered call."""

    within: float
    share: float
    default_handle: float


@dataclass(frozen=True)
class Hour:
    """One line's hour: what came, what it needed, who was there."""

    line: str
    start: datetime
    offered: int
    #: Mean talk of the hour's answered calls (the default handle time when none was).
    handle: float
    needed: int
    #: Operators on duty for the line, on average over the hour.
    on_duty: float


def on_duty(
    changes: Iterable[Change], operators: Iterable[str], start: datetime, end: datetime
) -> float:
    """How many of ``operators`` were on duty between ``start`` and ``end``, on average
    (an operator with no change before ``start`` was logged out)."""
    wanted = set(operators)
    state = dict.fromkeys(wanted, "logged_out")
    since = dict.fromkeys(wanted, start)
    seconds = 0.0
    for change in sorted(changes, key=lambda c: c.at):
        if change.operator not in wanted or change.at >= end:
            continue
        at = max(change.at, start)
        if state[change.operator] in ON_DUTY:
            seconds += (at - since[change.operator]).total_seconds()
        state[change.operator], since[change.operator] = change.state, at
    for operator in wanted:
        if state[operator] in ON_DUTY:
            seconds += (end - since[operator]).total_seconds()
    return seconds / (end - start).total_seconds()


def forecast(
    calls: Iterable[Queued],
    changes: Iterable[Change],
    operators: Mapping[str, Operator],
    goals: Mapping[str, Goal],
    since: datetime,
    until: datetime,
    zone: ZoneInfo,
) -> list[Hour]:
    """Every hour in [since, until) of every line of ``goals`` that had a call or an
    operator on duty, each line held to its own goal."""
    calls, changes = list(calls), list(changes)
    hours: list[Hour] = []
    for line, goal in goals.items():
        serving = [op for op, known in operators.items() if known.serves(line)]
        start = since.astimezone(zone)
        while start < until:
            end = start + HOUR
            here = [c for c in calls if c.line == line and start <= c.at < end]
            talks = [c.talk for c in here if c.talk is not None]
            handle = sum(talks) / len(talks) if talks else goal.default_handle
            staff = on_duty(changes, serving, start, end)
            if here or staff:
                needed = operators_needed(len(here) / 3600, handle, goal.within, goal.share)
                hours.append(Hour(line, start, len(here), handle, needed, staff))
            start = end
    return hours


def last_week(now: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 of the last full week before ``now``."""
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    monday = today - timedelta(days=today.weekday() + 7)
    return monday, monday + timedelta(days=7)


def week_of(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 of the week that holds ``day``, in ``zone``."""
    monday = datetime(day.year, day.month, day.day, tzinfo=zone) - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def rows(hours: Iterable[Hour]) -> list[dict[str, object]]:
    """The forecast as data (`hotline forecast --json`): a row per line and hour."""
    return [
        {
            "line": h.line,
            "hour": h.start.isoformat(),
            "offered": h.offered,
            "handle_s": round(h.handle, 1),
            "needed": h.needed,
            "on_duty": round(h.on_duty, 2),
        }
        for h in hours
    ]


def table(hours: Iterable[Hour], goals: Mapping[str, Goal]) -> str:
    """The forecast as text, a block per line (with its own target)."""
    out: list[str] = []
    line = None
    for hour in hours:
        if hour.line != line:
            line, goal = hour.line, goals[hour.line]
            out += ["", f"{line} (target: {goal.share:.0%} answered within {goal.within:g} s)"]
            out.append("  hour              offered  handle  needed  on duty")
        gap = hour.on_duty - hour.needed
        mark = "  short" if gap < 0 else ""
        out.append(
            f"  {hour.start:%a %Y-%m-%d %H:00}  {hour.offered:7d}  {hour.handle:5.0f} s"
            f"  {hour.needed:6d}  {hour.on_duty:7.1f}{mark}"
        )
    return "\n".join(out).strip("\n") or "no calls and nobody on duty in that week"
