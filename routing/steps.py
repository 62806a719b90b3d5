"""The queue's step function: ``step(queue, signal, now, rules) -> (queue, effects)``. Pure.

Every change goes through it: a caller queued, a ring answered or not, a hangup, a timer
fired, an operator's event, a device's state. After each one it decides who rings whom
(:func:`routing.dispatch.assign`: on every change, never on a timer) and returns what to do
as data (:mod:`routing.signals`): ring an operator for a caller, ring one for a callback, take
a message, start or cancel a timer, keep a promise on disk, emit an event. It does no I/O and
reads no clock; ``hotline/calls/switchboard.py`` feeds it and carries the effects out.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import assert_never

from agents.state import (
    Answered,
    Joined,
    Missed,
    Reachability,
    Rung,
    Withdrawn,
    WrapUpOver,
)
from routing import callbacks, reconfigure, shelter, transfers
from routing import events as ev
from routing.dispatch import Waiting
from routing.queue import Offered, Queue, Rules
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
    CentreAnswered,
    CentreEnded,
    DeviceChanged,
    Dialled,
    Effect,
    Guarded,
    Held,
    HungUp,
    LaterCallback,
    LetGo,
    MessageFailed,
    NotificationHandled,
    OperatorChanged,
    Reconciled,
    Reconfigured,
    RedirectLost,
    Restore,
    RingAnswered,
    RingEnded,
    RingFailed,
    RingUncertain,
    ShelterAsked,
    ShelterOver,
    Signal,
    Stopping,
    TakeMessage,
    TimerFired,
    ToCentre,
    TransferAsked,
    TransferJoined,
    TransferReady,
    Warn,
)
from routing.work import Work


def step(queue: Queue, signal: Signal, now: datetime, rules: Rules) -> tuple[Queue, list[Effect]]:
    """The queue after ``signal`` at ``now``, and what to do about it. Raises
    :class:`agents.state.OperatorError` when an operator's event does not apply."""
    work = Work(queue, now, rules)
    _handle(work, signal)
    work.dispatch()
    return work.done()


def _handle(w: Work, s: Signal) -> None:
    """Each signal to its handler (a signal left out is an error for mypy: assert_never)."""
    # a match tries its cases in turn: a call's own signals and its operator's come first,
    # as they come most often
    match s:
        case CallerQueued():
            _queued(w, s)
        case RingAnswered():
            _ring_answered(w, s)
        case RingEnded():
            _ring_ended(w, s)
        case HungUp():
            _hung_up(w, s)
        case TimerFired():
            _timer(w, s)
        case DeviceChanged():
            _device(w, s)
        case OperatorChanged():
            _operator_changed(w, s)
        case Held():
            _held(w, s)
        case RingFailed():
            _ring_failed(w, s)
        case RingUncertain():
            _ring_uncertain(w, s)
        case RedirectLost():
            _redirect_lost(w, s)
        case MessageFailed():
            _message_failed(w, s)
        case LetGo():
            _let_go(w, s)
        case Guarded():
            _guarded(w, s)
        case Adopted():
            _adopted(w, s)
        case Stopping():
            w.stopping = True
        case Reconfigured():
            reconfigure.apply(w)
        # callbacks
        case LaterCallback():
            callbacks.later_callback(w, s)
        case CallbackAsked():
            callbacks.asked(w, s)
        case CallBackNow():
            callbacks.now(w, s)
        case CallbackPickedUp():
            callbacks.picked_up(w, s)
        case CallbackReached():
            callbacks.reached(w, s)
        case CallbackEnded():
            callbacks.ended(w, s)
        case CallbackFailed():
            callbacks.failed(w, s)
        case NotificationHandled():
            callbacks.handled(w, s)
        case CallerErased():
            callbacks.erased(w, s)
        case Restore():
            shelter.restored(w, s.shelters)
            callbacks.restore(w, s)
            shelter.unpause_orphans(w)
        case Reconciled():
            callbacks.reconciled(w, s)
        case Dialled():
            callbacks.dialled(w, s)
        # transfers
        case TransferAsked():
            transfers.asked(w, s)
        case ToCentre():
            transfers.to_centre(w, s)
        case TransferReady():
            transfers.ready(w, s)
            _dialogue_over(w, s.call)
        case TransferJoined():
            transfers.joined(w, s)
        case CentreAnswered():
            transfers.centre_answered(w, s)
        case CentreEnded():
            transfers.centre_ended(w, s)
        # offices
        case ShelterAsked():
            shelter.asked(w, s)
        case ShelterOver():
            shelter.over(w, s)
        case _:
            assert_never(s)


