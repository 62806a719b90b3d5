"""Who is on duty: the duty lawyers and the supervisor on duty of a rota, at any moment.

A rota is a weekly pattern (who, in order, at which local hours), exceptions that replace who
is on duty for a while (a holiday, a sick lawyer), and shifts from a calendar the legal aid
centre keeps. Everything here is pure: the moment is passed in, the calendar's shifts come
from a :class:`ShiftSource` that has already been read.

Times: the pattern and the exceptions are in the rota's time zone (its organisation's), read
by the wall clock there, so "18:00-09:00" is 18:00 in summer and in winter; a boundary that a
DST change skips (03:30 on the last Sunday of March in Kyiv) takes effect when the clock jumps
over it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routing.schedule import Span, parse_hours


class DutyRole(StrEnum):
    """What a person on duty is rung for: a detention report goes to the duty lawyers first,
    then to the supervisor on duty."""

    LAWYER = "lawyer"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Person:
    """Someone who can be on duty: rung on ``phone`` (through the trunk), written to at
    ``email``, spoken to in ``language``."""

    id: str
    name: str
    phone: str | None
    email: str | None
    language: str


@dataclass(frozen=True)
class Shift:
    """``people`` (in the order they are rung) on duty as ``role`` from ``start`` to ``end``
    (aware instants; ``end`` excluded)."""

    start: datetime
    end: datetime
    role: DutyRole
    people: tuple[Person, ...]

    def __post_init__(self) -> None:  # kept in UTC: see Rota.gaps
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))

    def covers(self, at: datetime) -> bool:
        return self.start <= at < self.end


class ShiftSource(Protocol):
    """Shifts read from somewhere else (an iCalendar): those that overlap ``[start, end)``,
    earliest first."""

    def between(self, start: datetime, end: datetime) -> Sequence[Shift]: ...


@dataclass(frozen=True)
class Shifts:
    """A fixed list of shifts (a :class:`ShiftSource`)."""

    items: tuple[Shift, ...] = ()

    def between(self, start: datetime, end: datetime) -> Sequence[Shift]:
        return sorted(
            (s for s in self.items if s.start < end and s.end > start), key=lambda s: s.start
        )


@dataclass(frozen=True)
class Turn:
    """One entry of the weekly pattern: ``people`` in this order, as ``role``, at ``spans``
    (local weekday and minutes, as offices' hours are)."""

    role: DutyRole
    people: tuple[Person, ...]
    spans: tuple[Span, ...]

    def covers(self, weekday: int, minute: int) -> bool:
        return any(s.day == weekday and s.start <= minute < s.end for s in self.spans)


@dataclass(frozen=True)
class Override:
    """An exception: from ``start`` to ``end`` (aware; ``end`` excluded), who is on duty in
    each role it names is ``people[role]`` (perhaps nobody), whatever the pattern and the
    calendar say. Roles it does not name are left as they are."""

    start: datetime
    end: datetime
    people: tuple[tuple[DutyRole, tuple[Person, ...]], ...]

    def __post_init__(self) -> None:  # kept in UTC: see Rota.gaps
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))

    def replaces(self, at: datetime, role: DutyRole) -> tuple[Person, ...] | None:
        if not self.start <= at < self.end:
            return None
        return next((people for named, people in self.people if named is role), None)

    def names(self, role: DutyRole) -> bool:
        return any(named is role for named, _ in self.people)


_WHOLE_DAYS = re.compile(r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?)\s+(?:always|24/7)$")


def parse_when(entries: Iterable[str]) -> tuple[Span, ...]:
    """Hours as offices have them (``"mon-fri 18:00-09:00"``, overnight when the end is
    before the start; ``"always"``), and whole days: ``"sat-sun always"``."""
    spelt = []
    for entry in entries:
        text = " ".join(entry.lower().split())
        whole = _WHOLE_DAYS.match(text)
        spelt.append(f"{whole['days']} 00:00-24:00" if whole else entry)
    try:
        return parse_hours(spelt)
    except ValueError as exc:
        raise ValueError(
            str(exc)
            .replace("is not opening hours", "is not duty hours")
            .replace("or 'always'", "'sat-sun always' or 'always'")
        ) from None


def zone(name: str) -> ZoneInfo:
    """The time zone ``name``; ValueError naming it if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """The instant the wall clock of ``tz`` reads ``wall`` (naive): the first of two in the
    hour a DST change repeats; for a time the change skips, the moment of the change."""
    first = wall.replace(tzinfo=tz, fold=0)  # (fold=0: the first of a repeated hour)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall:
        return first.astimezone(UTC)
    # skipped: fold=1 reads it with the offset after the change (an instant before it),
    # fold=0 with the one before (an instant after it); the change lies between them
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    after = first.astimezone(UTC)
    return _change_between(min(before, after), max(before, after), tz)


def _change_between(a: datetime, b: datetime, tz: ZoneInfo) -> datetime:
    """The instant in ``(a, b]`` at which ``tz``'s offset changes (to the second)."""
    offset = a.astimezone(tz).utcoffset()
    while b - a > timedelta(seconds=1):
        middle = a + (b - a) / 2
        if middle.astimezone(tz).utcoffset() == offset:
            a = middle
        else:
            b = middle
    return b.replace(microsecond=0) if b.microsecond else b


