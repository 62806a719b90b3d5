"""Who is on duty: the people a detention report is escalated to, by role."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DutyRole(StrEnum):
    """What a person on duty is rung as."""

    LAWYER = "lawyer"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class Person:
    """Someone who may be on duty: rung on ``phone`` (through the trunk), written to at
    ``email``, spoken to in ``language``."""

    id: str
    name: str
    phone: str | None
    email: str | None
    language: str