def _queued(w: Work, s: CallerQueued) -> None:
    if w.holds(s.call):
        return
    line = w.rules.lines[s.line]
    entered = s.entered or w.now
    waiting = Waiting(s.call, s.line, s.language, line.priority, entered, w.next_seq)
    w.next_seq += 1
    w.waiting[s.call] = waiting
    w.channels[s.call] = s.channel
    w.callers[s.call] = s.caller
    w.emit(s.call, ev.CallQueued(s.line, s.language, line.priority))
    for office in line.offices:
        if office in w.shelters:
            w.emit(s.call, ev.CallSheltered(office))
    if line.overflow is not None:
        w.later(f"overflow:{s.call}", entered + timedelta(seconds=line.overflow.after))
    w.arm_message(waiting)


def _adopted(w: Work, s: Adopted) -> None:
    for answered, pairs in ((True, s.talking), (False, s.ringing)):
        for caller, operator in pairs:
            if (
                w.holds(caller.call)
                or operator not in w.operators
                or caller.line not in w.rules.lines
            ):
                continue
            line = w.rules.lines[caller.line]
            entered = caller.entered or w.now
            waiting = Waiting(caller.call, caller.line, caller.language, line.priority, entered, 0)
            at = w.now if answered else None
            w.offers[caller.call] = Offered(operator, waiting, w.next_offer, answered=at)
            w.next_offer += 1
            w.channels[caller.call] = caller.channel
            w.callers[caller.call] = caller.caller
            w.operator(operator, Joined(caller.call) if answered else Rung(caller.call))
    earliest = datetime.min.replace(tzinfo=w.now.tzinfo)
    for caller in sorted(s.callers, key=lambda c: c.entered or earliest):
        _queued(w, caller)


def _held(w: Work, s: Held) -> None:
    waiting = w.waiting.get(s.call)
    if waiting is not None:
        w.waiting[s.call] = replace(waiting, held=s.held)
        if not s.held:
            _dialogue_over(w, s.call)


def _dialogue_over(w: Work, call: str) -> None:
    """A dialogue with the caller ended (a prompt, a question, "connecting"): a caller whose
    channel went meanwhile hung up during it, and their hangup, held off until now, counts."""
    waiting = w.waiting.get(call)
    if waiting is not None and not (waiting.held or waiting.callback):
        if call not in w.channels:
            _hung_up(w, HungUp(call))


def _hung_up(w: Work, s: HungUp) -> None:
    call = s.call
    w.channels.pop(call, None)
    w.cancel(f"overflow:{call}", f"message:{call}")
    if transfers.hung_up(w, call):
        return
    waiting = w.waiting.get(call)
    if waiting is not None:
        if waiting.callback or waiting.held:
            return  # kept for the callback they asked for, or the dialogue they are in decides
        if not w.call_back_instead(call, waiting):
            wait = w.seconds_since(waiting.entered)
            w.end(call, ev.CallEnded("abandoned", waiting.line, wait=wait))
        return
    offered = w.offers.get(call)
    if offered is None or offered.waiting.callback:
        return
    if offered.answered is None:
        w.abandoned(call, offered)
    else:
        del w.offers[call]
        by = "operator" if s.by == offered.operator else "caller"
        w.finish(call, offered, "answered", by=by)


def _ring_answered(w: Work, s: RingAnswered) -> None:
    offered = w.current(s.call, operator=s.operator)
    if offered is None:
        w.effects.append(Warn(f"answer of {s.call} by {s.operator}, which was not offered it"))
        return
    w.offers[s.call] = replace(offered, answered=w.now)
    w.operator(s.operator, Answered(s.call))
    wait = w.seconds_since(offered.waiting.entered)
    w.emit(s.call, ev.CallAnswered(s.operator, wait, peer=s.peer or None))


