"""The queue's steps for callbacks: asked for, rung for, picked up, ended, failed, handled
with their notification, and brought back after a restart."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from agents.state import Answered, Ended, LogIn, Missed, Pause, State, Withdrawn
from routing import events as ev
from routing import transfers
from routing.dispatch import Waiting
from routing.outbound import capped
from routing.queue import Callback, Offered, Queue, Rules
from routing.signals import (
    CallbackAsked,
    CallbackEnded,
    CallbackFailed,
    CallBackNow,
    CallbackPickedUp,
    CallbackReached,
    CallerErased,
    DialCaller,
    Dialled,
    Forget,
    LaterCallback,
    NotificationHandled,
    Reconciled,
    Restore,
    Warn,
)
from routing.work import Work


def later_callback(w: Work, s: LaterCallback) -> None:
    why = w.rules.callbacks.refuses(s.number) or w.asking(s.call, s.line, s.caller)
    if why is not None:
        w.emit(s.call, ev.CallbackRefused(s.number, s.line, why))
        return
    priority = w.rules.lines[s.line].priority
    planned = s.at if s.at is not None and s.at > w.now else None
    waiting = Waiting(
        s.call, s.line, s.language, priority, w.now, w.next_seq, callback=True, not_before=planned
    )
    w.next_seq += 1
    callback = Callback(s.number, reason=s.reason, by=s.by)
    w.keep(waiting, callback, must=True, next_try=planned)
    if planned is not None:
        w.later(f"redial:{s.call}", planned)
    w.waiting[s.call] = waiting
    w.callbacks[s.call] = callback
    w.emit(s.call, ev.CallQueued(s.line, s.language, priority))
    at = planned.isoformat() if planned is not None else None
    w.emit(s.call, ev.CallbackRequested(s.number, s.line, s.reason, at=at, by=s.by))


def refusal(queue: Queue, rules: Rules, s: CallBackNow, now: datetime) -> str | None:
    """Why ``s.operator`` cannot call the notification back now (None: they can)."""
    state = queue.operators.get(s.operator)
    if state is None or s.operator not in rules.operators:
        return f"there is no operator {s.operator!r}"
    if s.line not in rules.operators[s.operator].lines:
        return f"{s.operator} does not serve the line {s.line!r}"
    for call, callback in queue.callbacks.items():
        offered = queue.offers.get(call)
        if callback.notification == s.notification and offered is not None:
            return f"{offered.operator} is calling it back now"
    if not state.free:
        now_ = "phone unreachable" if not state.reachable else state.state.value
        now_ = "phone in use" if state.reachable and state.in_use else now_
        return f"{s.operator} cannot call now ({now_})"
    owner = rules.owners.get(s.line, "")
    refused = capped(rules.callbacks, queue.dialled, s.number, owner, now)
    if refused is not None:
        why, until = refused
        return f"{why}; it may be called from {until.isoformat()}" if until else why
    return None


def now(w: Work, s: CallBackNow) -> None:
    """The operator's phone rings for the notification's callback, at once."""
    if refusal(w.so_far(), w.rules, s, w.now) is not None:
        return  # (the switchboard asked first: things changed since)
    queued = next((c for c, cb in w.callbacks.items() if cb.notification == s.notification), None)
    if queued is not None and queued in w.waiting:  # it was waiting: it goes now
        w.cancel(f"redial:{queued}", f"retry:{queued}")
        w.waiting[queued] = replace(w.waiting[queued], not_before=None)
        w.offer(queued, s.operator)
        return
    priority = w.rules.lines[s.line].priority
    waiting = Waiting(s.call, s.line, s.language, priority, w.now, w.next_seq, callback=True)
    w.next_seq += 1
    callback = Callback(s.number, notification=s.notification, reason="desk", once=True)
    w.callbacks[s.call] = callback
    w.waiting[s.call] = waiting
    w.emit(s.call, ev.CallbackRequested(s.number, s.line, "desk", s.notification))
    w.offer(s.call, s.operator)


def asked(w: Work, s: CallbackAsked) -> None:
    if s.call in w.waiting:
        callback = Callback(s.number, 0, s.notification, s.recording, s.reason)
        w.promise(s.call, callback, True, at=s.at)


def picked_up(w: Work, s: CallbackPickedUp) -> None:
    offered = w.current(s.call, operator=s.operator)
    callback = w.callbacks.get(s.call)
    if offered is None or callback is None:
        return
    w.operator(s.operator, Answered(s.call))
    w.dial(callback.number, w.organisation(offered.waiting.line))  # the number is dialled now
    w.effects.append(DialCaller(s.call, callback.number, callback.recording))


def reached(w: Work, s: CallbackReached) -> None:
    offered = w.offers.get(s.call)
    if offered is not None:
        w.offers[s.call] = replace(offered, answered=w.now)
        w.emit(
            s.call,
            ev.CallAnswered(
                offered.operator, w.seconds_since(offered.waiting.entered), callback=True
            ),
        )


def ended(w: Work, s: CallbackEnded) -> None:
    offered = w.offers.get(s.call)
    callback = w.callbacks.get(s.call)
    if offered is None or callback is None:
        return
    del w.offers[s.call]
    callback = replace(callback, attempts=callback.attempts + 1)
    w.callbacks[s.call] = callback
    if offered.answered is not None:
        del w.callbacks[s.call]
        w.effects.append(Forget(s.call))
        w.finish(s.call, offered, "called-back")
        return
    # the operator was on, the caller did not pick up
    w.operator(offered.operator, Ended(s.call))
    w.wrap_up(offered.operator)
    if callback.once:
        w.emit(s.call, ev.CallbackFailed(callback.attempts, s.status, callback.number))
        w.give_up(s.call, offered.waiting)
    else:
        w.retry(s.call, offered.waiting, s.status)


def failed(w: Work, s: CallbackFailed) -> None:
    offered = w.current(s.call, s.offer)
    if offered is None or w.operators[offered.operator].state is State.ON_CALL:
        return  # (the operator picked up: no failure)
    callback = w.callbacks[s.call]
    del w.offers[s.call]
    if callback.once:  # the operator's own call, not made: nobody else makes it
        w.operator(offered.operator, Withdrawn(s.call))
        status = "OPERATOR-NOANSWER" if s.no_answer else "OPERATOR-UNREACHABLE"
        w.emit(s.call, ev.CallbackFailed(0, status, callback.number))
        w.give_up(s.call, offered.waiting)
        return
    w.keep(offered.waiting, callback, must=False)  # the caller was not dialled
    if s.no_answer:
        w.emit(s.call, ev.CallMissed(offered.operator, "NOANSWER"))
        misses = w.rules.of_operator(offered.operator).pause_after_misses
        w.operator(offered.operator, Missed(s.call, misses))
        w.waiting[s.call] = offered.waiting
    else:
        w.operator(offered.operator, Withdrawn(s.call))
        w.pause(offered.waiting)


def handled(w: Work, s: NotificationHandled) -> None:
    w.emit(s.call, ev.NotificationHandled(s.ref, s.by, s.outcome, s.note))
    for call, callback in list(w.callbacks.items()):
        if callback.notification != s.ref:
            continue
        w.callbacks[call] = replace(callback, notification=None)
        if call in w.offers:
            continue  # being called back right now: its end decides
        w.waiting.pop(call, None)
        del w.callbacks[call]
        w.cancel(f"redial:{call}", f"retry:{call}")
        w.effects.append(Forget(call))
        w.end(call, ev.CallEnded("handled", notification=s.ref))


def erased(w: Work, s: CallerErased) -> None:
    """An erasure: the pending callback is dropped, from the queue and from disk."""
    call = s.call
    if call not in w.callbacks or call in w.offers:
        return
    w.waiting.pop(call, None)
    del w.callbacks[call]
    w.cancel(f"redial:{call}", f"retry:{call}")
    w.effects.append(Forget(call))
    w.end(call, ev.CallEnded("handled", reason="erased"))


def restore(w: Work, s: Restore) -> None:
    for operator, (state, reason) in s.presence.items():
        if operator in w.operators:
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
        w.callbacks[p.call] = Callback(
            p.number, p.attempts, p.notification, p.recording, p.reason, p.once, p.by
        )
        w.emit(
            p.call,
            ev.CallbackRestored(
                p.attempts, p.dialling, p.next_try.isoformat() if p.next_try else None
            ),
        )
        if p.dialling is not None:
            # it was being made when the service stopped: the conversation may go on in
            # Asterisk, whose hangup handler reports its end; see _reconciled
            w.offers[p.call] = Offered(p.dialling, waiting, w.next_offer, restored=p.attempts + 1)
            w.next_offer += 1
        elif p.next_try is not None and p.next_try > w.now:
            w.waiting[p.call] = replace(waiting, not_before=p.next_try)
            w.later(f"redial:{p.call}", p.next_try)
        else:
            w.waiting[p.call] = waiting


def dialled(w: Work, s: Dialled) -> None:
    """An outbound call made outside the queue (an escalation's) counts in the caps."""
    w.dial(s.number, s.organisation)


def reconciled(w: Work, s: Reconciled) -> None:
    """With Asterisk's channels (uniqueid -> context), after (re)connecting: a callback under
    way at a restart whose channel is gone ended unseen (an attempt that did not reach the
    caller: a second call beats a missed one); a caller whose unanswered Redirect was not
    carried out (not ringing an operator) goes back to the head of the queue now; a caller
    transferred to a centre whose channel is gone hung up."""
    for call in list(w.away):
        if call not in s.channels:  # a caller at a centre who hung up unseen
            transfers.hung_up(w, call)
    for call, offered in list(w.offers.items()):
        if offered.restored and f"callback-{call}-{offered.restored}" not in s.channels:
            ended(w, CallbackEnded(call, "UNKNOWN"))
        elif offered.uncertain and s.channels.get(call) != "hotline-connect":
            w.redirect_lost(call)
