"""The queue: callers, operators and timers as data, and one step function. Pure.

``step(queue, event, now, rules) -> (queue, effects)``. Every change goes through it: a caller
queued, a ring answered or not, a hangup, a timer fired, an operator's state, a device's. It
decides who rings whom (:func:`routing.dispatch.assign`, on every change, never on a timer)
and returns what to do as data (:mod:`routing.signals`): ring an operator for a caller, ring
one for a callback, take a message, start or cancel a timer, keep a promise on disk, emit an
event. It does no I/O and reads no clock; ``hotline/switchboard.py`` feeds it and carries the
effects out. The queue it is given is never changed: the next one is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from agents.operator import Operator
from agents.state import (
    Answered,
    Ended,
    Event,
    LogIn,
    Missed,
    Offer,
    OperatorState,
    Pause,
    Reachability,
    State,
    Withdrawn,
    WrapUpOver,
    transition,
)
from routing.dispatch import Candidate, Waiting, assign, position
from routing.estimate import estimate_wait
from routing.lines import Line
from routing.outbound import HOUR, CallbackPolicy, capped
from routing.signals import (
    CallbackAsked,
    CallbackEnded,
    CallbackFailed,
    CallbackPickedUp,
    CallbackReached,
    CallerQueued,
    CallOperator,
    CancelTimer,
    DeviceChanged,
    DialCaller,
    Effect,
    Emit,
    Forget,
    Guarded,
    Held,
    HungUp,
    Keep,
    LaterCallback,
    LetGo,
    MessageFailed,
    NotificationHandled,
    OperatorChanged,
    Pending,
    Reconciled,
    RedirectLost,
    Restore,
    Ring,
    RingAnswered,
    RingEnded,
    RingFailed,
    RingUncertain,
    Signal,
    StartTimer,
    Stopping,
    TakeMessage,
    TimerFired,
    Warn,
)

#: Handle times kept for the wait estimates.
HANDLE_TIMES = 50
#: Seconds before a ring that failed (Asterisk away) is tried again.
RING_RETRY = 1.0
#: Seconds before a message offer that could not be made is made again.
MESSAGE_RETRY = 10.0
#: The timers of a call: its overflow, its message offer, a ring tried again, a callback's
#: next try.
CALL_TIMERS = ("overflow", "message", "retry", "redial")


@dataclass(frozen=True)
class Timings:
    """The queues' timings (config ``queues:``)."""

    wrap_up: float = 10
    pause_after_misses: int = 2
    callback_attempts: int = 3
    callback_retry: float = 60
    default_handle_time: float = 300


@dataclass(frozen=True)
class Rules:
    """What the queue needs to know of the deployment; it never changes."""

    lines: Mapping[str, Line]
    operators: Mapping[str, Operator]
    timings: Timings = field(default_factory=Timings)
    #: Where callbacks may go (none without a carrier to call through).
    callbacks: CallbackPolicy = field(default_factory=lambda: CallbackPolicy((), 1, 1))


@dataclass(frozen=True)
class Callback:
    """A caller to call back: their number, and the calls made to it so far."""

    number: str
    attempts: int = 0
    #: The detention notification it answers: tried until an operator handles it.
    notification: str | None = None
    #: The caller's recorded message, played to the operator before the caller is dialled.
    recording: str | None = None
    #: Why: asked (key 1), abandoned, after-hours, notification.
    reason: str = "asked"


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


def _frozen(mapping: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
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
    #: When each timer fires; keys ``overflow:``, ``message:``, ``retry:``, ``redial:`` and a
    #: call, or ``wrap:`` and an operator.
    timers: Mapping[str, datetime] = field(default_factory=_frozen)
    #: Callbacks dialled in the last hour: (when, number), oldest first.
    dialled: tuple[tuple[datetime, str], ...] = ()
    #: The latest conversations' lengths, for the wait estimates.
    handle_times: tuple[float, ...] = ()
    next_seq: int = 1
    next_offer: int = 1
    #: Set at a stop: nobody is rung any more.
    stopping: bool = False

    @classmethod
    def empty(cls, rules: Rules) -> Queue:
        return cls(_frozen({op: OperatorState(op) for op in rules.operators}))


def step(queue: Queue, signal: Signal, now: datetime, rules: Rules) -> tuple[Queue, list[Effect]]:
    """The queue after ``signal`` at ``now``, and what to do about it. Raises
    :class:`agents.state.OperatorError` when an operator's event does not apply."""
    work = _Work(queue, now, rules)
    HANDLERS[type(signal)](work, signal)
    work.dispatch()
    return work.done()


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
        if op.state not in (State.LOGGED_OUT, State.PAUSED) and rules.operators[op.id].serves(line)
    )
    handle = rules.timings.default_handle_time
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