def _ring_ended(w: Work, s: RingEnded) -> None:
    offered = w.offers.get(s.call)
    if offered is None or s.operator not in (offered.operator, offered.carried_by):
        return
    del w.offers[s.call]
    if offered.answered is not None:  # (the caller still there: the operator's side ended it)
        w.finish(s.call, offered, "answered", by="operator")
        return
    w.emit(s.call, ev.CallMissed(s.operator, s.status))
    if offered.transferred:
        w.emit(s.call, ev.TransferFailed("operator", s.operator, s.status))
    w.operator(s.operator, Missed(s.call, w.rules.of_operator(s.operator).pause_after_misses))
    w.back(offered.waiting)  # its old place: the head of its queue


def _ring_failed(w: Work, s: RingFailed) -> None:
    offered = w.current(s.call, s.offer)
    if offered is None or offered.answered is not None:
        return  # (an answered ring was no failure)
    del w.offers[s.call]
    w.operator(offered.operator, Withdrawn(s.call))
    w.pause(offered.waiting)


def _ring_uncertain(w: Work, s: RingUncertain) -> None:
    offered = w.current(s.call, s.offer)
    if offered is not None:
        w.offers[s.call] = replace(offered, uncertain=True)


def _redirect_lost(w: Work, s: RedirectLost) -> None:
    w.redirect_lost(s.call)


def _message_failed(w: Work, s: MessageFailed) -> None:
    _held(w, Held(s.call, False))
    if s.gone:
        _hung_up(w, HungUp(s.call))
    elif s.call in w.waiting:  # still nobody free: the offer is made again
        w.later(f"message:{s.call}", w.now + timedelta(seconds=w.rules.message_retry))


def _timer(w: Work, s: TimerFired) -> None:
    if s.key not in w.timers:
        return  # cancelled meanwhile
    del w.timers[s.key]
    kind, _, name = s.key.partition(":")
    if kind == "wrap" and name in w.operators:
        w.operator(name, WrapUpOver())
    elif kind == "message":
        _take_message(w, name)
    elif kind == "shelter":
        shelter.over(w, ShelterOver(name, "schedule"))
    # overflow, retry and redial: the dispatch after every step is what they are for


def _take_message(w: Work, call: str) -> None:
    """Nobody answered in time: the caller leaves their details instead of waiting."""
    waiting = w.waiting.get(call)
    channel = w.channels.get(call)
    if waiting is None or waiting.callback or waiting.held or channel is None:
        return
    w.waiting[call] = replace(waiting, held=True)
    w.emit(call, ev.MessageAsked(waiting.line))
    w.effects.append(TakeMessage(call, channel))


def _operator_changed(w: Work, s: OperatorChanged) -> None:
    w.operator(s.operator, s.event)


def _device(w: Work, s: DeviceChanged) -> None:
    known = w.operators.get(s.operator)
    if known is not None and (known.reachable, known.in_use) != (s.reachable, s.in_use):
        w.operator(s.operator, Reachability(s.reachable, s.in_use))


def _let_go(w: Work, s: LetGo) -> None:
    waiting = w.waiting.get(s.call)
    if waiting is None:
        return
    del w.waiting[s.call]
    w.cancel(f"overflow:{s.call}", f"message:{s.call}")
    wait = w.seconds_since(waiting.entered)
    w.end(s.call, ev.CallEnded(s.outcome, waiting.line, wait=wait, error=s.error))


def _guarded(w: Work, s: Guarded) -> None:
    call = s.call
    w.cancel(f"overflow:{call}", f"message:{call}", f"retry:{call}")
    waiting = w.waiting.get(call)
    if waiting is not None:
        del w.waiting[call]
    offered = w.offers.get(call)
    if offered is not None:
        del w.offers[call]
        if offered.answered is not None:  # they talked; only the step after it hung
            w.finish(call, offered, "answered")
            return
        w.operator(offered.operator, Withdrawn(call))
        waiting = offered.waiting
    ended = ev.CallEnded("handed-over", by="guard")
    if waiting is not None:
        ended = replace(ended, line=waiting.line, wait=w.seconds_since(waiting.entered))
    w.end(call, ended)
