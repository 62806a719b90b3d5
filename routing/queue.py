"""The queue, as data: who waits, who rings or talks, the operators, the timers; and what a
caller or a supervisor can find out of it (a place, a wait, who is logged in).

It changes only through :func:`routing.steps.step` (signal in, effects out: see
:mod:`routing.signals`), which returns a new queue and never changes the one it is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TypeVar

from agents.operator import Operator
from agents.state import OperatorState, State
from routing.dispatch import Waiting, position
from routing.estimate import estimate_wait
from routing.lines import Line
from routing.outbound import CallbackPolicy, Dial, Request


@dataclass(frozen=True)
class Timings:
    """One organisation's queue timings (config ``queues:``, its own over the shared ones)."""

    #: Seconds an operator's phone rings before the call goes back to the head of its queue.
    ring_timeout: float = 15
    wrap_up: float = 10
    pause_after_misses: int = 2
    callback_attempts: int = 3
    callback_retry: float = 60
    default_handle_time: float = 300


@dataclass(frozen=True)
class Rules:
    """What the queue needs to know of the deployment; it never changes.

    Each organisation's timings are its own: a call's (ring timeout, callbacks, wait
    estimate) are its line's organisation's, an operator's (wrap-up, misses before a pause)
    their organisation's; what belongs to no organisation has the deployment's."""

    lines: Mapping[str, Line]
    operators: Mapping[str, Operator]
    #: The deployment's timings (the shared ``queues:``).
    timings: Timings = field(default_factory=Timings)
    #: Where callbacks may go (none without a carrier to call through).
    callbacks: CallbackPolicy = field(default_factory=lambda: CallbackPolicy((), 1, 1))
    #: Each line's organisation (whose hourly cap its callbacks count in; none: one for all).
    owners: Mapping[str, str] = field(default_factory=dict)
    #: Each operator's organisation.
    employers: Mapping[str, str] = field(default_factory=dict)
    #: Each organisation's own timings.
    own: Mapping[str, Timings] = field(default_factory=dict)
    #: Seconds before a ring that failed (Asterisk away) is tried again: the service's own,
    #: no organisation's.
    ring_retry: float = 1.0
    #: Seconds before a message offer that could not be made (Asterisk away) is made again.
    message_retry: float = 10.0
    #: Operators taken out of the config while they had a call (a reload): they keep it,
    #: are offered nothing more, and are logged out once it is over.
    leaving: frozenset[str] = frozenset()

    def of_line(self, line: str) -> Timings:
        """The timings of a call waiting on ``line``: its organisation's."""
        return self.own.get(self.owners.get(line, ""), self.timings)

    def of_operator(self, operator: str) -> Timings:
        """The timings of ``operator``'s work: their organisation's."""
        return self.own.get(self.employers.get(operator, ""), self.timings)

    def staffs(self, office: str) -> bool:
        """Whether ``office`` is one of the deployment's: a line's, or an operator's."""
        return any(office in line.offices for line in self.lines.values()) or any(
            op.office == office for op in self.operators.values()
        )


@dataclass(frozen=True)
class Shelter:
    """An office in shelter (an air-raid alert) since ``since``, asked by ``by``, until
    ``until`` (None: until someone ends it)."""

    office: str
    since: datetime
    by: str
    until: datetime | None = None


@dataclass(frozen=True)
class Callback:
    """A caller to call back: their number, and the calls made to it so far."""

    number: str
    attempts: int = 0
    #: The detention notification it answers: tried until an operator handles it.
    notification: str | None = None
    #: The caller's recorded message, played to the operator before the caller is dialled.
    recording: str | None = None
    #: Why: asked (key 1), abandoned, after-hours, notification, desk.
    reason: str = "asked"
    #: Made from an operator's desk: one attempt, by them (not queued, not tried again).
    once: bool = False
    #: The operator who planned it at a call's wrap-up (reason ``planned``).
    by: str | None = None


@dataclass(frozen=True)
class Offered:
    """A call out of the queue for an operator: ringing them, then talking to them."""

    operator: str
    waiting: Waiting
    #: Which offer (results of an effect name it: a late one is for an offer gone since).
    n: int
    answered: datetime | None = None
    #: A callback attempt under way when the service last stopped: its number.
    restored: int = 0
    #: The Redirect to the operator got no answer: whether it happened shows later.
    uncertain: bool = False
    #: The operator whose ring carries the call, when another joined it (an attended
    #: transfer): the end of that ring is the end of this offer.
    carried_by: str | None = None
    #: Offered because the caller was transferred to this operator.
    transferred: bool = False


@dataclass(frozen=True)
class Away:
    """A caller transferred out of the service (to a legal aid centre), until that call ends;
    ``waiting``: their place, should the centre not answer (None: they came from the menus)."""

    centre: str
    number: str
    waiting: Waiting | None
    answered: datetime | None = None