# -- one step's work ---------------------------------------------------------------------------
class _Work:
    """The queue being changed by one step: its mappings copied when first written."""

    def __init__(self, queue: Queue, now: datetime, rules: Rules) -> None:
        self.before = queue
        self.now = now
        self.rules = rules
        self.effects: list[Effect] = []
        self._copies: dict[str, dict[str, Any]] = {}
        self.dialled = queue.dialled
        self.handle_times = queue.handle_times
        self.next_seq = queue.next_seq
        self.next_offer = queue.next_offer
        self.stopping = queue.stopping

    # mappings: read the latest, write into a copy
    def get(self, name: str) -> Mapping[str, Any]:
        copy = self._copies.get(name)
        found: Mapping[str, Any] = copy if copy is not None else getattr(self.before, name)
        return found

    def mut(self, name: str) -> dict[str, Any]:
        if name not in self._copies:
            self._copies[name] = dict(getattr(self.before, name))
        return self._copies[name]

    def done(self) -> tuple[Queue, list[Effect]]:
        changes: dict[str, Any] = {name: _frozen(copy) for name, copy in self._copies.items()}
        queue = replace(
            self.before,
            **changes,
            dialled=self.dialled,
            handle_times=self.handle_times,
            next_seq=self.next_seq,
            next_offer=self.next_offer,
            stopping=self.stopping,
        )
        return queue, self.effects

    # shorthands
    def emit(self, call: str, kind: str, **data: Any) -> None:
        self.effects.append(Emit(call, kind, data))

    def later(self, key: str, at: datetime) -> None:
        self.mut("timers")[key] = at
        self.effects.append(StartTimer(key, at))

    def cancel(self, *keys: str) -> None:
        for key in keys:
            if key in self.get("timers"):
                del self.mut("timers")[key]
                self.effects.append(CancelTimer(key))

    def seconds_since(self, then: datetime) -> float:
        return round((self.now - then).total_seconds(), 3)

    def operator(self, operator: str, event: Event) -> OperatorState:
        """Apply an operator's event; say so when their state shows a change."""
        before = self.get("operators")[operator]
        after = transition(before, event, self.now)
        self.mut("operators")[operator] = after
        if before.state is State.WRAP_UP and after.state is not State.WRAP_UP:
            self.cancel(f"wrap:{operator}")
        shown = ("state", "reachable", "in_use", "pause_reason")
        if any(getattr(after, a) != getattr(before, a) for a in shown):
            self.emit(
                "",
                "operator.state",
                operator=operator,
                state=after.state.value,
                reachable=after.reachable,
                in_use=after.in_use,
                reason=after.pause_reason,
                misses=after.misses,
            )
        return after

    def keep(self, waiting: Waiting, callback: Callback, must: bool, **extra: Any) -> None:
        """Store a callback's state (``must``: before anything else happens, or not at all)."""
        pending = Pending(
            call=waiting.call,
            line=waiting.line,
            language=waiting.language,
            priority=waiting.priority,
            entered=waiting.entered,
            number=callback.number,
            reason=callback.reason,
            attempts=callback.attempts,
            notification=callback.notification,
            recording=callback.recording,
            **extra,
        )
        self.effects.append(Keep(pending, must))

    def end(self, call: str, outcome: str, **data: Any) -> None:
        """The call's record ends: it is forgotten here, and its timers with it."""
        self.mut("channels").pop(call, None)
        self.mut("callers").pop(call, None)
        self.cancel(*(f"{kind}:{call}" for kind in CALL_TIMERS))
        self.emit(call, "call.ended", outcome=outcome, **data)

    def back(self, waiting: Waiting) -> None:
        """A call back in the queue, in its old place (its number), its message offer armed."""
        self.mut("waiting")[waiting.call] = waiting
        self.arm_message(waiting)

    def arm_message(self, waiting: Waiting) -> None:
        """On a line that takes messages, ask for one once the caller has waited long enough
        (at once when a missed ring brings them back past that time)."""
        after = self.rules.lines[waiting.line].take_message_after
        if after is not None and not waiting.callback:
            self.later(f"message:{waiting.call}", waiting.entered + timedelta(seconds=after))

    # -- the dispatcher ----------------------------------------------------------------------
    def dispatch(self) -> None:
        """Offer waiting calls to free operators, now, until no more can be."""
        while not self.stopping and self._dispatch_once():
            pass

    def _dispatch_once(self) -> bool:
        rules, operators = self.rules, self.get("operators")
        free = [
            Candidate(
                op.id,
                rules.operators[op.id].office,
                frozenset(rules.operators[op.id].lines),
                frozenset(rules.operators[op.id].languages),
                op.idle_since or datetime.min.replace(tzinfo=self.now.tzinfo),
            )
            for op in operators.values()
            if op.free
        ]
        waiting = self.get("waiting")
        if not free or not waiting:
            return False
        pairs = assign(waiting.values(), free, rules.lines, self.now)
        again = False
        for call, operator in pairs:
            again |= self._offer(call, operator)
        return again

    def _offer(self, call: str, operator: str) -> bool:
        """Ring ``operator`` for ``call``; True when that freed someone at once (dispatch
        again)."""
        waiting = self.mut("waiting").pop(call)
        offered = Offered(operator, waiting, self.next_offer)
        self.next_offer += 1
        self.mut("offers")[call] = offered
        self.operator(operator, Offer(call))
        self.emit(call, "call.offered", operator=operator)
        if waiting.callback:
            return self._ring_back(call, offered)
        channel = self.get("channels").get(call)
        if channel is None:  # gone meanwhile
            _hung_up(self, HungUp(call))
            return True
        self.effects.append(Ring(call, channel, operator, offered.n))
        return False

    def _ring_back(self, call: str, offered: Offered) -> bool:
        callback = self.get("callbacks")[call]
        self.dialled = tuple(d for d in self.dialled if self.now - d[0] < HOUR)
        refused = capped(self.rules.callbacks, self.dialled, callback.number, self.now)
        if refused is None:
            self.keep(offered.waiting, callback, must=False, dialling=offered.operator)
            self.effects.append(
                CallOperator(
                    call, offered.operator, callback.number, callback.attempts + 1, offered.n
                )
            )
            return False
        # not now (the hourly caps), or never (the patterns changed since)
        why, until = refused
        del self.mut("offers")[call]
        self.operator(offered.operator, Withdrawn(call))
        self.emit(
            call,
            "callback.refused",
            number=callback.number,
            line=offered.waiting.line,
            reason=why,
            retry_at=until.isoformat() if until is not None else None,
        )
        if until is not None:
            self.park(offered.waiting, until)
        else:
            self.give_up(call, offered.waiting)
        return True

    # -- callbacks ---------------------------------------------------------------------------
    def park(self, waiting: Waiting, until: datetime) -> None:
        """A callback waits in the queue for its next try (stored: a restart keeps it)."""
        self.keep(waiting, self.get("callbacks")[waiting.call], must=False, next_try=until)
        self.mut("waiting")[waiting.call] = replace(waiting, not_before=until)
        self.later(f"redial:{waiting.call}", until)

    def pause(self, waiting: Waiting) -> None:
        """Back in the queue, but offered again only after RING_RETRY (Asterisk was away)."""
        until = self.now + timedelta(seconds=RING_RETRY)
        self.mut("waiting")[waiting.call] = replace(waiting, not_before=until)
        self.later(f"retry:{waiting.call}", until)

    def give_up(self, call: str, waiting: Waiting) -> None:
        callback = self.mut("callbacks").pop(call)
        self.effects.append(Forget(call))
        self.end(call, "callback-failed", line=waiting.line, attempts=callback.attempts)

    def retry(self, call: str, waiting: Waiting, status: str) -> None:
        callback = self.get("callbacks")[call]
        self.emit(
            call,
            "callback.failed",
            attempt=callback.attempts,
            status=status,
            number=callback.number,
        )
        timings = self.rules.timings
        if callback.notification is None and callback.attempts >= timings.callback_attempts:
            self.give_up(call, waiting)
        else:
            self.park(waiting, self.now + timedelta(seconds=timings.callback_retry))

    def promise(self, call: str, callback: Callback, must: bool) -> bool:
        """The caller leaves the line but keeps their place: they will be called back (False:
        the number may not be called; said on the call)."""
        waiting = self.get("waiting")[call]
        why = self.rules.callbacks.refuses(callback.number)
        if why is not None:
            self.emit(
                call, "callback.refused", number=callback.number, line=waiting.line, reason=why
            )
            return False
        promised = replace(waiting, callback=True, held=False)
        self.keep(promised, callback, must)  # before all else: stored, or nothing happens
        self.cancel(f"message:{call}")
        self.mut("waiting")[call] = promised
        self.mut("channels").pop(call, None)
        self.mut("callbacks")[call] = callback
        self.emit(
            call,
            "callback.requested",
            number=callback.number,
            line=waiting.line,
            reason=callback.reason,
            notification=callback.notification,
        )
        return True

    def finish(self, call: str, offered: Offered, outcome: str) -> None:
        """The conversation is over: its times logged, the operator wraps up."""
        assert offered.answered is not None
        handle = (self.now - offered.answered).total_seconds()
        self.handle_times = (*self.handle_times, handle)[-HANDLE_TIMES:]
        self.operator(offered.operator, Ended(call))
        self.end(
            call,
            outcome,
            operator=offered.operator,
            line=offered.waiting.line,
            wait=round((offered.answered - offered.waiting.entered).total_seconds(), 3),
            talk=round(handle, 3),
        )
        self.wrap_up(offered.operator)

    def wrap_up(self, operator: str) -> None:
        self.later(f"wrap:{operator}", self.now + timedelta(seconds=self.rules.timings.wrap_up))

    def current(
        self, call: str, n: int | None = None, operator: str | None = None
    ) -> Offered | None:
        """The offer of ``call``, if it is still the one named (by number or operator)."""
        offered: Offered | None = self.get("offers").get(call)
        if offered is None or (n is not None and offered.n != n):
            return None
        if operator is not None and offered.operator != operator:
            return None
        return offered


