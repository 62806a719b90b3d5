"""What goes into the queue's step function (signals) and what comes out (effects), as data.

Signals are what happened: a caller queued, a ring answered or ended, a hangup, a timer that
fired, an operator's event, a device's state, the result of an earlier effect (which names the
offer it was for, so a late result of an offer gone since changes nothing). Effects are what
to do: ring, call back, take a message, time, store, say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from agents.state import Event, State
from routing.events import Ending, Fact
from routing.queue import Shelter


# -- signals -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallerQueued:
    """A caller joins a line's queue (or joins again after a restart, keeping ``entered``)."""

    call: str
    channel: str
    line: str
    language: str
    caller: str = ""
    entered: datetime | None = None


@dataclass(frozen=True)
class Adopted:
    """Callers found in Asterisk by an instance taking over: those waiting queued together,
    in the order they first came (``entered``), then offered, the highest priority first;
    those talking to an operator (``talking``: with whom) go on, their operator on the call;
    those whose operator's phone rings (``ringing``) are offered to them: the end of that
    ring says what follows, as for any ring."""

    callers: tuple[CallerQueued, ...]
    talking: tuple[tuple[CallerQueued, str], ...] = ()
    ringing: tuple[tuple[CallerQueued, str], ...] = ()


@dataclass(frozen=True)
class LaterCallback:
    """A caller who is not on any line (after hours) is to be called back."""

    call: str
    line: str
    language: str
    number: str
    reason: str
    #: The calling number (its requests are limited: trunk.callbacks.per_caller_per_hour).
    caller: str = ""
    #: Not before then (an operator planned it for a time, at a call's wrap-up).
    at: datetime | None = None
    #: The operator who planned it.
    by: str | None = None


@dataclass(frozen=True)
class CallbackAsked:
    """A waiting caller leaves the line but keeps their place: call them back."""

    call: str
    number: str
    reason: str = "asked"
    notification: str | None = None
    recording: str | None = None
    #: Not before then (a time the caller chose: a planned callback).
    at: datetime | None = None


@dataclass(frozen=True)
class CallBackNow:
    """An operator calls a detention notification's number back from their desk, now: their
    phone rings, then the number is dialled (``call``: a new call's id; a callback of the
    notification already waiting is taken instead). Once: not queued for anyone else, not
    tried again; the message is not played again (they have it on their desk)."""

    call: str
    operator: str
    notification: str
    line: str
    language: str
    number: str


@dataclass(frozen=True)
class Held:
    """The caller is in a dialogue (a callback number, a message): not offered meanwhile."""

    call: str
    held: bool


@dataclass(frozen=True)
class HungUp:
    """The caller's channel is gone; ``by``: the SIP endpoint whose hangup ended it, where
    Asterisk says (the operator's, ending the conversation; else the caller, or Asterisk)."""

    call: str
    by: str = ""


@dataclass(frozen=True)
class RingAnswered:
    """The operator picked up (the dialplan's pre-bridge handler, on ``peer``: the uniqueid
    of the operator's channel)."""

    call: str
    operator: str
    peer: str = ""


@dataclass(frozen=True)
class RingEnded:
    """The dial of the operator returned, the caller still on the line."""

    call: str
    operator: str
    status: str


@dataclass(frozen=True)
class RingFailed:
    """Asterisk could not take the caller to the operator (the link is down)."""

    call: str
    offer: int


@dataclass(frozen=True)
class RingUncertain:
    """The Redirect got no answer: Asterisk may or may not have carried it out."""

    call: str
    offer: int


@dataclass(frozen=True)
class RedirectLost:
    """The caller is seen still waiting: an uncertain Redirect was not carried out."""

    call: str


@dataclass(frozen=True)
class CallbackPickedUp:
    """The operator answered a callback's ring: the caller is dialled now."""

    call: str
    operator: str


@dataclass(frozen=True)
class CallbackReached:
    """The caller called back picked up."""

    call: str


