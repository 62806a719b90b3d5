"""The queue's steps for transfers: an operator sends the caller they talk to to another
line's queue, to another operator, or to a legal aid centre outside (blind); or joins them to
an operator they called first (attended, done by the phones, reported here).

A transferred caller keeps their arrival time and place (so they are first in their new line
among those who came later) and the higher of their priority and the new line's; they hear
that they are being connected before anyone is rung for them. An operator who does not
answer, or a centre, brings them back to the head of the queue they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from agents.state import Joined, Offer, Withdrawn
from routing import events as ev
from routing.queue import Away, Offered, Queue, Rules
from routing.signals import (
    CentreAnswered,
    CentreEnded,
    Move,
    Ring,
    Target,
    ToCentre,
    TransferAsked,
    TransferJoined,
    TransferReady,
    Warn,
)
from routing.work import Work

KINDS = ("line", "operator", "centre")


@dataclass(frozen=True)
class Centre:
    """A legal aid centre in an organisation's directory: callers are connected to it through
    the carrier, or told where and when it is open."""

    id: str
    name: str
    region: str
    address: str
    hours: str
    #: Its number in E.164 (routing/numbers.py): what is dialled and checked.
    number: str
    #: Its number as the config writes it: what callers are told (their national form).
    shown: str = ""

    @property
    def prompt(self) -> str:
        """The prompt that tells a caller its address and hours."""
        return f"centre-{self.id}"

    def target(self) -> Target:
        return Target("centre", self.id, self.number)


def refusal(queue: Queue, rules: Rules, call: str, target: Target) -> str | None:
    """Why ``call`` cannot be transferred to ``target`` now (None: it can)."""
    offered = queue.offers.get(call)
    if offered is None or offered.answered is None or offered.waiting.callback:
        return "the call is not in a conversation with an operator"
    if call not in queue.channels:
        return "the caller's channel is gone"
    if target.kind == "line":
        if target.name not in rules.lines:
            return f"there is no line {target.name!r}"
    elif target.kind == "operator":
        if target.name not in rules.operators:
            return f"there is no operator {target.name!r}"
        if target.name == offered.operator:
            return f"{target.name} is already talking to the caller"
        if not queue.operators[target.name].free:
            state = queue.operators[target.name]
            now = "phone unreachable" if not state.reachable else state.state.value
            now = "phone in use" if state.reachable and state.in_use else now
            return f"{target.name} cannot take a call now ({now})"
    elif target.kind == "centre":
        refused = rules.callbacks.refuses(target.number)
        if refused is not None:
            return f"the centre {target.name!r} cannot be called: {refused}"
    else:
        return f"a transfer goes to one of {', '.join(KINDS)}, not {target.kind!r}"
    return None


def asked(w: Work, s: TransferAsked) -> None:
    why = refusal(w.so_far(), w.rules, s.call, s.target)
    offered = w.offers.get(s.call)
    if offered is None or offered.answered is None:
        w.effects.append(Warn(f"transfer of {s.call} to {s.target.name}: {why}"))
        return
    if why is not None and not s.left:  # the service checks first: this is a late race
        w.effects.append(Warn(f"transfer of {s.call} to {s.target.name}: {why}"))
        return
    del w.offers[s.call]
    talked = w.leg_over(s.call, offered)
    waiting = replace(offered.waiting, talked=offered.waiting.talked + talked)
    target = s.target
    if why is not None:  # the phone left the caller: back to the head of their queue
        w.emit(s.call, ev.TransferFailed(target.kind, target.name, f"refused: {why}"))
        w.back(waiting)
        return
    w.emit(
        s.call,
        ev.CallTransferred(
            target.kind,
            target.name,
            "blind",
            s.by,
            offered.operator,
            offered.waiting.line,
            round(talked, 3),
        ),
    )
    channel = w.channels[s.call]
    if target.kind == "operator":
        _offer(w, Offered(target.name, waiting, w.next_offer, transferred=True), channel)
        return
    if target.kind == "centre":
        w.away[s.call] = Away(target.name, target.number, waiting)
        w.effects.append(Move(s.call, channel, target.number))
        return
    line = w.rules.lines[target.name]
    priority = max(waiting.priority, line.priority)
    w.waiting[s.call] = replace(waiting, line=line.name, priority=priority, held=True)
    w.emit(s.call, ev.CallQueued(line.name, waiting.language, priority))
    w.effects.append(Move(s.call, channel))


def to_centre(w: Work, s: ToCentre) -> None:
    """The caller chose a centre in the menus: the dialplan dials it (no queue on the way)."""
    w.away[s.call] = Away(s.centre, s.number, None)
    w.channels[s.call] = s.channel
    w.emit(s.call, ev.CallTransferred("centre", s.centre, "menu", "caller"))


def _offer(w: Work, offered: Offered, channel: str) -> None:
    """Ring the operator the caller was transferred to (they hear they are connected)."""
    w.next_offer += 1
    w.offers[offered.waiting.call] = offered
    w.operator(offered.operator, Offer(offered.waiting.call))
    w.emit(offered.waiting.call, ev.CallOffered(offered.operator))
    timeout = w.rules.of_line(offered.waiting.line).ring_timeout
    w.effects.append(
        Ring(offered.waiting.call, channel, offered.operator, offered.n, timeout, transferred=True)
    )


def ready(w: Work, s: TransferReady) -> None:
    """The caller heard they are being connected: offered from now on (a detention line's
    message offer counts from now too: they just talked to someone)."""
    waiting = w.waiting.get(s.call)
    if waiting is None or not waiting.held:
        return
    w.waiting[s.call] = replace(waiting, held=False)
    line = w.rules.lines[waiting.line]
    if line.take_message_after is not None:
        w.later(f"message:{s.call}", w.now + timedelta(seconds=line.take_message_after))


def joined(w: Work, s: TransferJoined) -> None:
    """The operator joined the caller to the colleague they had called: that colleague's
    conversation with the caller starts now (it rides on the first operator's ring)."""
    offered = w.offers.get(s.call)
    if (
        offered is None
        or offered.answered is None
        or s.operator not in w.rules.operators
        or s.operator == offered.operator
    ):
        w.effects.append(Warn(f"attended transfer of {s.call} to {s.operator}: not a call here"))
        return
    for call, other in list(w.offers.items()):
        if other.operator != s.operator:
            continue
        if other.answered is not None:  # (a second line on their phone: not followed)
            w.effects.append(Warn(f"{s.operator} took {s.call} while on {call}: not followed"))
            return
        # their phone rang for a queued caller as they took the consultation: that caller
        # goes back to the head of the queue
        del w.offers[call]
        w.operator(s.operator, Withdrawn(call))
        w.back(other.waiting)
    talked = w.leg_over(s.call, offered)
    w.emit(
        s.call,
        ev.CallTransferred(
            "operator",
            s.operator,
            "attended",
            s.by,
            offered.operator,
            offered.waiting.line,
            round(talked, 3),
        ),
    )
    waiting = replace(offered.waiting, talked=offered.waiting.talked + talked)
    carrier = offered.carried_by or offered.operator
    w.offers[s.call] = Offered(
        s.operator, waiting, w.next_offer, answered=w.now, carried_by=carrier
    )
    w.next_offer += 1
    w.operator(s.operator, Joined(s.call))
    w.emit(s.call, ev.CallAnswered(s.operator, 0.0))


def centre_answered(w: Work, s: CentreAnswered) -> None:
    away = w.away.get(s.call)
    if away is not None and away.answered is None:
        w.away[s.call] = replace(away, answered=w.now)
        w.emit(s.call, ev.CentreAnswered(away.centre))


def centre_ended(w: Work, s: CentreEnded) -> None:
    """The centre's call is over with the caller still on the line: done if they talked;
    if not, back to the head of the queue they came from (or, from the menus, the end)."""
    away = w.away.get(s.call)
    if away is None:
        return
    del w.away[s.call]
    if away.answered is not None:
        _ended(w, s.call, away)
        return
    w.emit(s.call, ev.TransferFailed("centre", away.centre, s.status))
    if away.waiting is not None:
        w.back(away.waiting)
    else:
        w.end(s.call, ev.CallEnded("finished", reason="centre-unanswered"))


def hung_up(w: Work, call: str) -> bool:
    """The caller hung up while transferred out: their record ends (True if they were)."""
    away = w.away.get(call)
    if away is None:
        return False
    del w.away[call]
    if away.answered is not None:
        _ended(w, call, away)
    elif away.waiting is None or not w.call_back_instead(call, away.waiting):
        line = away.waiting.line if away.waiting else None
        w.end(call, ev.CallEnded("abandoned", line, reason="centre-ringing"))
    return True


def _ended(w: Work, call: str, away: Away) -> None:
    waiting = away.waiting
    w.end(
        call,
        ev.CallEnded(
            "transferred",
            waiting.line if waiting else None,
            talk=round(waiting.talked, 3) if waiting else None,
            by=f"centre:{away.centre}",
        ),
    )
