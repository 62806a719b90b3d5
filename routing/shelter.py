"""An office in shelter (an air-raid alert): its operators leave their phones, its lines are
served by the other offices at once. Pure.

While an office is in shelter its operators are paused with the reason ``shelter`` (those
talking finish their call first: their conversation is never cut), and a caller waiting on
one of its lines may be answered at once by the line's overflow offices and by its other
offices, whatever language they speak (a person beats no person): the overflow's wait is not
waited for. It ends when a supervisor ends it, or at the time set when it began.
"""

from __future__ import annotations

from agents.state import SHELTER, Pause, Resume, State
from routing import events as ev
from routing.queue import Shelter
from routing.signals import ShelterAsked, ShelterOver
from routing.work import Work


def asked(w: Work, s: ShelterAsked) -> None:
    """Take the office to shelter (again: a new end time replaces the old one)."""
    before = w.shelters.get(s.office)
    since = before.since if before is not None else s.since or w.now
    w.shelters[s.office] = Shelter(s.office, since, before.by if before else s.by, s.until)
    w.cancel(f"shelter:{s.office}")
    if s.until is not None:
        w.later(f"shelter:{s.office}", s.until)
    w.emit(
        "",
        ev.ShelterBegan(
            s.office, s.by, since.isoformat(), s.until.isoformat() if s.until else None
        ),
    )
    if before is not None:
        return
    for op in list(w.operators.values()):
        if w.rules.operators[op.id].office == s.office and op.state is State.AVAILABLE:
            w.operator(op.id, Pause(SHELTER))
    lines = {name for name, line in w.rules.lines.items() if s.office in line.offices}
    for waiting in list(w.waiting.values()):
        if waiting.line in lines:
            w.emit(waiting.call, ev.CallSheltered(s.office))


def over(w: Work, s: ShelterOver) -> None:
    """The shelter ends: its operators paused for it are available again."""
    if w.shelters.pop(s.office, None) is None:
        return
    w.cancel(f"shelter:{s.office}")
    w.emit("", ev.ShelterEnded(s.office, s.by))
    for op in list(w.operators.values()):
        if (
            w.rules.operators[op.id].office == s.office
            and op.state is State.PAUSED
            and op.pause_reason == SHELTER
        ):
            w.operator(op.id, Resume())


def restored(w: Work, shelters: tuple[Shelter, ...]) -> None:
    """At start: the offices still in shelter as they were (one whose time is over ends now,
    and so does any pause for a shelter no longer known)."""
    for shelter in shelters:
        if not w.rules.staffs(shelter.office):
            continue  # an office the config no longer has
        if shelter.until is not None and shelter.until <= w.now:
            continue
        w.shelters[shelter.office] = shelter
        if shelter.until is not None:
            w.later(f"shelter:{shelter.office}", shelter.until)


def unpause_orphans(w: Work) -> None:
    """Operators paused for a shelter that is over are available again."""
    for op in list(w.operators.values()):
        office = w.rules.operators[op.id].office
        if op.state is State.PAUSED and op.pause_reason == SHELTER and office not in w.shelters:
            w.operator(op.id, Resume())