@dataclass(frozen=True)
class CallbackEnded:
    """The operator's leg of a callback ended."""

    call: str
    status: str


@dataclass(frozen=True)
class CallbackFailed:
    """The operator's phone was rung for a callback and not picked up (``no_answer``), or
    could not be rung at all."""

    call: str
    offer: int
    no_answer: bool


@dataclass(frozen=True)
class MessageFailed:
    """The caller could not be taken to leave a message (``gone``: they hung up)."""

    call: str
    gone: bool


@dataclass(frozen=True)
class TimerFired:
    key: str


@dataclass(frozen=True)
class OperatorChanged:
    """An operator's own event: log in, log out, pause, resume."""

    operator: str
    event: Event


@dataclass(frozen=True)
class DeviceChanged:
    """The operator's phone: reachable or not, busy with a call or not."""

    operator: str
    reachable: bool
    in_use: bool = False


@dataclass(frozen=True)
class NotificationHandled:
    ref: str
    call: str
    by: str
    outcome: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class CallerErased:
    """The caller's data was erased on request: their callback, if one is pending, is not
    made (being made right now: its end decides)."""

    call: str


@dataclass(frozen=True)
class LetGo:
    """The caller leaves for the dialplan's fallback queue (handed over, or our fault)."""

    call: str
    outcome: Ending
    error: str | None = None


@dataclass(frozen=True)
class Guarded:
    """The guard moved the caller to the fallback queue while the service hung."""

    call: str


@dataclass(frozen=True)
class Target:
    """Where a caller is transferred: a line's queue, an operator, or a legal aid centre
    (``kind``), by name; a centre's phone number with it."""

    kind: str
    name: str
    number: str = ""


@dataclass(frozen=True)
class TransferAsked:
    """The operator talking to the caller (or a supervisor, ``by``) sends them elsewhere,
    blind: the operator leaves the call as the caller is taken there."""

    call: str
    target: Target
    by: str
    #: The operator's phone already left the call (a blind transfer made on the phone): if
    #: the transfer cannot be made, the caller goes back to the head of their queue.
    left: bool = False


@dataclass(frozen=True)
class ToCentre:
    """The caller chose a legal aid centre in the menus: it is dialled for them."""

    call: str
    channel: str
    centre: str
    number: str


@dataclass(frozen=True)
class TransferReady:
    """The transferred caller heard that they are being connected: they may be offered now."""

    call: str


@dataclass(frozen=True)
class TransferJoined:
    """An attended transfer completed on the phones: the caller now talks to ``operator``,
    whom their operator called and spoke to first."""

    call: str
    operator: str
    by: str


@dataclass(frozen=True)
class CentreAnswered:
    """The legal aid centre a caller was transferred to picked up."""

    call: str


@dataclass(frozen=True)
class CentreEnded:
    """The dial of the centre returned, the caller still on the line."""

    call: str
    status: str


@dataclass(frozen=True)
class Stopping:
    """The service is stopping: nobody is rung any more."""


@dataclass(frozen=True)
class Reconfigured:
    """The deployment was reloaded: the step's rules are the new ones (see
    :func:`routing.reconfigure.retained`); operators added are logged out, operators taken
    out who were free leave the queue, and the callers waiting are offered again under the
    new lines, hours and operators (nobody loses their place)."""


@dataclass(frozen=True)
class Pending:
    """A callback as kept on disk."""

    call: str
    line: str
    language: str
    priority: int
    entered: datetime
    number: str
    reason: str = "asked"
    attempts: int = 0
    notification: str | None = None
    recording: str | None = None
    #: When the next try may be made (None: as soon as an operator is free).
    next_try: datetime | None = None
    #: The operator rung for an attempt under way (None: none is).
    dialling: str | None = None
    #: Made from an operator's desk: one attempt only.
    once: bool = False
    #: The operator who planned it at a call's wrap-up.
    by: str | None = None


