"""An operator's working state, and every change to it as a pure transition.

``transition(operator, event, now)`` returns the operator's next state or raises
:class:`OperatorError` naming why the event does not apply; it never does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class State(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class OperatorError(Exception):
    """An event that does not apply to the operator's state (e.g. pausing while logged out)."""


@dataclass(frozen=True)
class OperatorState:
    """Where one operator stands now."""

    id: str
    state: State = State.LOGGED_OUT
    since: datetime | None = None
    #: The call ringing or in progress on their phone.
    call: str | None = None
    pause_reason: str | None = None
    #: Calls offered and not answered since the last answered one.
    misses: int = 0
    #: The phone is registered and reachable (AMI device state); unknown counts as not.
    reachable: bool = False
    #: The phone is busy with a call the service did not give them (a fallback queue's, say).
    in_use: bool = False
    #: When they last became free: the longest idle is offered a call first.
    idle_since: datetime | None = None
    #: The last call they talked on (their wrap-up's).
    last_call: str | None = None

    @property
    def free(self) -> bool:
        """May be offered a call now."""
        return self.state is State.AVAILABLE and self.reachable and not self.in_use


# -- events ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogIn:
    pass


@dataclass(frozen=True)
class LogOut:
    pass


@dataclass(frozen=True)
class Pause:
    #: One of the operator's organisation's pause reasons (no default: each organisation
    #: names its own, and the one who pauses them says which).
    reason: str


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Offer:
    """The dispatcher gave them a call: their phone rings."""

    call: str


@dataclass(frozen=True)
class Rung:
    """Found ringing for a call (an instance taking over reads it in Asterisk): so it is,
    whatever was known of them (their phone not yet seen reachable, say)."""

    call: str


@dataclass(frozen=True)
class Answered:
    call: str


@dataclass(frozen=True)
class Joined:
    """A colleague, having called them first, handed them their caller (an attended
    transfer): they talk to the caller now, whatever they were doing."""

    call: str


@dataclass(frozen=True)
class Missed:
    """They did not answer ``call`` in time (or their phone refused it)."""

    call: str
    #: Misses in a row after which they are paused.
    pause_after: int


@dataclass(frozen=True)
class Ended:
    """The call they talked on is over: wrap-up starts."""

    call: str


@dataclass(frozen=True)
class Withdrawn:
    """The offer of ``call`` was taken back through no fault of theirs (the caller left)."""

    call: str


@dataclass(frozen=True)
class WrapUpOver:
    pass


@dataclass(frozen=True)
class Reachability:
    """What the phone's device state says: reachable at all, and busy (in use, ringing,
    on hold) with a call of its own."""

    reachable: bool
    in_use: bool = False


Event = (
    LogIn
    | LogOut
    | Pause
    | Resume
    | Offer
    | Rung
    | Answered
    | Joined
    | Missed
    | Withdrawn
    | Ended
    | WrapUpOver
    | Reachability
)

#: The service's own reason: too many offers missed in a row.
MISSED_CALLS = "missed-calls"
#: The service's own reason: the operator's office is in shelter (an air-raid alert).
SHELTER = "shelter"


def _to(op: OperatorState, state: State, now: datetime, **changes: object) -> OperatorState:
    if state is State.AVAILABLE:
        changes.setdefault("idle_since", now)
    return replace(op, state=state, since=now, **changes)  # type: ignore[arg-type]


def transition(op: OperatorState, event: Event, now: datetime) -> OperatorState:
    """The operator's state after ``event`` at ``now``."""
    s = op.state
    match event:
        case Reachability(reachable, in_use):
            return replace(op, reachable=reachable, in_use=in_use and reachable)
        case LogIn():
            if s is State.LOGGED_OUT:
                return _to(op, State.AVAILABLE, now, misses=0, pause_reason=None)
            return op  # already in: logging in again changes nothing
        case LogOut():
            if s in (State.RINGING, State.ON_CALL):
                raise OperatorError(
                    f"{op.id} is {s.value.replace('_', ' ')}: finish the call first"
                )
            return _to(op, State.LOGGED_OUT, now, pause_reason=None, call=None)
        case Pause(reason):
            if not reason:
                raise OperatorError("a pause needs a reason")
            if s is State.LOGGED_OUT:
                raise OperatorError(f"{op.id} is logged out: log in first")
            if s in (State.RINGING, State.ON_CALL):
                raise OperatorError(f"{op.id} is {s.value.replace('_', ' ')}: pause after the call")
            return _to(op, State.PAUSED, now, pause_reason=reason)
        case Resume():
            if s is State.PAUSED:
                return _to(op, State.AVAILABLE, now, pause_reason=None, misses=0)
            if s is State.LOGGED_OUT:
                raise OperatorError(f"{op.id} is logged out: log in first")
            return op
        case Offer(call):
            if not op.free:
                phone = "phone in use" if op.in_use else "reachable"
                raise OperatorError(
                    f"{op.id} cannot take a call: {s.value}, "
                    f"{phone if op.reachable else 'phone unreachable'}"
                )
            return _to(op, State.RINGING, now, call=call)
        case Rung(call):
            return _to(op, State.RINGING, now, call=call, reachable=True)
        case Answered(call):
            if s is not State.RINGING or op.call != call:
                raise OperatorError(f"{op.id} was not ringing for {call}")
            return _to(op, State.ON_CALL, now, misses=0)
        case Joined(call):
            return _to(op, State.ON_CALL, now, call=call, misses=0)
        case Missed(call, pause_after):
            if s is not State.RINGING or op.call != call:
                return op  # a late report of an offer already settled
            misses = op.misses + 1
            if pause_after and misses >= pause_after:
                return _to(
                    op, State.PAUSED, now, call=None, misses=misses, pause_reason=MISSED_CALLS
                )
            return _to(op, State.AVAILABLE, now, call=None, misses=misses)
        case Withdrawn(call):
            if s is not State.RINGING or op.call != call:
                return op
            return _to(op, State.AVAILABLE, now, call=None, idle_since=op.idle_since)
        case Ended(call):
            if op.call != call or s not in (State.ON_CALL, State.RINGING):
                return op
            return _to(op, State.WRAP_UP, now, call=None, last_call=call)
        case WrapUpOver():
            if s is State.WRAP_UP:
                return _to(op, State.AVAILABLE, now)
            return op
    raise AssertionError(f"unhandled event {event!r}")
