"""One step's work on the queue (routing/work.py): the queue it returns carries every field,
new mappings only for those the step wrote; the queue it started from stays as it was."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from types import MappingProxyType

from agents.operator import Operator
from agents.state import OperatorState, State
from routing.dispatch import Waiting
from routing.lines import Line
from routing.outbound import Dial, Request
from routing.queue import Away, Callback, Offered, Queue, Rules, Shelter
from routing.work import Work

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)
RULES = Rules(
    {"information": Line("information", ("kyiv",))},
    {"op1": Operator("op1", "Op 1", "kyiv", ("information",), ("uk",))},
)
WAITING = Waiting("c1", "information", "uk", 0, T0, 1)


def busy_queue() -> Queue:
    """A queue none of whose fields has its value in an empty one."""
    return Queue(
        operators=MappingProxyType({"op1": OperatorState("op1", State.ON_CALL, call="c2")}),
        waiting=MappingProxyType({"c1": WAITING}),
        offers=MappingProxyType({"c2": Offered("op1", WAITING, 1, answered=T0)}),
        channels=MappingProxyType({"c1": "PJSIP/trunk-1"}),
        callers=MappingProxyType({"c1": "380501234567"}),
        callbacks=MappingProxyType({"c4": Callback("380501234568")}),
        away=MappingProxyType({"c3": Away("kyiv-centre", "380441234567", None)}),
        timers=MappingProxyType({"message:c1": T0}),
        dialled=(Dial(T0, "380501234568", "ua"),),
        requests=(Request(T0, "380501234568", "ua"),),
        handle_times=(60.0,),
        next_seq=2,
        next_offer=2,
        stopping=True,
        shelters=MappingProxyType({"kyiv": Shelter("kyiv", T0, "sup1")}),
    )


def test_a_step_that_writes_nothing_hands_on_the_queue_as_it_was() -> None:
    before = busy_queue()
    empty = Queue.empty(RULES)
    assert all(getattr(before, f.name) != getattr(empty, f.name) for f in fields(Queue))
    after, effects = Work(before, T0, RULES).done()
    assert effects == []
    for f in fields(Queue):  # (a field done() left out would have its empty value)
        assert getattr(after, f.name) is getattr(before, f.name), f.name


def test_a_step_writes_a_new_queue_not_the_one_it_started_from() -> None:
    before = busy_queue()
    work = Work(before, T0, RULES)
    del work.waiting["c1"]
    work.channels.pop("c1")
    work.next_seq += 1
    after, _ = work.done()
    assert before == busy_queue()
    assert (dict(after.waiting), dict(after.channels), after.next_seq) == ({}, {}, 3)
    assert after.offers is before.offers  # unwritten: not copied