@dataclass(frozen=True)
class Restore:
    """At start: who was logged in or paused, the callbacks still to make, and the offices
    in shelter."""

    presence: Mapping[str, tuple[State, str | None]]
    callbacks: tuple[Pending, ...]
    shelters: tuple[Shelter, ...] = ()


@dataclass(frozen=True)
class ShelterAsked:
    """``office`` goes to shelter (an air-raid alert), asked by ``by``, until ``until`` (None:
    until it is ended)."""

    office: str
    by: str
    until: datetime | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class ShelterOver:
    """``office``'s shelter ends (``by``: who ended it, or ``schedule`` at its set time)."""

    office: str
    by: str


@dataclass(frozen=True)
class Reconciled:
    """Asterisk's channels after (re)connecting: uniqueid -> dialplan context."""

    channels: Mapping[str, str]


@dataclass(frozen=True)
class Dialled:
    """An outbound call made outside the queue (an escalation's call to the person on duty)
    to ``number`` for ``organisation``: it counts in the organisation's hourly cap."""

    number: str
    organisation: str


Signal = (
    CallerQueued
    | Adopted
    | LaterCallback
    | CallbackAsked
    | CallBackNow
    | Held
    | HungUp
    | RingAnswered
    | RingEnded
    | RingFailed
    | RingUncertain
    | RedirectLost
    | CallbackPickedUp
    | CallbackReached
    | CallbackEnded
    | CallbackFailed
    | MessageFailed
    | TimerFired
    | OperatorChanged
    | DeviceChanged
    | NotificationHandled
    | CallerErased
    | LetGo
    | Guarded
    | TransferAsked
    | ToCentre
    | TransferReady
    | TransferJoined
    | CentreAnswered
    | CentreEnded
    | Stopping
    | Reconfigured
    | Restore
    | Reconciled
    | Dialled
    | ShelterAsked
    | ShelterOver
)


# -- effects -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ring:
    """Take the waiting caller on ``channel`` to ring ``operator`` (offer ``offer``) for
    ``ring_timeout`` seconds (the call's line's organisation's); ``transferred``: telling
    them first that they are being connected."""

    call: str
    channel: str
    operator: str
    offer: int
    ring_timeout: float
    transferred: bool = False


@dataclass(frozen=True)
class Move:
    """Take the transferred caller on ``channel`` from their operator: they hear that they
    are being connected, then wait in their new line's queue (``number`` empty) or the
    centre at ``number`` is dialled for them."""

    call: str
    channel: str
    number: str = ""


@dataclass(frozen=True)
class CallOperator:
    """Ring ``operator`` for a callback (offer ``offer``) for ``ring_timeout`` seconds (the
    callback's line's organisation's); once they answer, the caller is dialled."""

    call: str
    operator: str
    number: str
    attempt: int
    offer: int
    ring_timeout: float


@dataclass(frozen=True)
class DialCaller:
    """The operator is on: dial the caller back (their message played to the operator)."""

    call: str
    number: str
    recording: str | None


@dataclass(frozen=True)
class TakeMessage:
    call: str
    channel: str


@dataclass(frozen=True)
class StartTimer:
    """Fire TimerFired(key) at ``at`` (replacing a timer of the same key)."""

    key: str
    at: datetime


@dataclass(frozen=True)
class CancelTimer:
    key: str


@dataclass(frozen=True)
class Keep:
    """Store a callback's state on disk. ``must``: before anything else of the step happens,
    or the step does not happen at all (the caller is told only what was stored)."""

    pending: Pending
    must: bool


@dataclass(frozen=True)
class Forget:
    """The callback is over: remove it from disk."""

    call: str


@dataclass(frozen=True)
class Emit:
    """Publish a domain event on the call (``call`` empty: about an operator)."""

    call: str
    fact: Fact


@dataclass(frozen=True)
class Warn:
    """Something that should not happen did (a late report): say so in the log."""

    message: str


Effect = (
    Ring
    | Move
    | CallOperator
    | DialCaller
    | TakeMessage
    | StartTimer
    | CancelTimer
    | Keep
    | Forget
    | Emit
    | Warn
)
