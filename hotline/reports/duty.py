"""Who is on duty, in the running service: every organisation's rotas (agents/rota.py) with
their calendars kept up to date (hotline/reports/calendars.py), asked by the escalation
(``on_duty``), and the gaps of the next 14 days for `hotline check`, the wallboard, the API
and /metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agents.rota import DutyRole, Person, Rota, zone
from hotline.config.deployment import Deployment
from hotline.figures.metrics import REGISTRY
from hotline.reports import calendars

log = logging.getLogger(__name__)

#: How far ahead gaps are looked for (and named by `hotline check`, the wallboard, the API).
HORIZON = timedelta(days=14)
#: The gaps of the next 14 days are worked out again at most this often (seconds), or at
#: once when a calendar changed: /metrics and every wallboard ask for them.
FRESH = 30.0
#: How often calendar files are looked at for a change (their modification time).
LOOK_EVERY = 1.0

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class UnknownRota(LookupError):
    """An organisation or a rota the config does not have."""


@dataclass(frozen=True)
class Gap:
    """Nobody on duty as ``role`` in ``organisation``'s rota ``rota`` from ``start`` to
    ``end`` (UTC; told in ``timezone``, the rota's)."""

    organisation: str
    rota: str
    role: DutyRole
    start: datetime
    end: datetime
    timezone: str = "UTC"

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def says(self) -> str:
        """``ua-legal-aid rota national: no lawyer on duty Saturday 2026-12-12 02:00-08:00
        (Europe/Kyiv)``."""
        tz = zone(self.timezone)
        a, b = self.start.astimezone(tz), self.end.astimezone(tz)
        if b.date() == a.date():
            until = f"-{b:%H:%M}"
        elif b.date() == a.date() + timedelta(days=1) and (b.hour, b.minute) == (0, 0):
            until = "-24:00"
        else:
            until = f" to {_DAYS[b.weekday()]} {b:%Y-%m-%d %H:%M}"
        when = f"{_DAYS[a.weekday()]} {a:%Y-%m-%d %H:%M}{until}"
        return (
            f"{self.organisation} rota {self.rota}: no {self.role.value} on duty {when} "
            f"({self.timezone})"
        )


class Duty:
    """Every organisation's rotas, their calendars re-read when they change (:meth:`run`)."""

    def __init__(self, deployment: Deployment, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._rotas: dict[str, dict[str, Rota]] = {}
        self.sources: list[calendars.Source] = []
        self.reconfigure(deployment)

    def reconfigure(self, deployment: Deployment) -> None:
        """The rotas of ``deployment`` (at the start, and at a reload): a calendar read
        before from the same file or URL is kept, the others are read at the next look."""
        before = {(s.organisation, s.rota, s.where): s for s in self.sources}
        rotas = {org.id: dict(org.rotas) for org in deployment.organisations.values()}
        sources = []
        now = self.clock()
        for org in deployment.organisations.values():
            for name, spec in org.duty.calendars.items():
                source = calendars.Source(
                    org.id,
                    name,
                    org.duty.people,
                    org.rotas[name].timezone,
                    file=Path(spec.file) if spec.file is not None else None,
                    url=spec.url,
                    every=spec.refresh,
                )
                kept = before.get((org.id, name, source.where))
                loaded = org.rotas[name].calendar
                if isinstance(loaded, calendars.Calendar):  # (files: read by the config)
                    source.loaded(loaded, now)
                elif kept is not None and kept.calendar is not None:
                    source = kept
                    rotas[org.id][name] = dataclasses.replace(
                        rotas[org.id][name], calendar=kept.calendar
                    )
                sources.append(source)
        self._rotas, self.sources = rotas, sources
        self._board: tuple[float, list[Gap]] | None = None

    def rotas(self, organisation: str) -> dict[str, Rota]:
        """An organisation's rotas as they are now (its default first)."""
        try:
            return self._rotas[organisation]
        except KeyError:
            raise UnknownRota(f"no organisation {organisation!r}") from None

    def rota(self, organisation: str, name: str | None = None) -> Rota | None:
        """A rota of ``organisation`` (None: its first; None back when it has none)."""
        rotas = self.rotas(organisation)
        if name is None:
            return next(iter(rotas.values()), None)
        if name not in rotas:
            raise UnknownRota(f"{organisation} has no rota {name!r} (it has: {', '.join(rotas)})")
        return rotas[name]

    def on_duty(
        self, organisation: str, rota: str | None, at: datetime, role: DutyRole
    ) -> list[Person]:
        """Who is on duty as ``role`` at ``at`` in ``organisation``'s rota ``rota`` (None:
        its first), the first to ring first; empty for nobody (or an organisation without
        a rota). Raises UnknownRota for an organisation or a rota the config does not have."""
        found = self.rota(organisation, rota)
        if found is None:
            return []
        try:
            return found.on_duty(at, role)
        except calendars.CalendarError as exc:
            return _without_calendar(organisation, found, exc).on_duty(at, role)

    def gaps(self, start: datetime, end: datetime) -> list[Gap]:
        """Every stretch of ``[start, end)`` with nobody on duty, of every organisation's
        rotas and both roles, earliest first."""
        found = []
        for org, rotas in self._rotas.items():
            for name, rota in rotas.items():
                for role in DutyRole:
                    try:
                        stretches = rota.gaps(start, end, role)
                    except calendars.CalendarError as exc:
                        stretches = _without_calendar(org, rota, exc).gaps(start, end, role)
                    found += [Gap(org, name, role, a, b, rota.timezone) for a, b in stretches]
        return sorted(found, key=lambda g: (g.start, g.organisation, g.rota, g.role.value))

    def upcoming(self) -> tuple[datetime, list[Gap]]:
        """Now, and the gaps of the next 14 days (worked out again every 30 s at most)."""
        now = self.clock()
        stamp = now.timestamp()
        if self._board is None or not 0 <= stamp - self._board[0] < FRESH:
            self._board = (stamp, self.gaps(now, now + HORIZON))
        return now, [g for g in self._board[1] if g.end > now]

    def warnings(self, start: datetime, end: datetime) -> list[str]:
        """What `hotline check` says after the gaps: calendars that cannot be read, and their
        events between ``start`` and ``end`` that name none of the duty people."""
        found = []
        for source in self.sources:
            if source.error is not None:
                kept = "its last good copy is used" if source.calendar else "no shifts from it"
                found.append(f"{source.label}: {source.error} ({kept})")
            if source.calendar is not None:
                found += [
                    f"{source.label}: event {u.summary!r} at {u.start:%Y-%m-%d %H:%M} UTC "
                    "names none of the duty people (an ATTENDEE's e-mail, or the SUMMARY a "
                    "person's id or name): left out"
                    for u in source.calendar.unmatched(start, end)
                ]
        return found

    async def refresh(self, client: httpx.AsyncClient | None, timeout: float = 20.0) -> int:
        """Look at every calendar once (URLs when due, without a ``client`` never; files when
        changed); the number of those that changed."""
        now = self.clock()
        changed = 0
        for source in self.sources:
            if await source.refresh(client, now, timeout) and source.calendar is not None:
                rotas = self._rotas[source.organisation]
                rotas[source.rota] = dataclasses.replace(
                    rotas[source.rota], calendar=source.calendar
                )
                changed += 1
        if changed:
            self._board = None
        return changed

    async def run(self) -> None:
        """Forever: keep the calendars up to date (a broken or unreachable one keeps the last
        good copy, and says so in the log and /health)."""
        async with httpx.AsyncClient(follow_redirects=True, max_redirects=5) as client:
            while True:
                try:
                    if self.sources:  # (a reload may bring some)
                        await self.refresh(client)
                except Exception:  # never the end of the task: the next look tries again
                    log.exception("reading the duty calendars")
                await asyncio.sleep(LOOK_EVERY)

    def health(self, organisation: str | None = None) -> dict[str, Any]:
        """For /health: each calendar (of every organisation, or of ``organisation``), and
        whether all of them were read fine last time."""
        states = [
            {
                "organisation": s.organisation,
                "rota": s.rota,
                "source": s.where,
                "ok": s.error is None and s.calendar is not None,
                "error": s.error or (None if s.calendar is not None else "not read yet"),
                "read_at": s.read_at.isoformat() if s.read_at else None,
                "changed_at": s.changed_at.isoformat() if s.changed_at else None,
            }
            for s in self.sources
            if organisation in (None, s.organisation)
        ]
        return {"ok": all(s["ok"] for s in states), "calendars": states}


def _without_calendar(organisation: str, rota: Rota, exc: Exception) -> Rota:
    """A rota whose calendar failed to expand now (it parsed, but one of its rules fails on
    these days): answered from its pattern and exceptions rather than not at all."""
    log.error(
        "%s rota %s: its calendar fails (%s): answering from the rota's pattern alone",
        organisation,
        rota.name,
        exc,
    )
    return dataclasses.replace(rota, calendar=None)


class DutyGauges(Collector):
    """The rotas at each scrape: people on duty now, the gaps of the next 14 days, and
    whether each calendar was read fine last time."""

    def __init__(self, duty: Duty) -> None:
        self.duty = duty

    def collect(self) -> Iterator[Metric]:
        labels = ["organisation", "rota", "role"]
        people = GaugeMetricFamily(
            "hotline_duty_people", "People on duty now, by rota and role", labels=labels
        )
        gap = GaugeMetricFamily(
            "hotline_duty_gap_seconds",
            "Seconds with nobody on duty in the next 14 days, by rota and role",
            labels=labels,
        )
        soon = GaugeMetricFamily(
            "hotline_duty_next_gap_seconds",
            "Seconds until the next gap in the rota begins (0: nobody on duty now); only for "
            "a rota and role with a gap in the next 14 days",
            labels=labels,
        )
        now, gaps = self.duty.upcoming()
        for org, rotas in self.duty._rotas.items():
            for name in rotas:
                for role in DutyRole:
                    mine = [
                        g for g in gaps if (g.organisation, g.rota, g.role) == (org, name, role)
                    ]
                    on_duty = self.duty.on_duty(org, name, now, role)
                    people.add_metric([org, name, role.value], len(on_duty))
                    gap.add_metric(
                        [org, name, role.value],
                        sum((g.end - max(g.start, now)).total_seconds() for g in mine),
                    )
                    if mine:
                        ahead = (mine[0].start - now).total_seconds()
                        soon.add_metric([org, name, role.value], max(0.0, ahead))
        yield people
        yield gap
        yield soon
        up = GaugeMetricFamily(
            "hotline_duty_calendar_up",
            "1: the rota's calendar was read fine last time; 0: it could not be (the last good "
            "copy is used)",
            labels=["organisation", "rota"],
        )
        for source in self.duty.sources:
            ok = source.error is None and source.calendar is not None
            up.add_metric([source.organisation, source.rota], float(ok))
        yield up


def watch(duty: Duty) -> DutyGauges:
    """Register the duty gauges of this service (replacing an earlier service's)."""
    for collector in list(REGISTRY._collector_to_names):
        if isinstance(collector, DutyGauges):
            REGISTRY.unregister(collector)
    gauges = DutyGauges(duty)
    REGISTRY.register(gauges)
    return gauges