def _unique(people: Iterable[Person]) -> list[Person]:
    seen: set[str] = set()
    found = []
    for person in people:
        if person.id not in seen:
            seen.add(person.id)
            found.append(person)
    return found


@dataclass(frozen=True)
class Rota:
    """Who is on duty, by role: an exception that covers the moment decides alone; otherwise
    the calendar's shifts (earliest start first), then the weekly pattern's people (in the
    order of its entries), each person once.

    A pattern's span runs from the first instant the local wall clock reads its start to the
    first instant it reads its end: a DST change in between makes it an hour longer or
    shorter, a start the change skips begins at the change, and an hour the change repeats
    is not lived twice."""

    name: str
    timezone: str
    turns: tuple[Turn, ...] = ()
    overrides: tuple[Override, ...] = ()
    calendar: ShiftSource | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        zone(self.timezone)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def on_duty(self, at: datetime, role: DutyRole) -> list[Person]:
        """Who is on duty as ``role`` at the aware instant ``at``, the first to ring first
        (empty: nobody)."""
        at = _utc(at)
        after = at + timedelta(microseconds=1)
        found = self.calendar.between(at, after) if self.calendar else ()
        shifts = [s for s in found if s.role is role]
        return self._people(at, role, shifts, self.pattern(at, after, role))

    def gaps(
        self, start: datetime, end: datetime, role: DutyRole
    ) -> list[tuple[datetime, datetime]]:
        """The stretches of ``[start, end)`` with nobody on duty as ``role``, in order, each
        as long as it lasts (two never touch), in UTC (``astimezone(rota.tz)`` to tell
        them: an aware time in the hour a DST change repeats never equals one of another
        zone, PEP 495)."""
        # (instants compared in UTC: two aware times of one zone compare by their wall clock,
        # which repeats in the hour a DST change gives back)
        start, end = _utc(start), _utc(end)
        if start >= end:
            return []
        found_shifts = self.calendar.between(start, end) if self.calendar else ()
        shifts = [s for s in found_shifts if s.role is role]
        pattern = self.pattern(start, end, role)
        points = {start, end}
        for instant in (
            *(t for o in self.overrides if o.names(role) for t in (o.start, o.end)),
            *(t for s in shifts for t in (s.start, s.end)),
            *(t for s in pattern for t in (s.start, s.end)),
        ):
            if start < instant < end:
                points.add(instant)
        ordered = sorted(points)
        found: list[tuple[datetime, datetime]] = []
        for a, b in itertools.pairwise(ordered):
            if self._people(a, role, shifts, pattern):
                continue
            if found and found[-1][1] == a:  # one gap, cut by a change that changed nothing
                found[-1] = (found[-1][0], b)
            else:
                found.append((a, b))
        return found

    def pattern(self, start: datetime, end: datetime, role: DutyRole) -> list[Shift]:
        """The weekly pattern's spans for ``role`` that overlap ``[start, end)``, as shifts
        (in UTC), in the order of the pattern's entries."""
        tz = self.tz
        first = start.astimezone(tz).date() - timedelta(days=1)
        last = end.astimezone(tz).date()
        found = []
        for turn in self.turns:
            if turn.role is not role:
                continue
            day = first
            while day <= last:
                midnight = datetime.combine(day, time())
                for span in turn.spans:
                    if span.day != day.weekday():
                        continue
                    a = localize(midnight + timedelta(minutes=span.start), tz)
                    b = localize(midnight + timedelta(minutes=span.end), tz)
                    if a < end and b > start and a < b:
                        found.append(Shift(a, b, role, turn.people))
                day += timedelta(days=1)
        return found

    def _people(
        self, at: datetime, role: DutyRole, shifts: Iterable[Shift], pattern: Iterable[Shift]
    ) -> list[Person]:
        for override in reversed(self.overrides):  # the last one listed wins
            replaced = override.replaces(at, role)
            if replaced is not None:
                return list(replaced)
        return _unique(
            [
                *(p for s in shifts if s.covers(at) for p in s.people),
                *(p for s in pattern if s.covers(at) for p in s.people),
            ]
        )


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no place in a rota; pass an aware one")
    return at.astimezone(UTC)


def parse_moment(value: str | date | datetime, tz: ZoneInfo, *, end: bool = False) -> datetime:
    """An exception's ``from`` or ``to``: a date-time (``"2026-12-24 15:00"``, local unless it
    has an offset) or a date (its start; as an ``end``, the end of that day: a date range
    includes its last day)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed: date | datetime = (
                date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
            )
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date or a date and time (e.g. 2026-12-24 or 2026-12-24 15:00)"
            ) from None
        value = parsed
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else localize(value, tz)
    day = value + timedelta(days=1) if end else value
    return localize(datetime.combine(day, time()), tz)
