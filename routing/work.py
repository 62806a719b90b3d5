"""One step's work on the queue: the changes it makes (its mappings copied when first
written, so the queue it started from stays as it was), the effects it returns, and the
dispatcher and the callbacks' bookkeeping the step's handlers share."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from agents.state import (
    SHELTER,
    Ended,
    Event,
    LogOut,
    OperatorState,
    Pause,
    State,
    Withdrawn,
    transition,
)
from agents.state import Offer as Offering
from routing import events as ev
from routing.dispatch import Candidate, Waiting, assign
from routing.draft import Draft
from routing.outbound import HOUR, Dial, Request, capped, recent, too_many_requests
from routing.queue import Callback, Offered, Queue, Rules
from routing.signals import (
    CallOperator,
    CancelTimer,
    Effect,
    Emit,
    Forget,
    Keep,
    Pending,
    Ring,
    StartTimer,
)

#: Handle times kept for the wait estimates.
HANDLE_TIMES = 50
#: The timers of a call: its overflow, its message offer, a ring tried again, a callback's
#: next try.
CALL_TIMERS = ("overflow", "message", "retry", "redial")


class Work:
    """The queue being changed by one step. Each of its mappings is a :class:`Draft` of the
    queue's, by the same name: read it, write it; the queue the step started from (``before``)
    stays as it was."""

    def __init__(self, queue: Queue, now: datetime, rules: Rules) -> None:
        self.before = queue
        self.now = now
        self.rules = rules
        self.effects: list[Effect] = []
        self.operators = Draft(queue.operators)
        self.waiting = Draft(queue.waiting)
        self.offers = Draft(queue.offers)
        self.channels = Draft(queue.channels)
        self.callers = Draft(queue.callers)
        self.callbacks = Draft(queue.callbacks)
        self.away = Draft(queue.away)
        self.timers = Draft(queue.timers)
        self.shelters = Draft(queue.shelters)
        self.dialled = queue.dialled
        self.requests = queue.requests
        self.handle_times = queue.handle_times
        self.next_seq = queue.next_seq
        self.next_offer = queue.next_offer
        self.stopping = queue.stopping

    def done(self) -> tuple[Queue, list[Effect]]:
        """The queue after the step, and what to do about it. The work is over: nothing is to
        be written after this (the queue would show it)."""
        return self.so_far(), self.effects

    def so_far(self) -> Queue:
        """The queue as the step has changed it so far, to read at once (its mappings are
        views of the step's: they show what the step writes after)."""
        # every field named (a new one of Queue's goes here too): faster than replace(), which
        # finds them out on every step
        return Queue(
            operators=self.operators.view(),
            waiting=self.waiting.view(),
            offers=self.offers.view(),
            channels=self.channels.view(),
            callers=self.callers.view(),
            callbacks=self.callbacks.view(),
            away=self.away.view(),
            timers=self.timers.view(),
            dialled=self.dialled,
            requests=self.requests,
            handle_times=self.handle_times,
            next_seq=self.next_seq,
            next_offer=self.next_offer,
            stopping=self.stopping,
            shelters=self.shelters.view(),
        )

    def holds(self, call: str) -> bool:
        """Whether the call is the queue's already: waiting, offered, or away at a centre."""
        return call in self.waiting or call in self.offers or call in self.away

    # shorthands
    def emit(self, call: str, fact: ev.Fact) -> None:
        self.effects.append(Emit(call, fact))

    def later(self, key: str, at: datetime) -> None:
        self.timers[key] = at
        self.effects.append(StartTimer(key, at))

    def cancel(self, *keys: str) -> None:
        for key in keys:
            if key in self.timers:
                del self.timers[key]
                self.effects.append(CancelTimer(key))

    def seconds_since(self, then: datetime) -> float:
        return round((self.now - then).total_seconds(), 3)

    def operator(self, operator: str, event: Event) -> OperatorState:
        """Apply an operator's event; say so when their state shows a change."""
        before = self.operators[operator]
        after = transition(before, event, self.now)
        office = self.rules.operators[operator].office
        if after.state is State.AVAILABLE and office in self.shelters:
            # free again (a call over, a pause of their own ended) while their office is in
            # shelter: they are paused for it
            after = transition(after, Pause(SHELTER), self.now)
        if after.state is State.AVAILABLE and operator in self.rules.leaving:
            after = transition(after, LogOut(), self.now)  # taken out of the config
        self.operators[operator] = after
        if before.state is State.WRAP_UP and after.state is not State.WRAP_UP:
            self.cancel(f"wrap:{operator}")
        if _shown(after) != _shown(before):
            self.emit(
                "",
                ev.OperatorChanged(
                    operator,
                    after.state.value,
                    after.reachable,
                    in_use=after.in_use,
                    reason=after.pause_reason,
                    misses=after.misses,
                ),
            )
        return after

    def keep(
        self,
        waiting: Waiting,
        callback: Callback,
        must: bool,
        next_try: datetime | None = None,
        dialling: str | None = None,
    ) -> None:
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
            once=callback.once,
            by=callback.by,
            next_try=next_try,
            dialling=dialling,
        )
        self.effects.append(Keep(pending, must))

    def end(self, call: str, ended: ev.CallEnded) -> None:
        """The call's record ends: it is forgotten here, and its timers with it."""
        self.channels.pop(call, None)
        self.callers.pop(call, None)
        self.cancel(*(f"{kind}:{call}" for kind in CALL_TIMERS))
        self.emit(call, ended)

    def back(self, waiting: Waiting) -> None:
        """A call back in the queue, in its old place (its number), its message offer armed."""
        self.waiting[waiting.call] = waiting
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
        rules, operators = self.rules, self.operators
        free = [
            Candidate(
                op.id,
                rules.operators[op.id].office,
                frozenset(rules.operators[op.id].lines),
                frozenset(rules.operators[op.id].languages),
                op.idle_since or datetime.min.replace(tzinfo=self.now.tzinfo),
            )
            for op in operators.values()
            if op.free and op.id not in rules.leaving
        ]
        waiting = self.waiting
        if not free or not waiting:
            return False
        pairs = assign(waiting.values(), free, rules.lines, self.now, self.shelters)
        again = False
        for call, operator in pairs:
            again |= self.offer(call, operator)
        return again

    def offer(self, call: str, operator: str) -> bool:
        """Ring ``operator`` for ``call``; True when that freed someone at once (dispatch
        again)."""
        waiting = self.waiting.pop(call)
        offered = Offered(operator, waiting, self.next_offer)
        self.next_offer += 1
        self.offers[call] = offered
        self.operator(operator, Offering(call))
        self.emit(call, ev.CallOffered(operator))
        if waiting.callback:
            return self._ring_back(call, offered)
        channel = self.channels.get(call)
        if channel is None:  # gone meanwhile (the caller's hangup is on its way)
            self.abandoned(call, offered)
            return True
        timeout = self.rules.of_line(waiting.line).ring_timeout
        self.effects.append(Ring(call, channel, operator, offered.n, timeout))
        return False

    def organisation(self, line: str) -> str:
        """Whose a line is (whose caps its callbacks count in)."""
        return self.rules.owners.get(line, "")

    def dial(self, number: str, organisation: str) -> None:
        """An outbound call is made now: it counts in the hourly caps."""
        self.dialled = (*recent(self.dialled, self.now), Dial(self.now, number, organisation))

    def asking(self, call: str, line: str, caller: str) -> str | None:
        """A callback is asked for on ``call``: why not (too many from that calling number),
        or None, and then it counts."""
        organisation = self.organisation(line)
        rules = self.rules.callbacks
        why = too_many_requests(rules, self.requests, caller, organisation, self.now)
        if why is None:
            kept = tuple(r for r in self.requests if self.now - r.at < HOUR)
            self.requests = (*kept, Request(self.now, caller, organisation))
        return why

    def _ring_back(self, call: str, offered: Offered) -> bool:
        callback = self.callbacks[call]
        self.dialled = recent(self.dialled, self.now)
        organisation = self.organisation(offered.waiting.line)
        # the callbacks whose operator's phone rings now are dialled once they pick up: they
        # count already, or a cap would let as many more through as phones ring at once
        ringing = [
            Dial(self.now, self.callbacks[c].number, self.organisation(o.waiting.line))
            for c, o in self.offers.items()
            if c != call
            and o.waiting.callback
            and self.operators[o.operator].state is State.RINGING
        ]
        policy = self.rules.callbacks
        refused = capped(policy, (*self.dialled, *ringing), callback.number, organisation, self.now)
        if ringing and refused is not None and refused[1] is not None:
            if capped(policy, self.dialled, callback.number, organisation, self.now) is None:
                # (only those ringing fill the cap: tried again once they have rung)
                retry = self.rules.of_line(offered.waiting.line).callback_retry
                later = self.now + timedelta(seconds=retry)
                refused = (refused[0], later)
        if refused is None:
            self.keep(offered.waiting, callback, must=False, dialling=offered.operator)
            self.effects.append(
                CallOperator(
                    call,
                    offered.operator,
                    callback.number,
                    callback.attempts + 1,
                    offered.n,
                    self.rules.of_line(offered.waiting.line).ring_timeout,
                )
            )
            return False
        # not now (the hourly caps), or never (the patterns changed since)
        why, until = refused
        del self.offers[call]
        self.operator(offered.operator, Withdrawn(call))
        self.emit(
            call,
            ev.CallbackRefused(
                callback.number,
                offered.waiting.line,
                why,
                retry_at=until.isoformat() if until is not None else None,
            ),
        )
        if until is not None:
            self.park(offered.waiting, until)
        else:
            self.give_up(call, offered.waiting)
        return True

    # -- callbacks ---------------------------------------------------------------------------
    def park(self, waiting: Waiting, until: datetime) -> None:
        """A callback waits in the queue for its next try (stored: a restart keeps it)."""
        self.keep(waiting, self.callbacks[waiting.call], must=False, next_try=until)
        self.waiting[waiting.call] = replace(waiting, not_before=until)
        self.later(f"redial:{waiting.call}", until)

    def pause(self, waiting: Waiting) -> None:
        """Back in the queue, but offered again only after a while (Asterisk was away)."""
        until = self.now + timedelta(seconds=self.rules.ring_retry)
        self.waiting[waiting.call] = replace(waiting, not_before=until)
        self.later(f"retry:{waiting.call}", until)

    def give_up(self, call: str, waiting: Waiting) -> None:
        callback = self.callbacks.pop(call)
        self.effects.append(Forget(call))
        self.end(call, ev.CallEnded("callback-failed", waiting.line, attempts=callback.attempts))

    def retry(self, call: str, waiting: Waiting, status: str) -> None:
        callback = self.callbacks[call]
        self.emit(call, ev.CallbackFailed(callback.attempts, status, callback.number))
        timings = self.rules.of_line(waiting.line)
        if callback.notification is None and callback.attempts >= timings.callback_attempts:
            self.give_up(call, waiting)
        else:
            self.park(waiting, self.now + timedelta(seconds=timings.callback_retry))

    def promise(
        self, call: str, callback: Callback, must: bool, at: datetime | None = None
    ) -> bool:
        """The caller leaves the line but keeps their place: they will be called back (False:
        the number may not be called; said on the call); with ``at``, not before then (a
        planned callback: offered at its time, ahead of those who came after them)."""
        waiting = self.waiting[call]
        why = self.rules.callbacks.refuses(callback.number) or self.asking(
            call, waiting.line, self.callers.get(call, "")
        )
        if why is not None:
            self.emit(call, ev.CallbackRefused(callback.number, waiting.line, why))
            return False
        planned = at if at is not None and at > self.now else None
        promised = replace(waiting, callback=True, held=False, not_before=planned)
        # before all else: stored, or nothing happens
        self.keep(promised, callback, must, next_try=planned)
        self.cancel(f"message:{call}")
        if planned is not None:
            self.later(f"redial:{call}", planned)
        self.waiting[call] = promised
        self.channels.pop(call, None)
        self.callbacks[call] = callback
        self.emit(
            call,
            ev.CallbackRequested(
                callback.number,
                waiting.line,
                callback.reason,
                callback.notification,
                planned.isoformat() if planned else None,
            ),
        )
        return True

    def finish(
        self, call: str, offered: Offered, outcome: ev.Ending, by: str | None = None
    ) -> None:
        """The conversation is over (``by``: who hung up, where known): its times logged, the
        operator wraps up."""
        assert offered.answered is not None
        handle = self.leg_over(call, offered)
        waiting = offered.waiting
        wait = (offered.answered - waiting.entered).total_seconds() - waiting.talked
        self.end(
            call,
            ev.CallEnded(
                outcome,
                waiting.line,
                offered.operator,
                wait=round(wait, 3),
                talk=round(handle + waiting.talked, 3),
                by=by,
            ),
        )

    def leg_over(self, call: str, offered: Offered) -> float:
        """The operator's part of an answered call is over (the call itself may go on,
        transferred): they wrap up. Returns the seconds they talked."""
        assert offered.answered is not None
        handle = (self.now - offered.answered).total_seconds()
        self.handle_times = (*self.handle_times, handle)[-HANDLE_TIMES:]
        self.operator(offered.operator, Ended(call))
        self.wrap_up(offered.operator)
        return handle

    def redirect_lost(self, call: str) -> None:
        """The caller is seen still waiting: their uncertain Redirect was not carried out."""
        offered = self.offers.get(call)
        if offered is None or not offered.uncertain:
            return
        del self.offers[call]
        self.emit(call, ev.CallMissed(offered.operator, "NOT-REDIRECTED"))
        self.operator(offered.operator, Withdrawn(call))
        self.waiting[call] = offered.waiting

    def abandoned(self, call: str, offered: Offered) -> None:
        """The caller hung up while an operator's phone rang for them: called back on a line
        that calls such callers back, else their record ends."""
        del self.offers[call]
        self.operator(offered.operator, Withdrawn(call))
        if self.call_back_instead(call, offered.waiting):
            return
        self.end(
            call,
            ev.CallEnded(
                "abandoned",
                offered.waiting.line,
                wait=self.seconds_since(offered.waiting.entered),
                while_ringing=offered.operator,
            ),
        )

    def call_back_instead(self, call: str, waiting: Waiting) -> bool:
        """The caller left before a person answered them (waiting, ringing an operator,
        hearing a prompt, transferred): on a line that calls such callers back
        (``callback_abandoned``) they keep their place as a callback to the number they
        called from. False when the line does not, or that number may not be called: then
        the caller is nowhere in the queue any more, and their record is the caller's to end."""
        if not self.rules.lines[waiting.line].callback_abandoned:
            self.waiting.pop(call, None)
            return False
        self.waiting[call] = replace(waiting, held=False)  # their place, for the promise
        number = self.callers.get(call, "")
        if self.promise(call, Callback(number, reason="abandoned"), must=False):
            return True
        del self.waiting[call]
        return False

    def wrap_up(self, operator: str) -> None:
        """The operator's wrap-up begins: as long as their organisation's."""
        wrap_up = self.rules.of_operator(operator).wrap_up
        self.later(f"wrap:{operator}", self.now + timedelta(seconds=wrap_up))

    def current(
        self, call: str, n: int | None = None, operator: str | None = None
    ) -> Offered | None:
        """The offer of ``call``, if it is still the one named (by number or operator)."""
        offered = self.offers.get(call)
        if offered is None or (n is not None and offered.n != n):
            return None
        if operator is not None and offered.operator != operator:
            return None
        return offered


def _shown(operator: OperatorState) -> tuple[State, bool, bool, str | None]:
    """What of an operator makes an ``operator.state`` event when it changes (their misses,
    call or idle time alone do not)."""
    return operator.state, operator.reachable, operator.in_use, operator.pause_reason
