"""Weekly opening hours, holidays, exceptional openings and closures, and time zones of the
offices that staff the lines."""

from __future__ import annotations

import re
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_MINUTES = 24 * 60
_HOURS = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)


@dataclass(frozen=True, order=True)
class Span:
    """Open on weekday ``day`` (0 = Monday) from minute ``start`` to minute ``end`` (local)."""

    day: int
    start: int
    end: int


def _minutes(text: str) -> int:
    hours, minutes = (int(part) for part in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > _DAY_MINUTES:
        raise ValueError(f"{text!r} is not a time of day (00:00-24:00)")
    return hours * 60 + minutes


def parse_hours(entries: Iterable[str]) -> tuple[Span, ...]:
    """Parse opening hours such as ``"mon-fri 09:00-18:00"``, ``"sat 10:00-14:00"`` or
    ``"always"``. A span that ends before it starts runs past midnight into the next day."""
    spans: list[Span] = []
    for entry in entries:
        text = " ".join(entry.lower().split())
        if text in ("always", "24/7"):
            spans.extend(Span(day, 0, _DAY_MINUTES) for day in range(7))
            continue
        match = _HOURS.match(text)
        if match is None:
            raise ValueError(
                f"{entry!r} is not opening hours; write e.g. 'mon-fri 09:00-18:00' or 'always'"
            )
        first, last = match["first"], match["last"] or match["first"]
        for name in (first, last):
            if name not in DAYS:
                raise ValueError(f"{name!r} is not a day; use one of {', '.join(DAYS)}")
        start, end = _minutes(match["start"]), _minutes(match["end"])
        if start == end:
            raise ValueError(f"{entry!r} opens and closes at the same time")
        days = range(DAYS.index(first), DAYS.index(last) + 1)
        if not days:
            raise ValueError(f"{entry!r}: {first} comes after {last}")
        for day in days:
            if start < end:
                spans.append(Span(day, start, end))
            else:  # past midnight
                spans.append(Span(day, start, _DAY_MINUTES))
                spans.append(Span((day + 1) % 7, 0, end))
    return tuple(sorted(spans))


@dataclass(frozen=True)
class Exception_:
    """Open (``open``) or closed from ``start`` to ``end``, in the office's local time,
    whatever its weekly hours and closed days say ("closed from 15:00 on 24 December", "open
    on 1 January")."""

    start: datetime
    end: datetime
    open: bool


def _moment(text: str, end: bool = False) -> datetime:
    """``2026-12-24 15:00`` as it reads; ``2026-12-24`` alone: that day's start (as an end:
    the day after's start, so that the day is included)."""
    text = " ".join(str(text).split())
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d")
            return day + timedelta(days=1) if end else day
        return datetime.strptime(text, "%Y-%m-%d %H:%M")
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date (2026-12-24) or a time (2026-12-24 15:00)"
        ) from None


def parse_exception(start: str, end: str | None, open_: bool) -> Exception_:
    """An exception from ``start`` to ``end`` (a date, or a date and a time; no end: the day of
    ``start`` to its end)."""
    begins = _moment(start)
    ends = _moment(end, end=True) if end else _moment(start[:10], end=True)
    if ends <= begins:
        raise ValueError(f"{end!r} is not after {start!r}")
    return Exception_(begins, ends, open_)


@dataclass(frozen=True)
class Schedule:
    """When an office is open, in its own time zone.

    ``holidays`` are the office's own closed days; ``public`` its country's public holidays
    (any container of dates: the config gives the ``holidays`` package's calendar). A public
    holiday closes the office for a line unless the line is open on holidays, and never closes
    an office that is open around the clock."""

    timezone: str
    weekly: tuple[Span, ...]
    holidays: frozenset[date] = field(default_factory=frozenset)
    public: Container[date] = field(default_factory=frozenset, compare=False)
    #: Exceptional openings and closures (the last one that covers a moment decides).
    exceptions: tuple[Exception_, ...] = ()

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None

    def is_open(self, at: datetime, on_public_holidays: bool = False) -> bool:
        """Whether the office is open at the aware instant ``at`` (for a line that is open on
        public holidays, with ``on_public_holidays``)."""
        if at.tzinfo is None:
            raise ValueError("a naive datetime has no place in a schedule; pass an aware one")
        local = at.astimezone(ZoneInfo(self.timezone))
        wall = local.replace(tzinfo=None)
        for exception in reversed(self.exceptions):
            if exception.start <= wall < exception.end:
                return exception.open
        if local.date() in self.holidays:
            return False
        if not (on_public_holidays or self.round_the_clock) and local.date() in self.public:
            return False
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        return any(s.day == day and s.start <= minute < s.end for s in self.weekly)

    @property
    def round_the_clock(self) -> bool:
        """Open every hour of the week (public holidays included)."""
        return all(
            any(s.day == d and s.start == 0 and s.end == _DAY_MINUTES for s in self.weekly)
            for d in range(7)
        )

    @property
    def always_open(self) -> bool:
        """Never closed: round the clock, with no closed day or closure of its own."""
        closures = any(not e.open for e in self.exceptions)
        return not self.holidays and not closures and self.round_the_clock


@dataclass(frozen=True)
class Office:
    """A place where operators work, with its hours."""

    name: str
    schedule: Schedule
