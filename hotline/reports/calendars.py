"""Rotas kept as iCalendar (RFC 5545) files or URLs by the legal aid centre: read with the
`icalendar` and `recurring-ical-events` packages, each VEVENT a shift, and re-read when they
change (a file by its modification time, a URL with conditional requests).

How an event becomes a shift:

- who: each ATTENDEE whose ``mailto:`` is a duty person's e-mail (in the order listed), and
  the person whose id or name the SUMMARY is; an event that names nobody is left out (and
  ``hotline check`` says so);
- as what: CATEGORIES ``supervisor`` makes it a supervisor's shift, anything else a lawyer's;
- when: recurrences expanded (RRULE, RDATE, EXDATE, instances moved or cancelled by a
  RECURRENCE-ID); times with a TZID or in UTC as they say, floating times and all-day events
  in the rota's time zone (an all-day event is the whole local day); a cancelled event
  (STATUS:CANCELLED) is no shift.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time as clock
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import icalendar
import recurring_ical_events

from agents.rota import DutyRole, Person, Shift, localize, zone

log = logging.getLogger(__name__)

#: A calendar larger than this is refused (a duty rota of years is a few hundred kB).
MAX_BYTES = 5 * 1024 * 1024
#: How far around a question the calendar is expanded at once (then answered from memory):
#: the wallboard, /metrics and `hotline check` ask about the next 14 days over and over.
WINDOW = timedelta(days=16)


class CalendarError(ValueError):
    """A calendar that cannot be read or understood; the message says why."""


@dataclass(frozen=True)
class Unmatched:
    """An event that names none of the duty people."""

    summary: str
    start: datetime
    end: datetime


class Calendar:
    """A parsed calendar as a rota's :class:`~agents.rota.ShiftSource`: the shifts of its
    events, for the people it may name, in the rota's time zone."""

    def __init__(self, parsed: icalendar.Calendar, people: Mapping[str, Person], tz: str) -> None:
        self.parsed = parsed
        self.tz = zone(tz)
        self._by_email = {p.email.lower(): p for p in people.values() if p.email}
        self._by_name = {key.casefold(): p for p in people.values() for key in (p.id, p.name)}
        self._window: tuple[datetime, datetime] | None = None
        self._shifts: list[Shift] = []
        self._unmatched: list[Unmatched] = []

    def between(self, start: datetime, end: datetime) -> Sequence[Shift]:
        """The shifts that overlap ``[start, end)``, earliest first."""
        self._expand(start, end)
        return [s for s in self._shifts if s.start < end and s.end > start]

    def unmatched(self, start: datetime, end: datetime) -> list[Unmatched]:
        """The events overlapping ``[start, end)`` that name none of the duty people."""
        self._expand(start, end)
        return [u for u in self._unmatched if u.start < end and u.end > start]

    def _expand(self, start: datetime, end: datetime) -> None:
        if self._window is not None and self._window[0] <= start and end <= self._window[1]:
            return
        window = (start - timedelta(days=1), max(end, start + WINDOW) + timedelta(days=1))
        shifts, unmatched = [], []
        try:
            # (a day more on each side: floating and all-day times are read in the rota's zone)
            occurrences = recurring_ical_events.of(self.parsed).between(*window)
            for event in occurrences:
                found = self._shift(event)
                if isinstance(found, Shift):
                    shifts.append(found)
                elif found is not None:
                    unmatched.append(found)
        except CalendarError:
            raise
        except Exception as exc:  # the packages raise many kinds; each is a bad calendar
            raise CalendarError(_why(exc)) from None
        shifts.sort(key=lambda s: s.start)
        self._window, self._shifts, self._unmatched = window, shifts, unmatched

    def _shift(self, event: icalendar.Event) -> Shift | Unmatched | None:
        if str(event.get("STATUS", "")).upper() == "CANCELLED":
            return None
        start, end = self._instant(event.start), self._instant(event.end)
        if end <= start:
            return None  # no length: a reminder, not a shift
        summary = str(event.get("SUMMARY", "")).strip()
        people = [self._by_email.get(_mailto(a)) for a in _listed(event.get("ATTENDEE"))]
        people.append(self._by_name.get(summary.casefold()))
        found = tuple(dict.fromkeys(p for p in people if p is not None))
        if not found:
            return Unmatched(summary, start, end)
        categories = {
            str(c).strip().lower() for entry in _listed(event.get("CATEGORIES")) for c in entry.cats
        }
        role = DutyRole.SUPERVISOR if "supervisor" in categories else DutyRole.LAWYER
        return Shift(start, end, role, found)

    def _instant(self, value: date | datetime) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC) if value.tzinfo else localize(value, self.tz)
        return localize(datetime.combine(value, time()), self.tz)