V = TypeVar("V")


def _frozen(mapping: Mapping[str, V] | None = None) -> Mapping[str, V]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Queue:
    """Everything the queue knows, at one moment."""

    operators: Mapping[str, OperatorState]
    #: Callers waiting for an operator (callbacks too), by call.
    waiting: Mapping[str, Waiting] = field(default_factory=_frozen)
    #: Calls offered to an operator: ringing, then talking.
    offers: Mapping[str, Offered] = field(default_factory=_frozen)
    #: The caller's channel while they are on the line.
    channels: Mapping[str, str] = field(default_factory=_frozen)
    #: The caller's number while their call goes on (for an abandoned caller's callback).
    callers: Mapping[str, str] = field(default_factory=_frozen)
    callbacks: Mapping[str, Callback] = field(default_factory=_frozen)
    #: Callers transferred to a legal aid centre, while that call lasts.
    away: Mapping[str, Away] = field(default_factory=_frozen)
    #: When each timer fires; keys ``overflow:``, ``message:``, ``retry:``, ``redial:`` and a
    #: call, or ``wrap:`` and an operator.
    timers: Mapping[str, datetime] = field(default_factory=_frozen)
    #: Outbound calls made in the last hour (callbacks, escalations), oldest first.
    dialled: tuple[Dial, ...] = ()
    #: Callbacks asked for in the last hour, oldest first.
    requests: tuple[Request, ...] = ()
    #: The latest conversations' lengths, for the wait estimates.
    handle_times: tuple[float, ...] = ()
    next_seq: int = 1
    next_offer: int = 1
    #: Set at a stop: nobody is rung any more.
    stopping: bool = False
    #: Offices in shelter, by office.
    shelters: Mapping[str, Shelter] = field(default_factory=_frozen)

    @classmethod
    def empty(cls, rules: Rules) -> Queue:
        return cls(_frozen({op: OperatorState(op) for op in rules.operators}))


# -- what a caller or an operator can find out -------------------------------------------------
def where(queue: Queue, rules: Rules, call: str) -> tuple[int, float]:
    """(position, estimated seconds left) of a waiting call."""
    place = position(list(queue.waiting.values()), call)
    return place, estimate(queue, rules, queue.waiting[call].line, place)


def estimate(queue: Queue, rules: Rules, line: str, place: int) -> float:
    """Seconds a caller at ``place`` in ``line``'s queue can expect to wait (inf: nobody is
    serving the line)."""
    serving = sum(
        1
        for op in queue.operators.values()
        if op.state not in (State.LOGGED_OUT, State.PAUSED)
        and op.id not in rules.leaving
        and rules.operators[op.id].serves(line)
    )
    handle = rules.of_line(line).default_handle_time
    rate = len(queue.waiting) / max(60.0, handle)
    return estimate_wait(place, serving, list(queue.handle_times), handle, rate)


def presence(queue: Queue) -> dict[str, tuple[State, str | None]]:
    """Who is logged in (available, or busy with a call) or paused, and why."""
    found: dict[str, tuple[State, str | None]] = {}
    for op in queue.operators.values():
        if op.state is State.PAUSED:
            found[op.id] = (State.PAUSED, op.pause_reason)
        elif op.state is not State.LOGGED_OUT:
            found[op.id] = (State.AVAILABLE, None)
    return found


@dataclass(frozen=True)
class LineNow:
    """One line's queue at a moment: what the wallboard, the API and the metrics show."""

    line: str
    #: Its waiting callers (callbacks too), first in line first.
    waiting: tuple[Waiting, ...]
    #: The longest of their waits so far, in seconds.
    longest: float
    #: The operators who serve the line, by state.
    operators: Mapping[State, tuple[str, ...]]
    #: Those of them who may be offered a call now (available, their phone reachable and not
    #: busy with another call); no caller they may serve is waiting while one is.
    free: tuple[str, ...]
    #: What a caller joining now can expect to wait, in seconds (inf: nobody serves it).
    estimate: float


def lines_now(queue: Queue, rules: Rules, now: datetime) -> dict[str, LineNow]:
    """Every line's queue now: one snapshot, for every reader."""
    found: dict[str, LineNow] = {}
    for line in rules.lines:
        here = tuple(sorted((w for w in queue.waiting.values() if w.line == line), key=_order))
        serving = [op for op in queue.operators.values() if rules.operators[op.id].serves(line)]
        found[line] = LineNow(
            line,
            here,
            max(((now - w.entered).total_seconds() for w in here), default=0.0),
            {s: tuple(sorted(op.id for op in serving if op.state is s)) for s in State},
            tuple(sorted(op.id for op in serving if op.free)),
            estimate(queue, rules, line, len(here) + 1),
        )
    return found


def _order(waiting: Waiting) -> tuple[int, int]:
    return -waiting.priority, waiting.seq
