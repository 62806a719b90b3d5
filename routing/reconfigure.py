"""The deployment reloaded while calls go on: the rules to run with from then on, and the
queue made to match them. Nobody waiting loses their place and no call is cut: what the old
rules knew and a call still needs is kept until that call is over.
"""

from __future__ import annotations

from dataclasses import replace

from agents.state import OperatorState, State
from routing import events as ev
from routing.queue import Queue, Rules
from routing.work import Work

#: An operator in one of these has a call of the queue's (or has just had one).
BUSY = (State.RINGING, State.ON_CALL, State.WRAP_UP)


def retained(queue: Queue, old: Rules, new: Rules) -> Rules:
    """``new``, with what of ``old`` a call still holds: an operator taken out of the config
    while ringing, talking or in wrap-up keeps their call, is offered nothing more and is
    logged out once it is over (``Rules.leaving``; the next reload lets them go); a line
    taken out while callers wait on it or talk keeps them, and its organisation, until they
    are done (the menus no longer lead there)."""
    busy = {offered.operator for offered in queue.offers.values()} | {
        op for op, state in queue.operators.items() if state.state in BUSY
    }
    operators = {
        op: old.operators[op]
        for op in sorted(busy)
        if op not in new.operators and op in old.operators
    }
    held = (
        {waiting.line for waiting in queue.waiting.values()}
        | {offered.waiting.line for offered in queue.offers.values()}
        | {away.waiting.line for away in queue.away.values() if away.waiting is not None}
    )
    lines = {
        line: old.lines[line]
        for line in sorted(held)
        if line not in new.lines and line in old.lines
    }
    if not operators and not lines:
        return new
    return replace(
        new,
        lines={**new.lines, **lines},
        operators={**new.operators, **operators},
        owners={**{line: old.owners[line] for line in lines if line in old.owners}, **new.owners},
        employers={
            **{op: old.employers[op] for op in operators if op in old.employers},
            **new.employers,
        },
        leaving=frozenset(operators),
    )


def apply(w: Work) -> None:
    """The step of :class:`routing.signals.Reconfigured`: ``w.rules`` are the new ones."""
    for op in w.rules.operators:
        if op not in w.operators:
            w.operators[op] = OperatorState(op)  # logged out, until they log in
    for op in [op for op in w.operators if op not in w.rules.operators]:
        state = w.operators[op]
        del w.operators[op]
        w.cancel(f"wrap:{op}")
        if state.state is not State.LOGGED_OUT:
            w.emit("", ev.OperatorChanged(op, State.LOGGED_OUT.value, state.reachable))