# -- the handlers, one per signal ---------------------------------------------------------------
def _queued(w: _Work, s: CallerQueued) -> None:
    if s.call in w.get("waiting") or s.call in w.get("offers"):
        return
    line = w.rules.lines[s.line]
    entered = s.entered or w.now
    waiting = Waiting(s.call, s.line, s.language, line.priority, entered, w.next_seq)
    w.next_seq += 1
    w.mut("waiting")[s.call] = waiting
    w.mut("channels")[s.call] = s.channel
    w.mut("callers")[s.call] = s.caller
    w.emit(s.call, "call.queued", line=s.line, language=s.language, priority=line.priority)
    if line.overflow is not None:
        w.later(f"overflow:{s.call}", entered + timedelta(seconds=line.overflow.after))
    w.arm_message(waiting)


def _later_callback(w: _Work, s: LaterCallback) -> None:
    why = w.rules.callbacks.refuses(s.number)
    if why is not None:
        w.emit(s.call, "callback.refused", number=s.number, line=s.line, reason=why)
        return
    priority = w.rules.lines[s.line].priority
    waiting = Waiting(s.call, s.line, s.language, priority, w.now, w.next_seq, callback=True)
    w.next_seq += 1
    callback = Callback(s.number, reason=s.reason)
    w.keep(waiting, callback, must=True)
    w.mut("waiting")[s.call] = waiting
    w.mut("callbacks")[s.call] = callback
    w.emit(s.call, "call.queued", line=s.line, language=s.language, priority=priority)
    w.emit(s.call, "callback.requested", number=s.number, line=s.line, reason=s.reason)


