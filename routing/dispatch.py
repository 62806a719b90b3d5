"""The dispatcher: waiting calls x free operators -> who rings whom. Pure.

Order: higher priority first (a detention before a consultation), then arrival (a call put
back after a missed ring keeps its place at the head). Each call goes to the free operator
who may take it and has been idle longest. An operator may take a call when they serve its
line in one of the line's offices and speak the caller's language; once the call has waited
past the line's overflow time, operators of the overflow offices may take it too, and the
language becomes a preference rather than a condition (a person beats no person). While one
of the line's own offices is in shelter (an air-raid alert), that is so at once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from routing.lines import Line


@dataclass(frozen=True)
class Waiting:
    """A call waiting for an operator."""

    call: str
    line: str
    language: str
    priority: int
    entered: datetime
    #: Arrival order; a call put back after a missed ring keeps its number.
    seq: int
    #: No caller on the line: the operator is rung first, then the caller is called back.
    callback: bool = False
    #: Not to be dispatched now (the caller is choosing a callback or leaving a message).
    held: bool = False
    #: Not to be dispatched before then (a callback's next try; a ring tried again).
    not_before: datetime | None = None
    #: Seconds already spent talking to an operator who transferred the call.
    talked: float = 0.0

    def ready(self, now: datetime) -> bool:
        """Whether it may be offered to an operator at ``now``."""
        return not self.held and (self.not_before is None or self.not_before <= now)


@dataclass(frozen=True)
class Candidate:
    """A free operator, as the dispatcher sees them."""

    id: str
    office: str
    lines: frozenset[str]
    languages: frozenset[str]
    idle_since: datetime


def overflowing(call: Waiting, line: Line, now: datetime) -> bool:
    return line.overflow is not None and (now - call.entered).total_seconds() >= line.overflow.after


def may_take(
    op: Candidate,
    call: Waiting,
    lines: Mapping[str, Line],
    now: datetime,
    sheltered: Collection[str] = (),
) -> bool:
    """Whether ``op`` may be offered ``call`` at ``now`` (``sheltered``: offices in shelter)."""
    line = lines[call.line]
    if call.line not in op.lines or op.office in sheltered:
        return False
    wider = overflowing(call, line, now) or any(o in sheltered for o in line.offices)
    offices = line.offices + (line.overflow.offices if wider and line.overflow else ())
    return op.office in offices and (wider or call.language in op.languages)


def queue_order(waiting: Iterable[Waiting]) -> list[Waiting]:
    """Waiting calls in the order they are served."""
    return sorted(waiting, key=lambda w: (-w.priority, w.seq))


def assign(
    waiting: Iterable[Waiting],
    free: Iterable[Candidate],
    lines: Mapping[str, Line],
    now: datetime,
    sheltered: Collection[str] = (),
) -> list[tuple[str, str]]:
    """(call, operator) pairs to ring now; each operator and each call at most once."""
    operators = sorted(free, key=lambda o: (o.idle_since, o.id))
    pairs: list[tuple[str, str]] = []
    for call in queue_order(w for w in waiting if w.ready(now)):
        if not operators:
            break
        chosen = next((op for op in operators if may_take(op, call, lines, now, sheltered)), None)
        if chosen is not None:
            operators.remove(chosen)
            pairs.append((call.call, chosen.id))
    return pairs


def position(waiting: Sequence[Waiting], call: str) -> int:
    """1-based place of ``call`` among the calls of its line and priority or above."""
    order = queue_order(waiting)
    me = next(w for w in order if w.call == call)
    return 1 + sum(
        1 for w in order[: order.index(me)] if w.line == me.line or w.priority > me.priority
    )
