"""An organisation's ``duty`` section (config/hotline.yaml): the duty people and the rotas
that say who of them is on duty when; its schema, its checks and the rotas it builds.

```yaml
duty:
  people:
    kovalenko: {name: Olena Kovalenko, phone: "0671234501", email: o.k@example.org, language: uk}
  rotas:                    # the first is the organisation's default
    national:
      lawyers:     [{who: [kovalenko, bondar], when: ["mon-fri 18:00-09:00", "sat-sun always"]}]
      supervisors: [{who: [melnyk], when: [always]}]
      exceptions:  [{from: "2026-12-24 15:00", to: "2026-12-26 09:00", lawyers: [bondar]}]
      calendar: {file: config/duty-ua.ics}   # or {url: https://...}; beside the pattern, or not
```

Every problem is a ``(path, message)`` pair as hotline/config/loading.py reports them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.rota import (
    DutyRole,
    Override,
    Person,
    Rota,
    Turn,
    parse_moment,
    parse_when,
    zone,
)
from hotline.config.fields import Language, Name, Number, unknown
from hotline.reports import calendars
from routing import numbers
from routing.outbound import CallbackPolicy

#: An address with one @, a dotted domain and no spaces: what a mail server would take.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PersonModel(_Model):
    """Someone who may be on duty: rung on ``phone`` (through the trunk, so a number
    callbacks may dial), written to at ``email``, spoken to in ``language``."""

    name: str = Field(min_length=1, max_length=80)
    phone: Number | None = None
    email: str | None = Field(None, max_length=254)
    language: Language

    @model_validator(mode="after")
    def _reachable(self) -> PersonModel:
        if self.phone is None and self.email is None:
            raise ValueError("has neither a phone nor an e-mail: nobody could reach them")
        if self.email is not None and not _EMAIL.match(self.email):
            raise ValueError(f"{self.email!r} is not an e-mail address")
        return self


class TurnModel(_Model):
    """An entry of the weekly pattern: ``who`` (the first rung first) and ``when`` (hours as
    offices have them, overnight when the end comes first, or whole days: "sat-sun always"),
    in the rota's time zone."""

    who: list[Name] = Field(min_length=1)
    when: list[str] = Field(min_length=1)


Moment = datetime | date | str


class ExceptionModel(_Model):
    """From ``from`` to ``to`` (dates or dates and times, local; a date range includes its
    last day), these people replace who is on duty in each role named (``[]``: nobody)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: Moment = Field(alias="from")
    end: Moment = Field(alias="to")
    lawyers: list[Name] | None = None
    supervisors: list[Name] | None = None

    @model_validator(mode="after")
    def _replaces_someone(self) -> ExceptionModel:
        if self.lawyers is None and self.supervisors is None:
            raise ValueError("says nothing: name the lawyers or supervisors on duty instead")
        return self


class CalendarModel(_Model):
    """An iCalendar the legal aid centre keeps: a ``file`` (relative to the working folder;
    re-read when it changes) or a ``url`` (fetched every ``refresh`` seconds, with
    conditional requests)."""

    file: str | None = Field(None, min_length=1)
    url: Annotated[str, Field(pattern=r"^https?://[^\s/]+\S*$", max_length=2000)] | None = None
    refresh: int = Field(300, ge=10, le=86_400)

    @model_validator(mode="after")
    def _one_source(self) -> CalendarModel:
        if (self.file is None) == (self.url is None):
            raise ValueError("needs exactly one of: file, url")
        return self


class RotaModel(_Model):
    """Who is on duty when: a weekly pattern with exceptions, a calendar, or both."""

    #: Its time zone (default: its organisation's, that of its first office).
    timezone: str | None = None
    lawyers: list[TurnModel] = []
    supervisors: list[TurnModel] = []
    exceptions: list[ExceptionModel] = []
    calendar: CalendarModel | None = None

    @model_validator(mode="after")
    def _someone(self) -> RotaModel:
        if not (self.lawyers or self.supervisors or self.calendar):
            raise ValueError("names nobody: give lawyers or supervisors, or a calendar")
        return self


class DutyModel(_Model):
    """An organisation's duty people and its rotas (the first: its default)."""

    people: dict[Name, PersonModel] = {}
    rotas: dict[Name, RotaModel] = {}