def _asked(w: _Work, s: CallbackAsked) -> None:
    if s.call in w.get("waiting"):
        w.promise(s.call, Callback(s.number, 0, s.notification, s.recording, s.reason), True)


def _held(w: _Work, s: Held) -> None:
    waiting = w.get("waiting").get(s.call)
    if waiting is not None:
        w.mut("waiting")[s.call] = replace(waiting, held=s.held)


def _hung_up(w: _Work, s: HungUp) -> None:
    call = s.call
    w.mut("channels").pop(call, None)
    w.cancel(f"overflow:{call}", f"message:{call}")
    waiting = w.get("waiting").get(call)
    if waiting is not None:
        if waiting.callback or waiting.held:
            return  # kept for the callback they asked for, or the dialogue they are in decides
        line = w.rules.lines[waiting.line]
        if line.callback_abandoned:
            number = w.get("callers").get(call, "")
            if w.promise(call, Callback(number, reason="abandoned"), must=False):
                return
        del w.mut("waiting")[call]
        w.end(call, "abandoned", wait=w.seconds_since(waiting.entered), line=waiting.line)
        return
    offered = w.get("offers").get(call)
    if offered is None or offered.waiting.callback:
        return
    del w.mut("offers")[call]
    if offered.answered is None:
        w.operator(offered.operator, Withdrawn(call))
        w.end(
            call,
            "abandoned",
            wait=w.seconds_since(offered.waiting.entered),
            line=offered.waiting.line,
            while_ringing=offered.operator,
        )
    else:
        w.finish(call, offered, "answered")


