"""The queue's steps for callbacks: asked for, rung for, picked up, ended, failed, handled
with their notification, and brought back after a restart."""

from __future__ import annotations

from dataclasses import replace

from agents.state import Answered, Ended, LogIn, Missed, Pause, State, Withdrawn
from routing import events as ev
from routing.dispatch import Waiting
from routing.queue import Callback, Offered
from routing.signals import (
    CallbackAsked,
    CallbackEnded,
    CallbackFailed,
    CallbackPickedUp,
    CallbackReached,
    DialCaller,
    Forget,
    LaterCallback,
    NotificationHandled,
    Reconciled,
    Restore,
    Warn,
)
from routing.work import Work


def later_callback(w: Work, s: LaterCallback) -> None:
    why = w.rules.callbacks.refuses(s.number)
    if why is not None:
        w.emit(s.call, ev.CallbackRefused(s.number, s.line, why))
        return
    priority = w.rules.lines[s.line].priority
    waiting = Waiting(s.call, s.line, s.language, priority, w.now, w.next_seq, callback=True)
    w.next_seq += 1
    callback = Callback(s.number, reason=s.reason)
    w.keep(waiting, callback, must=True)
    w.mut("waiting")[s.call] = waiting
    w.mut("callbacks")[s.call] = callback
    w.emit(s.call, ev.CallQueued(s.line, s.language, priority))
    w.emit(s.call, ev.CallbackRequested(s.number, s.line, s.reason))


def asked(w: Work, s: CallbackAsked) -> None:
    if s.call in w.get("waiting"):
        w.promise(s.call, Callback(s.number, 0, s.notification, s.recording, s.reason), True)


def picked_up(w: Work, s: CallbackPickedUp) -> None:
    offered = w.current(s.call, operator=s.operator)
    callback = w.get("callbacks").get(s.call)
    if offered is None or callback is None:
        return
    w.operator(s.operator, Answered(s.call))
    w.dialled = (*w.dialled, (w.now, callback.number))  # the number is dialled now
    w.effects.append(DialCaller(s.call, callback.number, callback.recording))


def reached(w: Work, s: CallbackReached) -> None:
    offered = w.get("offers").get(s.call)
    if offered is not None:
        w.mut("offers")[s.call] = replace(offered, answered=w.now)
        w.emit(
            s.call,
            ev.CallAnswered(
                offered.operator, w.seconds_since(offered.waiting.entered), callback=True
            ),
        )


def ended(w: Work, s: CallbackEnded) -> None:
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


def failed(w: Work, s: CallbackFailed) -> None:
    offered = w.current(s.call, s.offer)
    if offered is None or w.get("operators")[offered.operator].state is State.ON_CALL:
        return  # (the operator picked up: no failure)
    callback = w.get("callbacks")[s.call]
    w.keep(offered.waiting, callback, must=False)  # the caller was not dialled
    del w.mut("offers")[s.call]
    if s.no_answer:
        w.emit(s.call, ev.CallMissed(offered.operator, "NOANSWER"))
        w.operator(offered.operator, Missed(s.call, w.rules.timings.pause_after_misses))
        w.mut("waiting")[s.call] = offered.waiting
    else:
        w.operator(offered.operator, Withdrawn(s.call))
        w.pause(offered.waiting)


def handled(w: Work, s: NotificationHandled) -> None:
    w.emit(s.call, ev.NotificationHandled(s.ref, s.by))
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
        w.end(call, ev.CallEnded("handled", notification=s.ref))


def restore(w: Work, s: Restore) -> None:
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
            ev.CallbackRestored(
                p.attempts, p.dialling, p.next_try.isoformat() if p.next_try else None
            ),
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


def reconciled(w: Work, s: Reconciled) -> None:
    """With Asterisk's channels (uniqueid -> context), after (re)connecting: a callback under
    way at a restart whose channel is gone ended unseen (an attempt that did not reach the
    caller: a second call beats a missed one); a caller whose unanswered Redirect was not
    carried out (not ringing an operator) goes back to the head of the queue now."""
    for call, offered in list(w.get("offers").items()):
        if offered.restored and f"callback-{call}-{offered.restored}" not in s.channels:
            ended(w, CallbackEnded(call, "UNKNOWN"))
        elif offered.uncertain and s.channels.get(call) != "hotline-connect":
            w.redirect_lost(call)
