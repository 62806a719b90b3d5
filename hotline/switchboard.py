"""The switchboard: the service's queues and operators, and the dispatcher run on every change.

It holds the state (who waits, who rings, who talks), feeds every change through the pure
domain (``agents.state.transition``, ``routing.dispatch.assign``) and carries out the
decisions through a small :class:`Effects` interface (AMI in production). It never polls:
a call arriving, an operator becoming free, a phone coming back or an overflow time passing
triggers a decision at once.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

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
from hotline.config import Deployment
from hotline.durable import Durable, PendingCallback
from hotline.events import CallEvent, EventBus
from routing.dispatch import Candidate, Waiting, assign, position
from routing.estimate import estimate_wait
from routing.outbound import Dialled

log = logging.getLogger(__name__)


#: Seconds before a message offer that could not be made (Asterisk away) is made again.
MESSAGE_RETRY = 10.0


class CallbackRefused(Exception):
    """The number may not be called back (the config's patterns); the message says why."""


class Uncertain(Exception):
    """Asterisk got the action and gave no answer: it may or may not have carried it out.
    Never repeated blindly (a second Redirect would tear a caller out of their ring)."""


class ChannelGone(Exception):
    """The caller's channel no longer exists in Asterisk."""


class NoAnswer(Exception):
    """The operator's phone was rung for a callback and not picked up."""


class Effects(Protocol):
    """What the switchboard asks of Asterisk."""

    async def connect(self, channel: str, operator: str) -> None:
        """Take the waiting caller on ``channel`` to ring ``operator``."""
        ...

    async def callback(self, call: str, operator: str, number: str, attempt: int) -> None:
        """Ring ``operator``; once they answer, Asterisk calls ``number`` back (NoAnswer if
        the operator does not pick up)."""
        ...

    async def take_message(self, channel: str) -> None:
        """Take the waiting caller on ``channel`` to leave a recorded message."""
        ...


@dataclass
class Callback:
    """A caller to call back: their number, and the calls made to it so far."""

    number: str
    attempts: int = 0
    #: The detention notification it answers; retried until an operator handles it.
    notification: str | None = None
    #: The caller's recorded message, played to the operator before the caller is dialled.
    recording: str | None = None
    #: Why: asked (key 1), abandoned, after-hours, notification.
    reason: str = "asked"


@dataclass
class Talk:
    """A call that left the queue: ringing an operator, then talking to them."""

    operator: str
    waiting: Waiting
    answered: datetime | None = None
    #: A callback being made when the service last stopped: its attempt number.
    restored: int = 0
    #: The Redirect to the operator got no answer: whether it was carried out shows later.
    uncertain: bool = False


class Switchboard:
    """Queues, operators and the dispatcher, for one deployment."""

    def __init__(
        self,
        deployment: Deployment,
        bus: EventBus,
        clock: Callable[[], datetime],
        effects: Effects,
        durable: Durable | None = None,
    ) -> None:
        self.deployment = deployment
        #: Pending callbacks and operators' states on disk (None: in memory only).
        self.durable = durable
        #: The callbacks dialled in the last hour (the config's caps).
        self.dialled = Dialled(deployment.callbacks)
        self.policy = deployment.policy
        self.bus = bus
        self.clock = clock
        self.effects = effects
        self.operators = {op: OperatorState(op) for op in deployment.operators}
        self.waiting: dict[str, Waiting] = {}
        self.channels: dict[str, str] = {}
        self.talks: dict[str, Talk] = {}
        self.callbacks: dict[str, Callback] = {}
        self.callers: dict[str, str] = {}
        self.handle_times: deque[float] = deque(maxlen=50)
        self._seq = itertools.count(1)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        #: Set by hand_over(): nobody is rung any more.
        self.stopping = False
        self._last_failure = ""
        #: Calls the guard moved to the fallback (the newest thousand).
        self._guarded: dict[str, None] = {}

    # -- events out ------------------------------------------------------------------------
    def emit(self, call: str, kind: str, **data: Any) -> None:
        self.bus.publish(CallEvent(call, 0, self.clock(), kind, data))

    # -- calls -----------------------------------------------------------------------------
    def enqueue(
        self,
        call: str,
        channel: str,
        line: str,
        language: str,
        entered: datetime | None = None,
        caller: str = "",
    ) -> Waiting:
        """A caller starts waiting (or waits again after a restart, keeping ``entered``)."""
        if call in self.waiting:
            return self.waiting[call]
        waiting = Waiting(
            call,
            line,
            language,
            self.deployment.lines[line].priority,
            entered or self.clock(),
            next(self._seq),
        )
        self.waiting[call] = waiting
        self.channels[call] = channel
        self.callers[call] = caller
        self.emit(call, "call.queued", line=line, language=language, priority=waiting.priority)
        overflow = self.deployment.lines[line].overflow
        if overflow is not None:
            self._later(f"overflow:{call}", overflow.after, self.dispatch)
        self._arm_message(waiting)
        self.dispatch()
        return waiting

    def _arm_message(self, waiting: Waiting) -> None:
        """On a line that takes messages, ask for one once the caller has waited long enough
        (at once when a missed ring brings them back past that time)."""
        after = self.deployment.lines[waiting.line].take_message_after
        if after is not None:
            elapsed = (self.clock() - waiting.entered).total_seconds()
            self._later(
                f"message:{waiting.call}",
                after - elapsed,
                functools.partial(self._take_message, waiting.call),
            )

    def _take_message(self, call: str) -> None:
        """Nobody answered in time: the caller leaves their details instead of waiting."""
        waiting = self.waiting.get(call)
        channel = self.channels.get(call)
        if waiting is None or waiting.callback or waiting.held or channel is None:
            return
        self.hold(call, True)
        self.emit(call, "call.message_asked", line=waiting.line)
        self._spawn(self._to_message(call, channel))

    async def _to_message(self, call: str, channel: str) -> None:
        try:
            await self.effects.take_message(channel)
        except ChannelGone:
            self.hold(call, False)
            self.hung_up(call)
        except Exception as exc:
            log.warning("could not take a message from %s: %s; asking again soon", call, exc)
            self.hold(call, False)
            if call in self.waiting:  # still nobody free: the offer is made again
                self._later(
                    f"message:{call}", MESSAGE_RETRY, functools.partial(self._take_message, call)
                )

    def refuses_callback(self, call: str, number: str, line: str) -> str | None:
        """Why ``number`` may not be called back (logged on the call); None: it may."""
        why = self.deployment.callbacks.refuses(number)
        if why is not None:
            self.emit(call, "callback.refused", number=number, line=line, reason=why)
        return why

    def add_callback(self, call: str, line: str, language: str, number: str, reason: str) -> None:
        """A caller who is not on the line (after hours, say) is to be called back. Raises
        CallbackRefused (the number may not be called) or OSError (it could not be stored:
        nothing is promised); the caller hears the promise only after this returned."""
        if (why := self.refuses_callback(call, number, line)) is not None:
            raise CallbackRefused(why)
        priority = self.deployment.lines[line].priority
        waiting = Waiting(
            call, line, language, priority, self.clock(), next(self._seq), callback=True
        )
        callback = Callback(number, reason=reason)
        self._keep(waiting, callback)
        self.waiting[call] = waiting
        self.callbacks[call] = callback
        self.emit(call, "call.queued", line=line, language=language, priority=priority)
        self.emit(call, "callback.requested", number=number, line=line, reason=reason)
        self.dispatch()

    def _keep(
        self,
        waiting: Waiting,
        callback: Callback,
        next_try: datetime | None = None,
        dialling: str | None = None,
    ) -> None:
        """Store a callback's state on disk (OSError if it could not be)."""
        if self.durable is None:
            return
        self.durable.keep(
            PendingCallback(
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
                next_try=next_try,
                seq=self.bus.seq(waiting.call),
                dialling=dialling,
            )
        )

    def _keep_quietly(
        self,
        waiting: Waiting,
        callback: Callback,
        *,
        next_try: datetime | None = None,
        dialling: str | None = None,
    ) -> None:
        """Store a callback's progress; a failure (the disk) is only logged: the promise
        itself was stored before."""
        try:
            self._keep(waiting, callback, next_try, dialling)
        except OSError as exc:
            log.error("callback of %s: its progress could not be stored: %s", waiting.call, exc)

    def _close(self, call: str) -> None:
        if self.durable is not None:
            self.durable.close(call)

    def restore(self) -> int:
        """At start: operators logged in (or paused) as they were, and the pending callbacks
        back in their original order and retry schedule. Returns how many callbacks."""
        if self.durable is None:
            return 0
        for operator, (state, reason) in self.durable.presence().items():
            if operator in self.operators:
                self._operator(operator, LogIn())
                if state is State.PAUSED:
                    self._operator(operator, Pause(reason or "break"))
        now = self.clock()
        pending = sorted(self.durable.callbacks.values(), key=lambda p: p.entered)
        self.bus.resume({p.call: p.seq for p in pending})
        for p in pending:
            line = self.deployment.lines.get(p.line)
            if line is None:
                log.error("callback of %s: its line %r is no longer in the config", p.call, p.line)
                continue
            waiting = Waiting(
                p.call, p.line, p.language, line.priority, p.entered, next(self._seq), True
            )
            self.callbacks[p.call] = Callback(
                p.number, p.attempts, p.notification, p.recording, p.reason
            )
            self.emit(
                p.call,
                "callback.restored",
                attempts=p.attempts,
                next_try=p.next_try.isoformat() if p.next_try else None,
                dialling=p.dialling,
            )
            if p.dialling is not None:
                # it was being made when the service stopped: the conversation may go on in
                # Asterisk, whose hangup handler reports its end here; see reconcile()
                self.talks[p.call] = Talk(p.dialling, waiting, restored=p.attempts + 1)
            elif p.next_try is not None and p.next_try > now:
                self._later(
                    f"retry:{p.call}",
                    (p.next_try - now).total_seconds(),
                    functools.partial(self._requeue, p.call, waiting),
                )
            else:
                self.waiting[p.call] = waiting
        if pending:
            log.info("%d pending callback(s) restored", len(pending))
        self.dispatch()
        return len(pending)

    def reconcile(self, channels: Mapping[str, str]) -> None:
        """With Asterisk's channels now (uniqueid -> dialplan context), after (re)connecting:

        - a callback that was being made when the service stopped and whose channel is gone
          ended unseen; it counts as an attempt that did not reach the caller (a second call
          beats a missed one);
        - a caller whose unanswered Redirect was not carried out (they are not ringing an
          operator) goes back to the head of their queue now, not at their next announcement.
        """
        for call, talk in list(self.talks.items()):
            if talk.restored and f"callback-{call}-{talk.restored}" not in channels:
                self.callback_ended(call, "UNKNOWN")
            elif talk.uncertain and channels.get(call) != "hotline-connect":
                self.redirect_lost(call)

    def hold(self, call: str, held: bool) -> None:
        """Keep a waiting call out of dispatch while the caller answers a question."""
        if call in self.waiting:
            self.waiting[call] = replace(self.waiting[call], held=held)
            if not held:
                self.dispatch()

    def to_callback(
        self,
        call: str,
        number: str,
        reason: str = "asked",
        notification: str | None = None,
        recording: str | None = None,
    ) -> None:
        """The caller leaves the line but keeps their place: they will be called back.

        Stored on disk first: raises CallbackRefused (the number may not be called) or
        OSError (it could not be stored), and then nothing changed; the caller hears the
        promise only after this returned."""
        waiting = self.waiting.get(call)
        if waiting is None:
            return
        if (why := self.refuses_callback(call, number, waiting.line)) is not None:
            raise CallbackRefused(why)
        promised = replace(waiting, callback=True, held=False)
        callback = Callback(number, notification=notification, recording=recording, reason=reason)
        self._keep(promised, callback)
        self._cancel(f"message:{call}")
        self.waiting[call] = promised
        self.channels.pop(call, None)
        self.callbacks[call] = callback
        self.emit(
            call,
            "callback.requested",
            number=number,
            line=waiting.line,
            reason=reason,
            notification=notification,
        )
        self.dispatch()

    def handled(self, notification: str, call: str, by: str) -> None:
        """An operator handled a detention notification: no more callbacks for it."""
        self.emit(call, "notification.handled", ref=notification, by=by)
        for call, callback in list(self.callbacks.items()):
            if callback.notification == notification:
                callback.notification = None
                if call not in self.talks:  # not being called back right now
                    self.waiting.pop(call, None)
                    del self.callbacks[call]
                    self._cancel(f"retry:{call}")
                    self._close(call)
                    self.emit(call, "call.ended", outcome="handled", notification=notification)

    async def hand_over(self, to_fallback: Callable[[str], Awaitable[None]]) -> int:
        """The service is stopping: every caller waiting on a channel goes to the fallback
        queue (``to_fallback(channel)``) and their record ends as ``handed-over``. Returns how
        many were handed over."""
        self.stopping = True
        handed = 0
        for call in list(self.waiting):
            channel = self.channels.get(call)
            if channel is None:  # a callback: kept on disk for the next start
                continue
            # a caller in a dialogue (a callback number, a message) goes too: what they said
            # so far is kept by that dialogue, and a person answers them now
            try:
                await asyncio.wait_for(to_fallback(channel), 3)
            except Exception as exc:  # the dialplan's own fallback still takes them
                log.warning("call %s not handed over (%s); its next step falls back", call, exc)
                continue
            self.let_go(call, "handed-over")
            handed += 1
        return handed

    def let_go(self, call: str, outcome: str, **data: Any) -> None:
        """The caller leaves the service for the dialplan's fallback queue (``handed-over`` at
        a stop, ``failed`` when a fault of ours sends them): their record ends here."""
        waiting = self.waiting.pop(call, None)
        if waiting is None:
            return
        self.channels.pop(call, None)
        for timer in ("overflow", "message"):
            self._cancel(f"{timer}:{call}")
        wait = (self.clock() - waiting.entered).total_seconds()
        self.emit(
            call, "call.ended", outcome=outcome, line=waiting.line, wait=round(wait, 3), **data
        )

    def guarded(self, call: str, started: dict[str, str]) -> None:
        """The guard moved the caller to the fallback queue while the service was not
        answering (dialplan [hotline-guarded]): let them go, so nobody is routed twice. A call
        that arrived while the service hung is logged from ``started`` (caller, number,
        channel, sip_call_id)."""
        if not self.bus.under_way(call):
            self.emit(call, "call.started", **started)
        self._guarded[call] = None
        while len(self._guarded) > 1000:
            del self._guarded[next(iter(self._guarded))]
        for timer in ("overflow", "message", "retry"):
            self._cancel(f"{timer}:{call}")
        waiting = self.waiting.pop(call, None)
        talk = self.talks.pop(call, None)
        if talk is not None:
            if talk.answered is not None:  # they talked; only the step after it hung
                self._finish(call, talk, "answered")
                return
            self._operator(talk.operator, Withdrawn(call))
            waiting = talk.waiting
        data: dict[str, Any] = {}
        if waiting is not None:
            wait = (self.clock() - waiting.entered).total_seconds()
            data = {"line": waiting.line, "wait": round(wait, 3)}
        self.emit(call, "call.ended", outcome="handed-over", by="guard", **data)
        self.dispatch()

    def was_guarded(self, call: str) -> bool:
        return call in self._guarded

    def redirect_lost(self, call: str) -> bool:
        """The caller is still waiting though an unanswered Redirect may have taken them to an
        operator: it was not carried out. Back to the head of the queue; True if so."""
        talk = self.talks.get(call)
        if talk is None or not talk.uncertain:
            return False
        del self.talks[call]
        self.emit(call, "call.missed", operator=talk.operator, status="NOT-REDIRECTED")
        self._operator(talk.operator, Withdrawn(call))
        self.waiting[call] = talk.waiting
        self.dispatch()
        return True

    def waits(self, call: str) -> bool:
        return call in self.waiting

    def where(self, call: str) -> tuple[int, float]:
        """(position, estimated seconds left) of a waiting call."""
        place = position(list(self.waiting.values()), call)
        return place, self.estimate(self.waiting[call].line, place)

    def estimate(self, line: str, place: int) -> float:
        """Seconds a caller at ``place`` in ``line``'s queue can expect to wait (inf: nobody
        is serving the line)."""
        serving = sum(
            1
            for op in self.operators.values()
            if op.state not in (State.LOGGED_OUT, State.PAUSED)
            and self.deployment.operators[op.id].serves(line)
        )
        rate = len(self.waiting) / max(60.0, self.policy.default_handle_time)
        return estimate_wait(
            place, serving, list(self.handle_times), self.policy.default_handle_time, rate
        )

    def answered(self, call: str, operator: str) -> None:
        """The operator picked up (Asterisk's pre-bridge handler said so)."""
        talk = self.talks.get(call)
        if talk is None or talk.operator != operator:
            log.warning("answer of %s by %s, which was not offered it", call, operator)
            return
        talk.answered = self.clock()
        self._operator(operator, Answered(call))
        wait = (talk.answered - talk.waiting.entered).total_seconds()
        self.emit(call, "call.answered", operator=operator, wait=round(wait, 3))

    def ring_ended(self, call: str, operator: str, status: str) -> str:
        """The dial of ``operator`` returned with the caller still on the line.

        Returns what the caller does next: ``done`` (they talked) or ``wait`` (back to the
        head of the queue)."""
        talk = self.talks.pop(call, None)
        if talk is None or talk.operator != operator:
            return "wait" if call in self.waiting else "done"
        if talk.answered is not None:
            self._finish(call, talk, "answered")
            return "done"
        self.emit(call, "call.missed", operator=operator, status=status)
        self._operator(operator, Missed(call, self.policy.pause_after_misses))
        self.waiting[call] = talk.waiting  # its old place: the head of its queue
        self._arm_message(talk.waiting)
        self.dispatch()
        return "wait"

    def hung_up(self, call: str) -> None:
        """The caller's channel is gone (its hangup handler ran)."""
        self.channels.pop(call, None)
        self._cancel(f"overflow:{call}")
        self._cancel(f"message:{call}")
        waiting = self.waiting.get(call)
        if waiting is not None and (waiting.callback or waiting.held):
            # kept for the callback they asked for, or the dialogue they are in decides
            return
        if waiting is not None:
            if self.deployment.lines[waiting.line].callback_abandoned:
                try:
                    self.to_callback(call, self.callers.get(call, ""), reason="abandoned")
                    return
                except CallbackRefused:
                    pass  # logged on the call: no number that may be called
                except OSError as exc:  # the disk: called back if this process lives
                    log.error("callback of abandoned %s not stored: %s", call, exc)
                    self._promise_in_memory(call, waiting)
                    return
            del self.waiting[call]
            wait = (self.clock() - waiting.entered).total_seconds()
            self.emit(
                call, "call.ended", outcome="abandoned", wait=round(wait, 3), line=waiting.line
            )
            return
        talk = self.talks.get(call)
        if talk is None or talk.waiting.callback:
            return
        del self.talks[call]
        if talk.answered is None:
            self._operator(talk.operator, Withdrawn(call))
            wait = (self.clock() - talk.waiting.entered).total_seconds()
            self.emit(
                call,
                "call.ended",
                outcome="abandoned",
                wait=round(wait, 3),
                line=talk.waiting.line,
                while_ringing=talk.operator,
            )
            self.dispatch()
        else:
            self._finish(call, talk, "answered")

    def _promise_in_memory(self, call: str, waiting: Waiting) -> None:
        """A callback that could not be stored is still made while this process lives."""
        number = self.callers.get(call, "")
        self.waiting[call] = replace(waiting, callback=True, held=False)
        self.channels.pop(call, None)
        self.callbacks[call] = Callback(number, reason="abandoned")
        self.emit(call, "callback.requested", number=number, line=waiting.line, reason="abandoned")
        self.dispatch()

    def callback_answered(self, call: str, operator: str) -> Callback | None:
        """The operator picked up a callback: whom to call now (None: not theirs)."""
        talk = self.talks.get(call)
        if talk is None or talk.operator != operator or call not in self.callbacks:
            return None
        self._operator(operator, Answered(call))
        callback = self.callbacks[call]
        self.dialled.dial(callback.number, self.clock())  # the number is dialled now
        return callback

    def callback_reached(self, call: str) -> None:
        """The caller called back picked up: the conversation starts."""
        talk = self.talks.get(call)
        if talk is not None:
            talk.answered = self.clock()
            wait = (talk.answered - talk.waiting.entered).total_seconds()
            self.emit(
                call, "call.answered", operator=talk.operator, wait=round(wait, 3), callback=True
            )

    def callback_ended(self, call: str, status: str) -> None:
        """The operator's leg of a callback is over (their channel's hangup handler)."""
        talk = self.talks.pop(call, None)
        callback = self.callbacks.get(call)
        if talk is None or callback is None:
            return
        callback.attempts += 1
        if talk.answered is not None:
            del self.callbacks[call]
            self._close(call)
            self._finish(call, talk, "called-back")
            return
        # the operator was on, the caller did not pick up
        self._operator(talk.operator, Ended(call))
        self._later(
            f"wrap:{talk.operator}",
            self.policy.wrap_up,
            functools.partial(self.operator_event, talk.operator, WrapUpOver()),
        )
        self._retry(call, talk.waiting, status)

    def _retry(self, call: str, waiting: Waiting, why: str) -> None:
        callback = self.callbacks[call]
        self.emit(
            call, "callback.failed", attempt=callback.attempts, status=why, number=callback.number
        )
        if callback.notification is None and callback.attempts >= self.policy.callback_attempts:
            self._give_up(call, waiting)
            return
        self._retry_at(call, waiting, self.clock() + timedelta(seconds=self.policy.callback_retry))

    def _give_up(self, call: str, waiting: Waiting) -> None:
        callback = self.callbacks.pop(call)
        self._close(call)
        self.emit(
            call,
            "call.ended",
            outcome="callback-failed",
            line=waiting.line,
            attempts=callback.attempts,
        )

    def _retry_at(self, call: str, waiting: Waiting, when: datetime) -> None:
        """Try the callback again at ``when`` (stored, so a restart keeps the schedule)."""
        self._keep_quietly(waiting, self.callbacks[call], next_try=when)
        self._later(
            f"retry:{call}",
            (when - self.clock()).total_seconds(),
            functools.partial(self._requeue, call, waiting),
        )

    def _requeue(self, call: str, waiting: Waiting) -> None:
        self.waiting[call] = waiting
        self.dispatch()

    def _finish(self, call: str, talk: Talk, outcome: str) -> None:
        assert talk.answered is not None
        now = self.clock()
        handle = (now - talk.answered).total_seconds()
        self.handle_times.append(handle)
        self._operator(talk.operator, Ended(call))
        self.emit(
            call,
            "call.ended",
            outcome=outcome,
            operator=talk.operator,
            line=talk.waiting.line,
            wait=round((talk.answered - talk.waiting.entered).total_seconds(), 3),
            talk=round(handle, 3),
        )
        self._later(
            f"wrap:{talk.operator}",
            self.policy.wrap_up,
            functools.partial(self.operator_event, talk.operator, WrapUpOver()),
        )

    # -- operators -------------------------------------------------------------------------
    def operator_event(self, operator: str, event: Event) -> OperatorState:
        """Apply an operator's event (raises OperatorError when it does not apply)."""
        state = self._operator(operator, event)
        self.dispatch()
        return state

    def _operator(self, operator: str, event: Event) -> OperatorState:
        before = self.operators[operator]
        after = transition(before, event, self.clock())
        self.operators[operator] = after
        if self.durable is not None and after.state is not before.state:
            self.durable.operators_changed(self.operators)
        if (after.state, after.reachable, after.in_use, after.pause_reason) != (
            before.state,
            before.reachable,
            before.in_use,
            before.pause_reason,
        ):
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

    def reachable(self, operator: str, reachable: bool, in_use: bool = False) -> None:
        """The phone's device state changed: reachable or not, busy with a call or not."""
        known = self.operators.get(operator)
        if known is not None and (known.reachable, known.in_use) != (reachable, in_use):
            self.operator_event(operator, Reachability(reachable, in_use))

    # -- the dispatcher --------------------------------------------------------------------
    def dispatch(self) -> None:
        """Offer waiting calls to free operators, now."""
        if self.stopping:
            return
        free = [
            Candidate(
                op.id,
                self.deployment.operators[op.id].office,
                frozenset(self.deployment.operators[op.id].lines),
                frozenset(self.deployment.operators[op.id].languages),
                op.idle_since or datetime.min.replace(tzinfo=self.clock().tzinfo),
            )
            for op in self.operators.values()
            if op.free
        ]
        if not free or not self.waiting:
            return
        for call, operator in assign(
            self.waiting.values(), free, self.deployment.lines, self.clock()
        ):
            waiting = self.waiting.pop(call)
            self.talks[call] = Talk(operator, waiting)
            self._operator(operator, Offer(call))
            self.emit(call, "call.offered", operator=operator)
            self._spawn(self._ring(call, operator))

    async def _ring(self, call: str, operator: str) -> None:
        talk = self.talks.get(call)
        if talk is not None and talk.waiting.callback:
            await self._ring_back(call, operator, talk)
            return
        channel = self.channels.get(call)
        try:
            if channel is None:
                raise ChannelGone(call)
            await self.effects.connect(channel, operator)
            self._last_failure = ""
        except ChannelGone:
            self.hung_up(call)
        except Uncertain as exc:
            # If it was carried out, the dial reports its end (ring_ended) or its answer; if
            # not, the caller's next announcement finds them still waiting (redirect_lost).
            log.warning("ringing %s for %s: %s; waiting to see", operator, call, exc)
            talk = self.talks.get(call)
            if talk is not None:
                talk.uncertain = True
        except Exception as exc:
            # Asterisk could not take the caller to the operator: put everything back.
            if str(exc) != self._last_failure:  # once per cause, not once a second
                log.warning("could not ring %s for %s: %s", operator, call, exc)
            self._last_failure = str(exc)
            talk = self.talks.pop(call, None)
            if talk is not None:
                self.waiting[call] = talk.waiting
                self._operator(operator, Withdrawn(call))
            self._later(f"retry:{call}", 1.0, self.dispatch)

    async def _ring_back(self, call: str, operator: str, talk: Talk) -> None:
        callback = self.callbacks[call]
        now = self.clock()
        capped = self.dialled.refuses(callback.number, now)
        if capped is not None:  # not now (the hourly caps), or never (the patterns changed)
            why, until = capped
            del self.talks[call]
            self._operator(operator, Withdrawn(call))
            self.emit(
                call,
                "callback.refused",
                number=callback.number,
                line=talk.waiting.line,
                reason=why,
                retry_at=until.isoformat() if until.year < 9999 else None,
            )
            if until.year < 9999:
                self._retry_at(call, talk.waiting, until)
            else:
                self._give_up(call, talk.waiting)
            self.dispatch()
            return
        self._keep_quietly(talk.waiting, callback, dialling=operator)
        try:
            await self.effects.callback(call, operator, callback.number, callback.attempts + 1)
        except NoAnswer:
            if self.talks.get(call) is talk:  # not already taken further by the dialplan
                self._keep_quietly(talk.waiting, callback)  # the caller was not dialled
                del self.talks[call]
                self.emit(call, "call.missed", operator=operator, status="NOANSWER")
                self._operator(operator, Missed(call, self.policy.pause_after_misses))
                self.waiting[call] = talk.waiting
                self.dispatch()
        except Exception as exc:
            log.warning("could not ring %s for callback %s: %s", operator, call, exc)
            if self.talks.get(call) is talk:
                self._keep_quietly(talk.waiting, callback)
                del self.talks[call]
                self.waiting[call] = talk.waiting
                self._operator(operator, Withdrawn(call))
                self._later(f"retry:{call}", 1.0, self.dispatch)

    # -- timers and tasks ------------------------------------------------------------------
    def _later(self, key: str, seconds: float, action: Callable[[], Any]) -> None:
        self._cancel(key)
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.pop(key, None)
            action()

        self._timers[key] = loop.call_later(max(0.0, seconds), fire)

    def _cancel(self, key: str) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