def _ring_answered(w: _Work, s: RingAnswered) -> None:
    offered = w.current(s.call, operator=s.operator)
    if offered is None:
        w.effects.append(Warn(f"answer of {s.call} by {s.operator}, which was not offered it"))
        return
    w.mut("offers")[s.call] = replace(offered, answered=w.now)
    w.operator(s.operator, Answered(s.call))
    w.emit(
        s.call, "call.answered", operator=s.operator, wait=w.seconds_since(offered.waiting.entered)
    )


def _ring_ended(w: _Work, s: RingEnded) -> None:
    offered = w.current(s.call, operator=s.operator)
    if offered is None:
        return
    del w.mut("offers")[s.call]
    if offered.answered is not None:
        w.finish(s.call, offered, "answered")
        return
    w.emit(s.call, "call.missed", operator=s.operator, status=s.status)
    w.operator(s.operator, Missed(s.call, w.rules.timings.pause_after_misses))
    w.back(offered.waiting)  # its old place: the head of its queue


def _ring_failed(w: _Work, s: RingFailed) -> None:
    offered = w.current(s.call, s.offer)
    if offered is None or offered.answered is not None:
        return  # (an answered ring was no failure)
    del w.mut("offers")[s.call]
    w.operator(offered.operator, Withdrawn(s.call))
    w.pause(offered.waiting)


def _ring_uncertain(w: _Work, s: RingUncertain) -> None:
    offered = w.current(s.call, s.offer)
    if offered is not None:
        w.mut("offers")[s.call] = replace(offered, uncertain=True)


def _redirect_lost(w: _Work, s: RedirectLost) -> None:
    offered = w.get("offers").get(s.call)
    if offered is None or not offered.uncertain:
        return
    del w.mut("offers")[s.call]
    w.emit(s.call, "call.missed", operator=offered.operator, status="NOT-REDIRECTED")
    w.operator(offered.operator, Withdrawn(s.call))
    w.mut("waiting")[s.call] = offered.waiting


def _picked_up(w: _Work, s: CallbackPickedUp) -> None:
    offered = w.current(s.call, operator=s.operator)
    callback = w.get("callbacks").get(s.call)
    if offered is None or callback is None:
        return
    w.operator(s.operator, Answered(s.call))
    w.dialled = (*w.dialled, (w.now, callback.number))  # the number is dialled now
    w.effects.append(DialCaller(s.call, callback.number, callback.recording))


def _reached(w: _Work, s: CallbackReached) -> None:
    offered = w.get("offers").get(s.call)
    if offered is not None:
        w.mut("offers")[s.call] = replace(offered, answered=w.now)
        w.emit(
            s.call,
            "call.answered",
            operator=offered.operator,
            wait=w.seconds_since(offered.waiting.entered),
            callback=True,
        )


