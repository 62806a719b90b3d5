"""The hotline's lines (consultation, detention notification, ...) and the decision of which
line takes a caller now, given the hours of the offices that staff each line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from routing.schedule import Exception_, Office


@dataclass(frozen=True)
class AfterHours:
    """What a caller hears and where they go when every office of a line is closed.

    ``prompt`` (the line's hours, say) is said first; then the caller goes to ``line`` if set;
    else, with ``callback``, the caller may ask to be called back; else the call ends.
    """

    prompt: str | None = None
    line: str | None = None
    callback: bool = False

    def __post_init__(self) -> None:
        if self.line is not None and self.callback:
            raise ValueError("after hours a caller goes to another line or is offered a callback")


@dataclass(frozen=True)
class Overflow:
    """After ``after`` seconds of waiting, operators of ``offices`` may take the call too."""

    after: float
    offices: tuple[str, ...]


@dataclass(frozen=True)
class Line:
    """A line of the hotline and the offices that staff it."""

    name: str
    offices: tuple[str, ...]
    priority: int = 0
    titles: Mapping[str, str] = field(default_factory=dict)
    after_hours: AfterHours = AfterHours()
    overflow: Overflow | None = None
    #: A caller who hangs up while waiting is called back (the detention line).
    callback_abandoned: bool = False
    #: Seconds without an operator after which the caller leaves their details as a
    #: recorded message and a callback number (None: they wait on).
    take_message_after: float | None = None
    #: Operators' conversations on this line are recorded (the caller is told by
    #: ``recording_prompt`` while waiting).
    recorded: bool = False
    recording_prompt: str | None = None
    #: Its offices keep their weekly hours on public holidays (the office's own closed days
    #: still close it).
    open_on_holidays: bool = False
    #: What its calls are about, for the operator's wrap-up (labour, housing, ...).
    topics: tuple[str, ...] = ()
    #: Exceptional openings and closures of the line itself, in its first office's time zone
    #: ("detention line open on 1 January"), over its offices' hours (the last one that
    #: covers a moment decides).
    exceptions: tuple[Exception_, ...] = ()

    def __post_init__(self) -> None:
        if not self.offices:
            raise ValueError("a line needs at least one office")

    @property
    def urgent(self) -> bool:
        """A line that takes messages (the detention line): nothing said on it may wait."""
        return self.take_message_after is not None


@dataclass(frozen=True)
class Decision:
    """Where a caller who asked for ``asked`` goes now.

    ``line`` takes the call (``None``: nobody can, the call ends after ``prompts``, unless
    ``callback`` offers to call the caller back); ``closed`` lists the lines found closed on the
    way, ``prompts`` what to say meanwhile.
    """

    asked: str
    line: str | None
    closed: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()
    callback: bool = False


def is_open(line: Line, offices: Mapping[str, Office], at: datetime) -> bool:
    """Whether the line is open at ``at``: as an exception of its own says, else when one of
    its offices is."""
    if line.exceptions:
        zone = ZoneInfo(offices[line.offices[0]].schedule.timezone)
        wall = at.astimezone(zone).replace(tzinfo=None)
        for exception in reversed(line.exceptions):
            if exception.start <= wall < exception.end:
                return exception.open
    return any(offices[o].schedule.is_open(at, line.open_on_holidays) for o in line.offices)


#: How far ahead a planned callback's time is looked for, and in what steps.
LOOK_AHEAD, STEP = timedelta(days=8), timedelta(minutes=15)


def next_open(line: Line, offices: Mapping[str, Office], after: datetime) -> datetime | None:
    """The first moment from ``after`` on (to the quarter hour) when the line is open (None:
    not within a week and a day)."""
    at = after
    while at < after + LOOK_AHEAD:
        if is_open(line, offices, at):
            return at
        at = (at + STEP).replace(minute=(at + STEP).minute // 15 * 15, second=0, microsecond=0)
    return None


def decide(
    lines: Mapping[str, Line], offices: Mapping[str, Office], asked: str, at: datetime
) -> Decision:
    """Follow ``asked``'s after-hours redirections until an open line (or none) takes the call."""
    closed: list[str] = []
    prompts: list[str] = []
    name: str | None = asked
    while name is not None:
        line = lines[name]
        if is_open(line, offices, at):
            return Decision(asked, name, tuple(closed), tuple(prompts))
        closed.append(name)
        if line.after_hours.prompt:
            prompts.append(line.after_hours.prompt)
        name = line.after_hours.line
        if name in closed:  # every line of a redirection cycle is closed
            name = None
    callback = lines[closed[-1]].after_hours.callback
    return Decision(asked, None, tuple(closed), tuple(prompts), callback)
