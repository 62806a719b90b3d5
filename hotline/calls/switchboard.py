"""The switchboard: runs the queue (:mod:`routing.queue`) for one deployment.

It feeds every change to the queue's pure step function (:func:`routing.steps.step`) and
carries out what comes back:
rings and callbacks through a small :class:`Effects` interface (AMI in production, whose
results come back as signals), timers on the event loop, promises on disk
(:class:`~hotline.calls.durable.Durable`), events on the bus. It decides nothing itself. Other
modules read its snapshot (:attr:`state` and the mappings it exposes), never change it.

Over 400 lines: one method per way the service reports a change and one per effect carried
out; none decides anything.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from agents.state import Event, OperatorState
from hotline.asterisk.messages import PhoneState, Transferred
from hotline.asterisk.port import ChannelGone, Effects, NoAnswer, Uncertain
from hotline.calls.durable import Durable, PendingCallback
from hotline.config.deployment import Deployment, Policy
from hotline.events import CallEvent, EventBus
from hotline.privacy import mask
from routing import callbacks, events, queue, reconfigure, transfers
from routing.dispatch import Waiting
from routing.events import CallStarted, Ending, Fact
from routing.lines import next_open
from routing.outbound import capped
from routing.queue import Callback, Offered, Queue, Rules, Shelter, Timings
from routing.signals import (
    Adopted,
    CallbackAsked,
    CallbackEnded,
    CallbackFailed,
    CallBackNow,
    CallbackPickedUp,
    CallbackReached,
    CallerErased,
    CallerQueued,
    CallOperator,
    CancelTimer,
    CentreAnswered,
    CentreEnded,
    DeviceChanged,
    DialCaller,
    Dialled,
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
    Move,
    NotificationHandled,
    OperatorChanged,
    Reconciled,
    Reconfigured,
    RedirectLost,
    Restore,
    Ring,
    RingAnswered,
    RingEnded,
    RingFailed,
    RingUncertain,
    ShelterAsked,
    ShelterOver,
    Signal,
    StartTimer,
    Stopping,
    TakeMessage,
    Target,
    TimerFired,
    ToCentre,
    TransferAsked,
    TransferJoined,
    TransferReady,
    Warn,
)
from routing.steps import step

log = logging.getLogger(__name__)

#: Callers remembered as told of a shelter (more than ever wait at once).
TOLD_KEPT = 10_000

#: Calls the guard moved that are remembered (their late AGI reports are then ignored).
GUARDED_KEPT = 1000


class CallbackRefused(Exception):
    """The number may not be called back (the config's patterns); the message says why."""


class TransferRefused(Exception):
    """The call cannot be transferred there now; the message says why."""


class NotActive(Exception):
    """This instance may not act now (another is active, or its lease is in doubt for a
    moment): nothing changed; ask again (the API answers 503 with Retry-After)."""


def timings_of(policy: Policy) -> Timings:
    """The queue's timings of a set of rules (the deployment's, or an organisation's)."""
    return Timings(
        ring_timeout=policy.ring_timeout,
        wrap_up=policy.wrap_up,
        pause_after_misses=policy.pause_after_misses,
        callback_attempts=policy.callback_attempts,
        callback_retry=policy.callback_retry,
        default_handle_time=policy.default_handle_time,
    )


def rules_of(deployment: Deployment) -> Rules:
    """What the queue needs of the deployment: each organisation's timings its own."""
    organisations = deployment.organisations.values()
    return Rules(
        deployment.lines,
        deployment.operators,
        timings_of(deployment.policy),
        deployment.callbacks,
        owners={line: org.id for org in organisations for line in org.lines},
        employers={op: org.id for org in organisations for op in org.operators},
        own={org.id: timings_of(org.policy) for org in organisations},
    )


#: What a witnessing instance still takes in: how calls go on and end.
WITNESSED = (
    HungUp,
    RingAnswered,
    RingEnded,
    CentreAnswered,
    CentreEnded,
    CallbackReached,
    CallbackEnded,
)
#: What someone asks for and must be answered now: refused (NotActive) by an instance that
#: may not act, never taken and left undone.
REQUESTS = (
    OperatorChanged,
    ShelterAsked,
    ShelterOver,
    CallbackAsked,
    LaterCallback,
    CallBackNow,
    CallbackPickedUp,
    TransferAsked,
    NotificationHandled,
)


def _reported(signal: Signal) -> bool:
    """A request that reports what was done already (a transfer made on the phone): kept,
    like any report, rather than refused."""
    return isinstance(signal, TransferAsked) and signal.left


class Switchboard:
    """The queue of one deployment, run."""

    def __init__(
        self,
        deployment: Deployment,
        bus: EventBus,
        clock: Callable[[], datetime],
        effects: Effects,
        durable: Durable | None = None,
    ) -> None:
        self.deployment = deployment
        self.rules = rules_of(deployment)
        self.bus = bus
        self.clock = clock
        self.effects = effects
        #: Pending callbacks and operators' states on disk (None: in memory only).
        self.durable = durable
        #: The queue now (immutable: read it, never change it).
        self.state = Queue.empty(self.rules)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._guarded: dict[str, None] = {}
        #: Callers told that an office of their line is in shelter: which office's.
        self._told: OrderedDict[str, str] = OrderedDict()
        self._last_failure = ""
        #: The call whose session is enqueueing it now, and the ring it is handed.
        self._in_session: str | None = None
        self._handed: Ring | None = None
        #: Whether this instance is the active one (a standby, or one deposed while it was
        #: stopped, changes nothing and says nothing: its timers and late results are void).
        self.may_act: Callable[[], bool] = lambda: True
        #: Whether it holds a queue, from taking over to standing down: then, while it may
        #: not act (its lease in doubt for a moment, or given up at a stop until the next
        #: instance has taken over), it still logs how its calls go on and end, which the
        #: dialplan reports here, and does nothing about them.
        self.witnessing = False
        #: Whether its lease is in doubt and may come back (the database slow for a moment):
        #: then what it sees is kept (:attr:`held`) and applied when the lease is back.
        self.in_doubt: Callable[[], bool] = lambda: False
        #: Signals seen while the lease was in doubt, in order, and what the steps it still
        #: took (the dialplan's reports) left to do: applied and done once it is back
        #: (:meth:`resume`), left to the next active instance if it stands down.
        self.held: list[Signal] = []
        self.held_effects: list[Effect] = []

    # -- the snapshot ------------------------------------------------------------------------
    @property
    def operators(self) -> Mapping[str, OperatorState]:
        return self.state.operators

    @property
    def waiting(self) -> Mapping[str, Waiting]:
        return self.state.waiting

    @property
    def talks(self) -> Mapping[str, Offered]:
        """Calls offered to an operator: ringing, then talking."""
        return self.state.offers

    @property
    def callbacks(self) -> Mapping[str, Callback]:
        return self.state.callbacks

    @property
    def channels(self) -> Mapping[str, str]:
        return self.state.channels

    @property
    def callers(self) -> Mapping[str, str]:
        return self.state.callers

    @property
    def shelters(self) -> Mapping[str, Shelter]:
        """Offices in shelter now, by office."""
        return self.state.shelters

    def shelter(self, office: str, by: str, until: datetime | None = None) -> Shelter:
        """Take ``office`` to shelter (an air-raid alert) now, until ``until`` or until it is
        ended; asked again, its end time is the new one."""
        self.feed(ShelterAsked(office, by, until))
        return self.state.shelters[office]

    def end_shelter(self, office: str, by: str) -> bool:
        """End ``office``'s shelter (False: it was not in one)."""
        if office not in self.state.shelters:
            return False
        self.feed(ShelterOver(office, by))
        return True

    def sheltered(self, line: str) -> str | None:
        """The office of ``line`` in shelter now, if one is."""
        found = self.deployment.lines.get(line)
        offices = found.offices if found is not None else ()
        return next((office for office in offices if office in self.state.shelters), None)

    def planned_time(self, line: str, evening: bool) -> datetime | None:
        """When a planned callback of ``line`` is made: this evening (from 18:00) or tomorrow
        morning (from 09:00) in its first office's time zone, at the first moment from then
        on that the line is open (None: not within a week)."""
        found = self.deployment.lines[line]
        offices = self.deployment.offices
        zone = ZoneInfo(offices[found.offices[0]].schedule.timezone)
        local = self.clock().astimezone(zone)
        day = local.date() + timedelta(days=0 if evening else 1)
        start = datetime.combine(day, time(18 if evening else 9), tzinfo=zone)
        return next_open(found, offices, max(start, local))

    def shelter_notice(self, call: str, line: str | None = None) -> bool:
        """Whether the caller of ``call`` on ``line`` (by default the one they wait on) is to
        hear now why their wait may be longer: an office of the line is in shelter, and they
        have not heard it for this shelter yet."""
        line = line or self.line_of(call)
        office = self.sheltered(line) if line else None
        if office is None or self._told.get(call) == office:
            return False
        self._told[call] = office
        while len(self._told) > TOLD_KEPT:
            self._told.popitem(last=False)
        return True

    @property
    def stopping(self) -> bool:
        return self.state.stopping

    def waits(self, call: str) -> bool:
        return call in self.state.waiting

    def where(self, call: str) -> tuple[int, float]:
        """(position, estimated seconds left) of a waiting call."""
        return queue.where(self.state, self.rules, call)

    def estimate(self, line: str, place: int) -> float:
        """Seconds a caller at ``place`` in ``line``'s queue can expect to wait."""
        return queue.estimate(self.state, self.rules, line, place)

    def lines_now(self) -> dict[str, queue.LineNow]:
        """Every line's queue now (the API's, the wallboard's and the metrics' one view)."""
        return queue.lines_now(self.state, self.rules, self.clock())

    def line_of(self, call: str) -> str | None:
        """The line a call is waiting, ringing or talking on, or away from (None: not here)."""
        if (waiting := self.state.waiting.get(call)) is not None:
            return waiting.line
        if (offered := self.state.offers.get(call)) is not None:
            return offered.waiting.line
        away = self.state.away.get(call)
        return away.waiting.line if away is not None and away.waiting is not None else None

    def was_guarded(self, call: str) -> bool:
        return call in self._guarded

    # -- feeding the queue -------------------------------------------------------------------
    def feed(self, signal: Signal) -> list[Effect]:
        """One step of the queue, its effects carried out. A promise that must be kept on
        disk and could not be raises OSError, and then nothing changed. A request
        (:data:`REQUESTS`) while this instance may not act raises NotActive."""
        acting = self.may_act()
        if acting and (self.held or self.held_effects):
            self.resume()  # the lease is back: what waited for it goes first
        doubt = not acting and self.witnessing and self.in_doubt()
        if not acting and isinstance(signal, REQUESTS) and not _reported(signal):
            raise NotActive(
                "this instance's lease is in doubt for a moment: ask again"
                if doubt
                else "this instance is not the active one"
            )
        if doubt and not isinstance(signal, WITNESSED):
            self.held.append(signal)  # seen: applied when the lease is back
            return []
        if not acting and not (self.witnessing and isinstance(signal, WITNESSED)):
            return []
        now = self.clock()
        state, effects = step(self.state, signal, now, self.rules)
        if not acting:  # what happened is logged; what it leads to waits for the lease
            if doubt:
                self.held_effects += [e for e in effects if not isinstance(e, Emit)]
            effects = [e for e in effects if isinstance(e, Emit)]
        for effect in effects:
            if isinstance(effect, Keep) and effect.must:
                self._keep(effect)  # raises: the step does not happen
        before, self.state = self.state, state
        for effect in effects:
            self._carry_out(effect, now)
        if acting and self.durable is not None:
            if before.operators is not state.operators:
                self.durable.operators_changed(queue.presence(state))
            if before.shelters is not state.shelters:
                self.durable.shelters_changed(tuple(state.shelters.values()))
        return effects

    def resume(self) -> int:
        """The lease is back after a moment in doubt: what the steps taken meanwhile left to
        do is done, then the signals seen meanwhile are applied, in their order. Returns how
        many signals."""
        effects, self.held_effects = self.held_effects, []
        signals, self.held = self.held, []
        if not effects and not signals:
            return 0
        log.warning(
            "the lease is back: %d signal(s) seen and %d action(s) decided while it was in "
            "doubt are carried out now",
            len(signals),
            len(effects),
        )
        now = self.clock()
        for effect in effects:
            if isinstance(effect, Keep) and effect.must:
                try:
                    self._keep(effect)
                except OSError as exc:
                    log.error("callback of %s not stored: %s", effect.pending.call, exc)
            self._carry_out(effect, now)
        for signal in signals:
            try:
                self.feed(signal)
            except Exception as exc:  # (one that no longer applies must not stop the rest)
                log.warning("%s seen while the lease was in doubt: %s", type(signal).__name__, exc)
        if self.durable is not None:
            self.durable.operators_changed(queue.presence(self.state))
        return len(signals)

    def _carry_out(self, effect: Effect, now: datetime) -> None:
        match effect:
            case Emit(call, events.CallbackRefused() as refused):
                log.warning(
                    "callback of %s to %s refused: %s", call, mask(refused.number), refused.reason
                )
                self.bus.publish(CallEvent(call, 0, now, refused))
            case Emit(call, fact):
                self.bus.publish(CallEvent(call, 0, now, fact))
            case StartTimer(key, at):
                self._start_timer(key, at)
            case CancelTimer(key):
                handle = self._timers.pop(key, None)
                if handle is not None:
                    handle.cancel()
            case Ring() if effect.call == self._in_session and not effect.transferred:
                self._handed = effect  # carried out by the caller's session as it ends
            case Ring():
                self._spawn(self._ring(effect))
            case Move():
                self._spawn(self._move(effect))
            case CallOperator():
                self._spawn(self._call_operator(effect))
            case TakeMessage():
                self._spawn(self._take_message(effect))
            case Keep(must=False):
                try:
                    self._keep(effect)
                except OSError as exc:  # the promise itself was kept before, or is in memory
                    log.error("callback of %s not stored: %s", effect.pending.call, exc)
            case Forget(call):
                if self.durable is not None:
                    self.durable.close(call)
            case Warn(message):
                log.warning("%s", message)

    def _keep(self, effect: Keep) -> None:
        if self.durable is not None:
            call = effect.pending.call
            self.durable.keep(PendingCallback(effect.pending, self.bus.seq(call)))

    def _start_timer(self, key: str, at: datetime) -> None:
        """A timer fires once the service's clock says ``at`` has come: the event loop's own
        clock drifts from the time of day, and a timer a few milliseconds early would find a
        planned callback not yet due and leave it waiting for ever."""
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

        def fire() -> None:
            if (early := (at - self.clock()).total_seconds()) > 0:
                self._timers[key] = loop.call_later(early, fire)
                return
            self._timers.pop(key, None)
            self.feed(TimerFired(key))

        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(0.0, (at - self.clock()).total_seconds()), fire)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _ring(self, ring: Ring) -> None:
        try:
            await self.effects.connect(
                ring.channel, ring.operator, ring.ring_timeout, ring.transferred
            )
            self._last_failure = ""
        except ChannelGone:
            log.info("ringing %s for %s: the caller's channel is gone", ring.operator, ring.call)
            self.feed(HungUp(ring.call))
        except Uncertain as exc:
            # If it was carried out, the dial reports its end or its answer; if not, the
            # caller's next announcement (or the reconnection) finds them still waiting.
            log.warning("ringing %s for %s: %s; waiting to see", ring.operator, ring.call, exc)
            self.feed(RingUncertain(ring.call, ring.offer))
        except Exception as exc:
            if str(exc) != self._last_failure:  # once per cause, not once a second
                log.warning("could not ring %s for %s: %s", ring.operator, ring.call, exc)
            self._last_failure = str(exc)
            self.feed(RingFailed(ring.call, ring.offer))

    async def _move(self, move: Move) -> None:
        try:
            await self.effects.move(move.channel, move.number)
        except ChannelGone:
            self.feed(HungUp(move.call))
        except Exception as exc:
            # still with the operator who asked, perhaps: the queue offers them from now on
            log.warning("could not move %s after its transfer: %s", move.call, exc)
            if move.number:
                self.feed(CentreEnded(move.call, "NOT-MOVED"))
            else:
                self.feed(TransferReady(move.call))

    async def _call_operator(self, call: CallOperator) -> None:
        try:
            await self.effects.callback(
                call.call, call.operator, call.number, call.attempt, call.ring_timeout
            )
        except NoAnswer:
            self.feed(CallbackFailed(call.call, call.offer, no_answer=True))
        except Exception as exc:
            log.warning("could not ring %s for callback %s: %s", call.operator, call.call, exc)
            self.feed(CallbackFailed(call.call, call.offer, no_answer=False))

    async def _take_message(self, take: TakeMessage) -> None:
        try:
            await self.effects.take_message(take.channel)
        except ChannelGone:
            self.feed(MessageFailed(take.call, gone=True))
        except Exception as exc:
            log.warning("could not take a message from %s: %s; asking again soon", take.call, exc)
            self.feed(MessageFailed(take.call, gone=False))

    # -- what happened, as the rest of the service reports it --------------------------------
    def emit(self, call: str, fact: Fact) -> None:
        """Publish an event on a call that the queue does not decide (recordings, spying)."""
        self.bus.publish(CallEvent(call, 0, self.clock(), fact))

    def enqueue(
        self,
        call: str,
        channel: str,
        line: str,
        language: str,
        entered: datetime | None = None,
        caller: str = "",
        *,
        in_session: bool = False,
    ) -> Ring | None:
        """A caller starts waiting (or waits again after a restart, keeping ``entered``).
        ``in_session``: their FastAGI session is open and can end on a ring: a ring of them
        at once is then returned for it to carry out (the dialplan dials; no AMI action, no
        move of a channel in the middle of a session), and :meth:`not_rung` told if it could
        not."""
        self._in_session, self._handed = (call if in_session else None), None
        try:
            self.feed(CallerQueued(call, channel, line, language, caller, entered))
        finally:
            self._in_session = None
        handed, self._handed = self._handed, None
        return handed

    def not_rung(self, ring: Ring) -> None:
        """A ring handed to the caller's session (:meth:`enqueue`) was not carried out: the
        caller waits for the next free operator."""
        self.feed(RingFailed(ring.call, ring.offer))

    def add_callback(
        self, call: str, line: str, language: str, number: str, reason: str, caller: str = ""
    ) -> None:
        """A caller (calling from ``caller``) who is not on the line (after hours, say) is to
        be called back. Raises CallbackRefused (the number may not be called, or that caller
        asked too often) or OSError (it could not be stored: nothing is promised); the caller
        hears the promise only after this returned."""
        signal = LaterCallback(call, line, language, number, reason, caller)
        self._refused(call, self._asked(signal))

    def plan_callback(
        self,
        call: str,
        line: str,
        language: str,
        number: str,
        at: datetime,
        by: str,
        hotline_number: str,
    ) -> datetime:
        """An operator plans a callback of a call they wrapped up: ``number`` is called back
        on ``line`` from ``at`` (or the first moment from then that the line is open), ahead
        of those who came after. A new call (``call``) is logged as one to ``hotline_number``'s
        organisation. Returns when; raises CallbackRefused (the number may not be called, the
        line is not open within a week), NotActive, or OSError (not stored: not planned)."""
        if not self.may_act():  # (before its call is logged: refused, nothing happened)
            raise NotActive("this instance may not act now: ask again")
        found = self.deployment.lines[line]
        when = next_open(found, self.deployment.offices, max(at, self.clock()))
        if when is None:
            raise CallbackRefused(f"the line {line} is not open within a week of then")
        if why := self.rules.callbacks.refuses(number):
            raise CallbackRefused(why)
        self.emit(call, CallStarted(number, hotline_number, language=language))
        signal = LaterCallback(call, line, language, number, "planned", number, when, by)
        try:
            self._refused(call, self._asked(signal))
        except (CallbackRefused, OSError):
            self.emit(call, events.CallEnded("callback-failed", line))  # (its record ends)
            raise
        return when

    async def callbacks_kept(self) -> None:
        """Every callback promised so far on disk (synced in a thread): await it before the
        caller hears the promise."""
        if self.durable is not None:
            await self.durable.kept()

    def to_callback(
        self,
        call: str,
        number: str,
        reason: str = "asked",
        notification: str | None = None,
        recording: str | None = None,
        at: datetime | None = None,
    ) -> None:
        """The caller leaves the line but keeps their place: they will be called back (with
        ``at``: not before then). Stored on disk first: raises CallbackRefused or OSError,
        and then nothing changed; the caller hears the promise only after this returned."""
        if call in self.state.waiting:
            signal = CallbackAsked(call, number, reason, notification, recording, at)
            self._refused(call, self._asked(signal))

    def _asked(self, signal: CallbackAsked | LaterCallback) -> list[Effect]:
        try:
            return self.feed(signal)
        except NotActive as exc:  # the caller is told it was not taken, and waits on
            raise CallbackRefused(str(exc)) from None

    def call_back_now(self, now: CallBackNow, hotline_number: str) -> None:
        """``now.operator`` calls a notification back from their desk: their phone rings,
        then the number is dialled. Raises CallbackRefused (why) when they cannot now, or
        NotActive (this instance may not act now); a new call (``now.call``) is logged as one
        to ``hotline_number``'s organisation."""
        if not self.may_act():  # (before its call is logged: refused, nothing happened)
            raise NotActive("this instance may not act now: ask again")
        why = callbacks.refusal(self.state, self.rules, now, self.clock())
        if why is not None:
            raise CallbackRefused(why)
        if not any(cb.notification == now.notification for cb in self.state.callbacks.values()):
            self.emit(now.call, CallStarted(now.number, hotline_number, language=now.language))
        self.feed(now)

    def dial_refusal(self, number: str, organisation: str) -> tuple[str, datetime | None] | None:
        """Why ``organisation`` may not call ``number`` now (the callback patterns, its hourly
        cap, the number's), and from when it may (None: never); None when it may. The check
        of every outbound call: an escalation asks it before each call, then says
        :meth:`dialling`."""
        return capped(self.rules.callbacks, self.state.dialled, number, organisation, self.clock())

    def dialling(self, number: str, organisation: str) -> None:
        """An outbound call made outside the queue (an escalation's) to ``number`` for
        ``organisation``: it counts in the organisation's hourly cap."""
        self.feed(Dialled(number, organisation))

    def _refused(self, call: str, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Emit) and isinstance(effect.fact, events.CallbackRefused):
                raise CallbackRefused(effect.fact.reason)
        if call not in self.state.callbacks:
            raise CallbackRefused("not taken")  # (a call the queue no longer holds)

    def hold(self, call: str, held: bool) -> None:
        """Keep a waiting call out of dispatch while the caller answers a question."""
        self.feed(Held(call, held))

    def handled(
        self,
        notification: str,
        call: str,
        by: str,
        outcome: str | None = None,
        note: str | None = None,
    ) -> None:
        """An operator handled a detention notification: no more callbacks for it."""
        self.feed(NotificationHandled(notification, call, by, outcome, note))

    def erased(self, calls: Iterable[str]) -> int:
        """An erasure on request: the pending callbacks of ``calls`` are not made, and their
        numbers are gone from disk (the callbacks' file compacted). How many were pending."""
        pending = [call for call in calls if call in self.callbacks]
        for call in pending:
            self.feed(CallerErased(call))
        if self.durable is not None:
            self.durable.compact()
        return len(pending)

    def reconfigure(self, deployment: Deployment) -> None:
        """The deployment was reloaded: its lines, operators, hours and timings from now on,
        what a call still needs of the old ones kept until it is over
        (:func:`routing.reconfigure.retained`); the callers waiting are offered again under
        them, in their order. A standby takes the operators only: it rebuilds the queue as
        it takes over."""
        self.deployment = deployment
        self.rules = reconfigure.retained(self.state, self.rules, rules_of(deployment))
        if self.may_act():
            self.feed(Reconfigured())
            return
        known = self.state.operators
        self.state = replace(
            self.state,
            operators=MappingProxyType(
                {op: known.get(op) or OperatorState(op) for op in self.rules.operators}
            ),
        )

    async def hand_over(self, to_fallback: Callable[[str], Awaitable[None]]) -> int:
        """The service is stopping: every caller waiting on a channel goes to the fallback
        queue (``to_fallback(channel)``) and their record ends as ``handed-over``; callbacks
        stay on disk for the next start. Returns how many were handed over."""
        self.feed(Stopping())
        handed = 0
        for call in list(self.state.waiting):
            channel = self.state.channels.get(call)
            if channel is None:
                continue
            # a caller in a dialogue (a callback number, a message) goes too: what they said
            # so far is kept by that dialogue, and a person answers them now
            try:
                await asyncio.wait_for(to_fallback(channel), 3)
            except Exception as exc:  # the dialplan's own fallback still takes them
                log.warning("call %s not handed over (%s); its next step falls back", call, exc)
                continue
            self.feed(LetGo(call, "handed-over"))
            handed += 1
        return handed

    def let_go(self, call: str, outcome: Ending, error: str | None = None) -> None:
        """The caller leaves the service for the dialplan's fallback queue (``handed-over`` at
        a stop, ``failed`` when a fault of ours sends them): their record ends here."""
        self.feed(LetGo(call, outcome, error))

    def guarded(self, call: str, started: CallStarted) -> None:
        """The guard moved the caller to the fallback queue while the service was not
        answering (dialplan [hotline-guarded]): let them go, so nobody is routed twice. A call
        that arrived while the service hung is logged from ``started`` (caller, number,
        channel, sip_call_id)."""
        if not self.bus.under_way(call):
            caller = self.deployment.caller(started.caller, started.number)
            self.emit(call, replace(started, caller=caller))
        self._guarded[call] = None
        while len(self._guarded) > GUARDED_KEPT:
            del self._guarded[next(iter(self._guarded))]
        self.feed(Guarded(call))

    def redirect_lost(self, call: str) -> bool:
        """The caller is still waiting though an unanswered Redirect may have taken them to
        an operator: it was not carried out (back to the head of the queue). True if so."""
        offered = self.state.offers.get(call)
        if offered is None or not offered.uncertain:
            return False
        self.feed(RedirectLost(call))
        return True

    def answered(self, call: str, operator: str, peer: str = "") -> None:
        """The operator picked up (Asterisk's pre-bridge handler said so, on the channel whose
        uniqueid is ``peer``)."""
        self.feed(RingAnswered(call, operator, peer))

    def ring_ended(self, call: str, operator: str, status: str) -> str:
        """The dial of ``operator`` returned with the caller still on the line: what they do
        next, ``done`` (they talked) or ``wait`` (back to the head of the queue)."""
        self.feed(RingEnded(call, operator, status))
        # back in the queue (or already offered to someone else): the caller waits on
        going_on = call in self.state.waiting or call in self.state.offers
        return "wait" if going_on else "done"

    def hung_up(self, call: str, by: str = "") -> bool:
        """The caller's channel is gone (its hangup handler ran; ``by``: the SIP endpoint
        that hung up, where Asterisk says). Returns whether this instance knew the call (if
        not, it began before a restart: its record is closed by the look for calls that
        ended unseen)."""
        known = (
            self.waits(call)
            or call in self.talks
            or call in self.state.away
            or self.bus.under_way(call)
        )
        self.feed(HungUp(call, by))
        return known

    def callback_answered(self, call: str, operator: str) -> DialCaller | None:
        """The operator picked up a callback: whom to call now (None: not theirs, or this
        instance may not act now: their leg ends, and the callback is tried again)."""
        try:
            effects = self.feed(CallbackPickedUp(call, operator))
        except NotActive as exc:
            log.warning("callback of %s picked up by %s: not made now (%s)", call, operator, exc)
            return None
        for effect in effects:
            if isinstance(effect, DialCaller):
                return effect
        return None

    def callback_reached(self, call: str) -> None:
        """The caller called back picked up: the conversation starts."""
        self.feed(CallbackReached(call))

    def callback_ended(self, call: str, status: str) -> None:
        """The operator's leg of a callback is over (their channel's hangup handler)."""
        self.feed(CallbackEnded(call, status))

    def operator_event(self, operator: str, event: Event) -> OperatorState:
        """Apply an operator's event (raises OperatorError when it does not apply)."""
        self.feed(OperatorChanged(operator, event))
        return self.state.operators[operator]

    async def kept(self) -> None:
        """Wait until the operators' states are on disk (written in a thread): an operator
        is told their change only once a restart would keep it."""
        if self.durable is not None:
            await self.durable.flush()

    def reachable(self, operator: str, reachable: bool, in_use: bool = False) -> None:
        """The phone's device state changed: reachable or not, busy with a call or not."""
        if operator in self.state.operators:
            self.feed(DeviceChanged(operator, reachable, in_use))

    def restore(self, shared: Restore | None = None) -> int:
        """At start (or on taking over: ``shared``, read from the database): operators logged
        in (or paused) as they were, and the pending callbacks back in their original order
        and retry schedule. Returns how many callbacks."""
        if shared is None:
            if self.durable is None:
                return 0
            kept = list(self.durable.callbacks.values())
            self.bus.resume({p.pending.call: p.seq for p in kept})
            shared = Restore(
                self.durable.presence(),
                tuple(p.pending for p in kept),
                self.durable.shelters(),
            )
        self.feed(shared)
        if shared.callbacks:
            log.info("%d pending callback(s) restored", len(shared.callbacks))
        return len(shared.callbacks)

    def adopt(
        self,
        callers: Sequence[CallerQueued],
        talking: Sequence[tuple[CallerQueued, str]] = (),
        ringing: Sequence[tuple[CallerQueued, str]] = (),
    ) -> int:
        """Callers found in Asterisk on taking over: those waiting queued in their first
        order, those talking to an operator (with whom) going on, those ringing one offered
        to them (those already known are left as they are). Returns how many were new here."""
        known = {*self.state.waiting, *self.talks}

        def read(c: CallerQueued) -> CallerQueued:
            # (their channel keeps the carrier's form: counted as the log keeps it, E.164)
            return replace(c, caller=self.deployment.number(c.caller, line=c.line))

        new = [read(c) for c in callers if c.call not in known]
        talks = [(read(c), op) for c, op in talking if c.call not in known]
        rings = [(read(c), op) for c, op in ringing if c.call not in known]
        if new or talks or rings:
            self.feed(Adopted(tuple(new), tuple(talks), tuple(rings)))
            log.info(
                "taken over from Asterisk: %d caller(s) waiting, %d talking, %d ringing",
                len(new),
                len(talks),
                len(rings),
            )
        return len(new) + len(talks) + len(rings)

    def reset(self) -> None:
        """This instance stood down: it forgets the queue (the active one has it now), and
        rebuilds it from the database and Asterisk if it takes over again."""
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self.state = Queue.empty(self.rules)
        self.witnessing = False
        if self.held or self.held_effects:  # the instance taking over reads Asterisk afresh
            log.warning(
                "standing down: %d signal(s) seen while the lease was in doubt left to the "
                "active instance, which reads Asterisk as it takes over",
                len(self.held),
            )
        self.held, self.held_effects = [], []

    # -- transfers ---------------------------------------------------------------------------
    def transfer(self, call: str, target: Target, by: str, left: bool = False) -> None:
        """Send the caller ``call`` to ``target`` (blind), at ``by``'s request. Raises
        TransferRefused, the call unchanged, when it cannot go there now; ``left``: the
        operator's phone already left the call (a transfer made on the phone), and then a
        refused transfer brings the caller back to the head of their queue instead."""
        why = transfers.refusal(self.state, self.rules, call, target)
        if why is not None and not left:
            raise TransferRefused(why)
        self.feed(TransferAsked(call, target, by, left))

    def transfer_ready(self, call: str) -> None:
        """The transferred caller heard that they are being connected."""
        self.feed(TransferReady(call))

    def phone(self, state: PhoneState) -> None:
        """What Asterisk says of an operator's phone now."""
        self.reachable(state.operator, state.reachable, state.in_use)

    def transferred(self, transfer: Transferred) -> None:
        """An attended transfer made on the phones: whom the caller talks to now (a
        colleague's phone, or the code keyed after *2 in an organisation's context; when
        Asterisk names no target, the one the operator was talking to, by caller id)."""
        call = transfer.call
        offered = self.talks.get(call)
        log.info(
            "attended transfer of %s from %s to %s", call, transfer.transferer, transfer.target
        )
        if offered is None:
            return  # not a caller of ours (a callback's leg, a consultation)
        found = self.deployment.target(transfer.target, transfer.organisation) or (
            self.deployment.target(transfer.consulted)
        )
        if found is None or found.kind != "operator":
            log.warning("call %s transferred to %s, which is no operator: ignored", call, transfer)
            return
        self.transfer_joined(call, found.name, offered.operator)

    def transfer_joined(self, call: str, operator: str, by: str) -> None:
        """The phones completed an attended transfer: ``operator`` talks to the caller now."""
        self.feed(TransferJoined(call, operator, by))

    def to_centre(self, call: str, channel: str, centre: Target) -> None:
        """The caller chose a centre in the menus: the dialplan dials it now."""
        self.feed(ToCentre(call, channel, centre.name, centre.number))

    def centre_answered(self, call: str) -> None:
        self.feed(CentreAnswered(call))

    def centre_ended(self, call: str, status: str) -> str:
        """The dial of a centre returned with the caller on the line: ``wait`` (back in their
        queue: the centre did not answer), ``done`` (they talked) or ``unanswered`` (they
        came from the menus and no one answered)."""
        self.feed(CentreEnded(call, status))
        if call in self.state.waiting:
            return "wait"
        return "done" if status == "ANSWER" else "unanswered"

    def reconcile(self, channels: Mapping[str, str]) -> None:
        """With Asterisk's channels now (uniqueid -> dialplan context), after (re)connecting:
        what ended or did not happen while the service could not see it."""
        self.feed(Reconciled(channels))