def _callback_ended(w: _Work, s: CallbackEnded) -> None:
    offered = w.get("offers").get(s.call)
    callback = w.get("callbacks").get(s.call)
    if offered is None or callback is None:
        return
    del w.mut("offers")[s.call]
    callback = replace(callback, attempts=callback.attempts + 1)
    w.mut("callbacks")[s.call] = callback
    if offered.answered is not None:
        del w.mut("callbacks")[s.call]
        w.effects.append(Forget(s.call))
        w.finish(s.call, offered, "called-back")
        return
    # the operator was on, the caller did not pick up
    w.operator(offered.operator, Ended(s.call))
    w.wrap_up(offered.operator)
    w.retry(s.call, offered.waiting, s.status)


def _callback_failed(w: _Work, s: CallbackFailed) -> None:
    offered = w.current(s.call, s.offer)
    if offered is None or w.get("operators")[offered.operator].state is State.ON_CALL:
        return  # (the operator picked up: no failure)
    callback = w.get("callbacks")[s.call]
    w.keep(offered.waiting, callback, must=False)  # the caller was not dialled
    del w.mut("offers")[s.call]
    if s.no_answer:
        w.emit(s.call, "call.missed", operator=offered.operator, status="NOANSWER")
        w.operator(offered.operator, Missed(s.call, w.rules.timings.pause_after_misses))
        w.mut("waiting")[s.call] = offered.waiting
    else:
        w.operator(offered.operator, Withdrawn(s.call))
        w.pause(offered.waiting)


def _message_failed(w: _Work, s: MessageFailed) -> None:
    _held(w, Held(s.call, False))
    if s.gone:
        _hung_up(w, HungUp(s.call))
    elif s.call in w.get("waiting"):  # still nobody free: the offer is made again
        w.later(f"message:{s.call}", w.now + timedelta(seconds=MESSAGE_RETRY))


def _timer(w: _Work, s: TimerFired) -> None:
    if s.key not in w.get("timers"):
        return  # cancelled meanwhile
    del w.mut("timers")[s.key]
    kind, _, name = s.key.partition(":")
    if kind == "wrap" and name in w.get("operators"):
        w.operator(name, WrapUpOver())
    elif kind == "message":
        _take_message(w, name)
    # overflow, retry and redial: the dispatch after every step is what they are for


def _take_message(w: _Work, call: str) -> None:
    """Nobody answered in time: the caller leaves their details instead of waiting."""
    waiting = w.get("waiting").get(call)
    channel = w.get("channels").get(call)
    if waiting is None or waiting.callback or waiting.held or channel is None:
        return
    w.mut("waiting")[call] = replace(waiting, held=True)
    w.emit(call, "call.message_asked", line=waiting.line)
    w.effects.append(TakeMessage(call, channel))


def _operator_changed(w: _Work, s: OperatorChanged) -> None:
    w.operator(s.operator, s.event)


def _device(w: _Work, s: DeviceChanged) -> None:
    known = w.get("operators").get(s.operator)
    if known is not None and (known.reachable, known.in_use) != (s.reachable, s.in_use):
        w.operator(s.operator, Reachability(s.reachable, s.in_use))


def _handled(w: _Work, s: NotificationHandled) -> None:
    w.emit(s.call, "notification.handled", ref=s.ref, by=s.by)
    for call, callback in list(w.get("callbacks").items()):
        if callback.notification != s.ref:
            continue
        w.mut("callbacks")[call] = replace(callback, notification=None)
        if call in w.get("offers"):
            continue  # being called back right now: its end decides
        w.mut("waiting").pop(call, None)
        del w.mut("callbacks")[call]
        w.cancel(f"redial:{call}", f"retry:{call}")
        w.effects.append(Forget(call))
        w.end(call, "handled", notification=s.ref)


def _let_go(w: _Work, s: LetGo) -> None:
    waiting = w.get("waiting").get(s.call)
    if waiting is None:
        return
    del w.mut("waiting")[s.call]
    w.cancel(f"overflow:{s.call}", f"message:{s.call}")
    w.end(s.call, s.outcome, line=waiting.line, wait=w.seconds_since(waiting.entered), **s.data)


