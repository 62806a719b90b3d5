"""The ``offices``, ``operators`` and ``supervisors`` sections of config/hotline.yaml: where
calls are answered and when (hours, closed days, public holidays), and who answers them."""

from __future__ import annotations

from collections.abc import Container
from datetime import date
from typing import Annotated

import holidays
from pydantic import BeforeValidator, Field, model_validator

from hotline.config.fields import KeypadCode, Language, Name, Section
from routing.schedule import Exception_, parse_exception

#: A date or a date and a time as YAML reads it (``2026-12-24`` is a date to YAML): as written.
When = Annotated[str, BeforeValidator(lambda v: str(v)[:16] if isinstance(v, date) else v)]


class ExceptionModel(Section):
    """An exceptional closure (``closed``) or opening (``open``) from a date, or a date and a
    time, to ``until`` (none: to the end of that day), in the office's time zone."""

    closed: When | None = None
    open: When | None = None
    until: When | None = None

    @model_validator(mode="after")
    def _one(self) -> ExceptionModel:
        if (self.closed is None) == (self.open is None):
            raise ValueError("say either closed: or open: (from when)")
        self.exception()
        return self

    def exception(self) -> Exception_:
        start = self.closed if self.closed is not None else self.open
        return parse_exception(str(start), self.until, open_=self.open is not None)


class OfficeModel(Section):
    timezone: str
    hours: list[str] = Field(min_length=1)
    #: The office's own closed days.
    holidays: list[date] = []
    #: Exceptional closures and openings ("closed from 15:00 on 24 December").
    exceptions: list[ExceptionModel] = []
    #: Where it is (ISO 3166 code, and a subdivision where holidays differ by region): its
    #: public holidays, as the `holidays` package states them, close it unless it is open
    #: around the clock or a line is open on holidays.
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    subdivision: str | None = Field(None, min_length=1, max_length=8)
    #: What a supervisor keys after *72 on their phone to take the office to shelter (an
    #: air-raid alert) and, keyed again, to end it; unique within the organisation.
    code: KeypadCode | None = None

    @model_validator(mode="after")
    def _known_place(self) -> OfficeModel:
        if self.subdivision is not None and self.country is None:
            raise ValueError("a subdivision needs its country")
        self.public_holidays()
        return self

    def public_holidays(self) -> Container[date]:
        """The country's public holidays (a calendar that fills in each year as it is asked)."""
        if self.country is None:
            return frozenset()
        known = holidays.list_supported_countries()
        if self.country not in known:
            raise ValueError(f"no public holidays are known for country {self.country!r}")
        if self.subdivision is not None and self.subdivision not in known[self.country]:
            regions = ", ".join(known[self.country]) or "none"
            raise ValueError(
                f"{self.country} has no subdivision {self.subdivision!r} (it has: {regions})"
            )
        return holidays.country_holidays(self.country, subdiv=self.subdivision)


class OperatorModel(Section):
    name: str = Field(min_length=1, max_length=80)
    office: Name
    lines: list[Name] = Field(min_length=1)
    languages: list[Language] = Field(min_length=1)
    #: What an operator keys after ## (blind) or *2 (attended) to transfer a caller here;
    #: unique within the organisation.
    code: KeypadCode | None = None


class SupervisorModel(Section):
    name: str = Field(min_length=1, max_length=80)