def _listed(value: Any) -> list[Any]:
    """A property that may appear once or many times, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _mailto(address: Any) -> str:
    return str(address).strip().lower().removeprefix("mailto:")


def _why(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) < 300 else f"{text[:300]}..."


def parse(
    text: bytes | str, people: Mapping[str, Person], tz: str, around: datetime | None = None
) -> Calendar:
    """Parse and check an iCalendar text (raises CalendarError saying what is wrong); its
    shifts of the days ``around`` worked out already (a calendar of years takes a while:
    better in a worker thread than in the service's event loop)."""
    if len(text) > MAX_BYTES:
        raise CalendarError(f"over {MAX_BYTES // (1024 * 1024)} MB: not a duty rota")
    try:
        parsed = icalendar.Calendar.from_ical(text)
    except Exception as exc:
        raise CalendarError(f"not an iCalendar file: {_why(exc)}") from None
    if not isinstance(parsed, icalendar.Calendar):
        raise CalendarError("not an iCalendar file: no VCALENDAR")
    for event in parsed.events:
        summary = str(event.get("SUMMARY", "")).strip() or "(no summary)"
        try:
            start = event.start
        except Exception as exc:
            raise CalendarError(
                f"event {summary!r}: a bad or missing DTSTART ({_why(exc)})"
            ) from None
        tzid = event.get("DTSTART").params.get("TZID")
        if tzid and isinstance(start, datetime) and start.tzinfo is None:
            raise CalendarError(f"event {summary!r}: unknown time zone {tzid!r}")
    calendar = Calendar(parsed, people, tz)
    at = around or datetime.now(UTC)  # (any day checks every event: each is looked at)
    calendar.between(at, at + timedelta(seconds=1))
    return calendar


def read_file(
    path: Path, people: Mapping[str, Person], tz: str, around: datetime | None = None
) -> Calendar:
    """Read and parse a calendar file (CalendarError: cannot be read, or is not one)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CalendarError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    return parse(text, people, tz, around)


def describe(url: str) -> str:
    """A calendar URL as logs and the API show it: its host, never its path or query (a
    private calendar's address holds its secret)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}/..."


@dataclass
class Fetched:
    """What a conditional GET brought: nothing new (``body`` None), or the new text and its
    validators for the next request."""

    body: bytes | None
    etag: str | None = None
    last_modified: str | None = None


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 20.0,
) -> Fetched:
    """GET a calendar, conditionally (If-None-Match / If-Modified-Since); a 304 is
    ``Fetched(None)``. Raises CalendarError on anything but 200 or 304, or a body too big."""
    headers = {"Accept": "text/calendar, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with client.stream("GET", url, headers=headers, timeout=timeout) as reply:
            if reply.status_code == 304:
                return Fetched(None, etag, last_modified)
            if reply.status_code != 200:
                raise CalendarError(f"{describe(url)} answered {reply.status_code}")
            body = bytearray()
            async for chunk in reply.aiter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise CalendarError(f"{describe(url)}: over {MAX_BYTES // 2**20} MB")
            return Fetched(
                bytes(body), reply.headers.get("ETag"), reply.headers.get("Last-Modified")
            )
    except httpx.HTTPError as exc:
        raise CalendarError(f"{describe(url)} unreachable: {_why(exc)}") from None


@dataclass
class Source:
    """A rota's calendar as it is kept up to date: the last good one, and what went wrong
    with the last reading (None: nothing)."""

    organisation: str
    rota: str
    people: Mapping[str, Person]
    timezone: str
    file: Path | None = None
    url: str | None = None
    #: Seconds between two requests to ``url`` (a file is looked at every second or so).
    every: float = 300.0
    calendar: Calendar | None = None
    error: str | None = None
    #: When it was last read (changed or not) and last found changed (service clock).
    read_at: datetime | None = None
    changed_at: datetime | None = None
    _stamp: tuple[int, int] | None = None
    _etag: str | None = None
    _last_modified: str | None = None
    _due: float = field(default=0.0)

    @property
    def where(self) -> str:
        return str(self.file) if self.file is not None else describe(self.url or "")

    @property
    def label(self) -> str:
        return f"{self.organisation} rota {self.rota}: calendar {self.where}"

    def loaded(self, calendar: Calendar, now: datetime) -> None:
        """(At start) a calendar the config's check has just read from ``file``."""
        self.calendar, self.read_at, self.changed_at = calendar, now, now
        if self.file is not None:
            self._stamp = _stamp(self.file)

    async def refresh(
        self, client: httpx.AsyncClient | None, now: datetime, timeout: float = 20.0
    ) -> bool:
        """Read it again if it is due and has changed; True when a new calendar is in use.
        A failure keeps the last good calendar and says so (``error``, and the log)."""
        try:
            if self.file is not None:
                stamp = _stamp(self.file)
                if stamp == self._stamp:
                    return False
                self._stamp = stamp  # (good or bad, read again once it changes)
                calendar = await asyncio.to_thread(
                    read_file, self.file, self.people, self.timezone, now
                )
                self.read_at = now
            else:
                if client is None or clock.monotonic() < self._due:
                    return False
                self._due = clock.monotonic() + self.every
                got = await fetch(client, self.url or "", self._etag, self._last_modified, timeout)
                self.read_at = now
                if got.body is None:
                    self._ok()
                    return False
                calendar = await asyncio.to_thread(parse, got.body, self.people, self.timezone, now)
                self._etag, self._last_modified = got.etag, got.last_modified
        except (CalendarError, OSError) as exc:
            self._failed(str(exc) if isinstance(exc, CalendarError) else _why(exc))
            return False
        self.calendar, self.read_at, self.changed_at = calendar, now, now
        self._ok()
        log.info("%s read (changed)", self.label)
        return True

    def _ok(self) -> None:
        if self.error is not None:
            log.warning("%s readable again", self.label)
        self.error = None

    def _failed(self, why: str) -> None:
        if why != self.error:  # said once per new problem, not at every look
            kept = "keeping the last good one" if self.calendar else "no shifts from it yet"
            log.error("%s cannot be used: %s (%s)", self.label, why, kept)
        self.error = why


def _stamp(path: Path) -> tuple[int, int]:
    """A file's modification time and size: either changes when it is rewritten."""
    try:
        found = os.stat(path)
    except OSError:
        return (-1, -1)
    return (found.st_mtime_ns, found.st_size)