def _guarded(w: _Work, s: Guarded) -> None:
    call = s.call
    w.cancel(f"overflow:{call}", f"message:{call}", f"retry:{call}")
    waiting = w.get("waiting").get(call)
    if waiting is not None:
        del w.mut("waiting")[call]
    offered = w.get("offers").get(call)
    if offered is not None:
        del w.mut("offers")[call]
        if offered.answered is not None:  # they talked; only the step after it hung
            w.finish(call, offered, "answered")
            return
        w.operator(offered.operator, Withdrawn(call))
        waiting = offered.waiting
    data: dict[str, Any] = {}
    if waiting is not None:
        data = {"line": waiting.line, "wait": w.seconds_since(waiting.entered)}
    w.end(call, "handed-over", by="guard", **data)


def _stopping(w: _Work, _: Stopping) -> None:
    w.stopping = True


def _restore(w: _Work, s: Restore) -> None:
    for operator, (state, reason) in s.presence.items():
        if operator in w.get("operators"):
            w.operator(operator, LogIn())
            if state is State.PAUSED:
                w.operator(operator, Pause(reason or "break"))
    for p in sorted(s.callbacks, key=lambda p: p.entered):
        line = w.rules.lines.get(p.line)
        if line is None:
            w.effects.append(Warn(f"callback of {p.call}: its line {p.line!r} is gone"))
            continue
        waiting = Waiting(
            p.call, p.line, p.language, line.priority, p.entered, w.next_seq, callback=True
        )
        w.next_seq += 1
        w.mut("callbacks")[p.call] = Callback(
            p.number, p.attempts, p.notification, p.recording, p.reason
        )
        w.emit(
            p.call,
            "callback.restored",
            attempts=p.attempts,
            next_try=p.next_try.isoformat() if p.next_try else None,
            dialling=p.dialling,
        )
        if p.dialling is not None:
            # it was being made when the service stopped: the conversation may go on in
            # Asterisk, whose hangup handler reports its end; see _reconciled
            w.mut("offers")[p.call] = Offered(
                p.dialling, waiting, w.next_offer, restored=p.attempts + 1
            )
            w.next_offer += 1
        elif p.next_try is not None and p.next_try > w.now:
            w.mut("waiting")[p.call] = replace(waiting, not_before=p.next_try)
            w.later(f"redial:{p.call}", p.next_try)
        else:
            w.mut("waiting")[p.call] = waiting


def _reconciled(w: _Work, s: Reconciled) -> None:
    """With Asterisk's channels (uniqueid -> context), after (re)connecting: a callback under
    way at a restart whose channel is gone ended unseen (an attempt that did not reach the
    caller: a second call beats a missed one); a caller whose unanswered Redirect was not
    carried out (not ringing an operator) goes back to the head of the queue now."""
    for call, offered in list(w.get("offers").items()):
        if offered.restored and f"callback-{call}-{offered.restored}" not in s.channels:
            _callback_ended(w, CallbackEnded(call, "UNKNOWN"))
        elif offered.uncertain and s.channels.get(call) != "hotline-connect":
            _redirect_lost(w, RedirectLost(call))


HANDLERS: Mapping[type[Any], Callable[[_Work, Any], None]] = {
    CallerQueued: _queued,
    LaterCallback: _later_callback,
    CallbackAsked: _asked,
    Held: _held,
    HungUp: _hung_up,
    RingAnswered: _ring_answered,
    RingEnded: _ring_ended,
    RingFailed: _ring_failed,
    RingUncertain: _ring_uncertain,
    RedirectLost: _redirect_lost,
    CallbackPickedUp: _picked_up,
    CallbackReached: _reached,
    CallbackEnded: _callback_ended,
    CallbackFailed: _callback_failed,
    MessageFailed: _message_failed,
    TimerFired: _timer,
    OperatorChanged: _operator_changed,
    DeviceChanged: _device,
    NotificationHandled: _handled,
    LetGo: _let_go,
    Guarded: _guarded,
    Stopping: _stopping,
    Restore: _restore,
    Reconciled: _reconciled,
}