@dataclass(frozen=True)
class Duty:
    """What a duty section builds: the people, the rotas (in the config's order), and where
    each rota's calendar is kept."""

    people: Mapping[str, Person] = field(default_factory=dict)
    rotas: Mapping[str, Rota] = field(default_factory=dict)
    calendars: Mapping[str, CalendarModel] = field(default_factory=dict)


def build(
    base: str,
    duty: DutyModel,
    languages: Sequence[str],
    home: str,
    callbacks: CallbackPolicy | None,
    region: str | None = None,
) -> tuple[list[tuple[str, str]], Duty]:
    """Check an organisation's duty section (its paths start with ``base``) and build it;
    ``home`` is its time zone, ``callbacks`` what the trunk may dial (None: nothing),
    ``region`` the country its national numbers are read in (people's phones are kept in
    E.164). Calendar files are read here (a missing or broken one is a problem); URLs are
    not."""
    problems: list[tuple[str, str]] = []
    people: dict[str, Person] = {}
    for pid, p in duty.people.items():
        path = f"{base}.people.{pid}"
        if p.language not in languages:
            problems.append(
                (f"{path}.language", f"language {p.language!r} is not one of the "
                 f"organisation's ({', '.join(languages)})")
            )  # fmt: skip
        phone = None if p.phone is None else numbers.normalise(p.phone, region)
        if p.phone is not None and not numbers.normalised(p.phone, region):
            problems.append((f"{path}.phone", numbers.unreadable(p.phone, region)))
        elif phone is not None:
            why = callbacks.refuses(phone) if callbacks else "the trunk allows no callbacks"
            if why is not None:
                problems.append((f"{path}.phone", f"cannot be called through the trunk: {why}"))
        people[pid] = Person(pid, p.name, phone, p.email, p.language)
    rotas: dict[str, Rota] = {}
    for name, r in duty.rotas.items():
        found, rota = _rota(f"{base}.rotas.{name}", name, r, people, home)
        problems += found
        if rota is not None:
            rotas[name] = rota
    sources = {name: r.calendar for name, r in duty.rotas.items() if r.calendar is not None}
    return problems, Duty(people, rotas, sources)


def _rota(
    path: str, name: str, r: RotaModel, people: Mapping[str, Person], home: str
) -> tuple[list[tuple[str, str]], Rota | None]:
    problems: list[tuple[str, str]] = []
    try:
        tz = zone(r.timezone or home)
    except ValueError as exc:
        return [(f"{path}.timezone", str(exc))], None

    def who(where: str, ids: list[str]) -> tuple[Person, ...]:
        for i, pid in enumerate(ids):
            if pid not in people:
                problems.append((f"{where}.{i}", unknown("person", pid, people)))
            elif pid in ids[:i]:
                problems.append((f"{where}.{i}", f"{pid!r} is named twice"))
        return tuple(dict.fromkeys(people[p] for p in ids if p in people))

    turns = []
    for role, entries in ((DutyRole.LAWYER, r.lawyers), (DutyRole.SUPERVISOR, r.supervisors)):
        for i, turn in enumerate(entries):
            where = f"{path}.{role.value}s.{i}"
            named = who(f"{where}.who", turn.who)
            try:
                turns.append(Turn(role, named, parse_when(turn.when)))
            except ValueError as exc:
                problems.append((f"{where}.when", str(exc)))
    overrides = []
    for i, e in enumerate(r.exceptions):
        where = f"{path}.exceptions.{i}"
        try:
            start, end = parse_moment(e.start, tz), parse_moment(e.end, tz, end=True)
        except ValueError as exc:
            problems.append((where, str(exc)))
            continue
        if end <= start:
            problems.append((f"{where}.to", "is not after 'from'"))
        replaced = [
            (role, who(f"{where}.{role.value}s", ids))
            for role, ids in ((DutyRole.LAWYER, e.lawyers), (DutyRole.SUPERVISOR, e.supervisors))
            if ids is not None
        ]
        overrides.append(Override(start, end, tuple(replaced)))
    calendar = None
    if r.calendar is not None and r.calendar.file is not None:
        try:
            calendar = calendars.read_file(Path(r.calendar.file), people, tz.key)
        except calendars.CalendarError as exc:
            problems.append((f"{path}.calendar.file", str(exc)))
    if problems:
        return problems, None
    return [], Rota(name, tz.key, tuple(turns), tuple(overrides), calendar)
