"""The switchboard's bookkeeping, with Asterisk's side played by a recording double.

These check the adapter's decisions in isolation (which effect, which state, which event);
the same flows over the real Asterisk are proven in tests/integration/test_queues.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from agents.state import LogIn, Reachability
from hotline.config import Deployment
from hotline.events import CallEvent, EventBus
from hotline.switchboard import NoAnswer, Switchboard


class Asterisk:
    """Records what the switchboard asks; callbacks are answered or not as told."""

    def __init__(self) -> None:
        self.rung: list[tuple[str, str]] = []
        self.callbacks: list[tuple[str, str, str, int]] = []
        self.operator_answers = True

    async def connect(self, channel: str, operator: str) -> None:
        self.rung.append((channel, operator))

    async def callback(self, call: str, operator: str, number: str, attempt: int) -> None:
        self.callbacks.append((call, operator, number, attempt))
        if not self.operator_answers:
            raise NoAnswer(operator)

    async def take_message(self, channel: str) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def world(deployment: Deployment) -> tuple[Switchboard, Asterisk, Clock, list[CallEvent]]:
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    asterisk, clock = Asterisk(), Clock()
    return Switchboard(deployment, bus, clock, asterisk), asterisk, clock, events


def online(board: Switchboard, *operators: str) -> None:
    for op in operators:
        board.operator_event(op, Reachability(True))
        board.operator_event(op, LogIn())


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_call_from_queue_to_wrap_up(world: tuple) -> None:
    board, asterisk, clock, events = world
    online(board, "op3")
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk", caller="380501234567")
    await settle()
    assert asterisk.rung == [("PJSIP/trunk-1", "op3")]
    assert board.operators["op3"].state.value == "ringing"
    clock.advance(2)
    board.answered("c1", "op3")
    clock.advance(60)
    assert board.ring_ended("c1", "op3", "ANSWER") == "done"
    assert board.operators["op3"].state.value == "wrap_up"
    ended = [e for e in events if e.kind == "call.ended"][-1]
    assert ended.data | {} == {
        "outcome": "answered",
        "operator": "op3",
        "line": "consultation",
        "wait": 2.0,
        "talk": 60.0,
    }
    assert [e.seq for e in events if e.call_id == "c1"] == [1, 2, 3, 4]


async def test_a_missed_ring_puts_the_call_back_at_the_head(world: tuple) -> None:
    board, asterisk, clock, _ = world
    online(board, "op3")
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk")
    board.enqueue("c2", "PJSIP/trunk-2", "consultation", "uk")
    await settle()
    clock.advance(15)
    assert board.ring_ended("c1", "op3", "NOANSWER") == "wait"
    await settle()
    # op3 is free again and c1, back at the head, is offered before c2
    assert asterisk.rung == [("PJSIP/trunk-1", "op3"), ("PJSIP/trunk-1", "op3")]
    assert board.operators["op3"].misses == 1


async def test_hanging_up_while_ringing_frees_the_operator_without_a_miss(world: tuple) -> None:
    board, _, _, events = world
    online(board, "op3")
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk")
    await settle()
    board.hung_up("c1")
    assert board.operators["op3"].free and board.operators["op3"].misses == 0
    assert events[-1].data["outcome"] == "abandoned"


async def test_a_failed_callback_is_retried_then_given_up(deployment: Deployment) -> None:
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    asterisk = Asterisk()
    quick = replace(deployment, policy=replace(deployment.policy, callback_retry=0, wrap_up=0))
    board = Switchboard(quick, bus, Clock(), asterisk)
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk", caller="380501234567")
    board.hold("c1", True)  # the caller is choosing a callback
    board.to_callback("c1", "380501234567")
    online(board, "op3")
    for attempt in range(1, quick.policy.callback_attempts + 1):
        await settle()
        assert asterisk.callbacks[-1] == ("c1", "op3", "380501234567", attempt)
        assert board.callback_answered("c1", "op3") is not None
        board.callback_ended("c1", "NOANSWER")  # the caller did not pick up
        assert [e for e in events if e.kind == "callback.failed"][-1].data["attempt"] == attempt
        await asyncio.sleep(0.01)  # the wrap-up and the retry timers
    (ended,) = [e for e in events if e.kind == "call.ended"]
    assert ended.data == {
        "outcome": "callback-failed",
        "line": "consultation",
        "attempts": quick.policy.callback_attempts,
    }


async def test_an_abandoned_detention_caller_becomes_a_callback(world: tuple) -> None:
    board, _, _, events = world
    board.enqueue("d1", "PJSIP/trunk-1", "detention", "uk", caller="380661112233")
    board.hung_up("d1")
    assert board.waiting["d1"].callback
    assert events[-1].kind == "callback.requested"
    assert events[-1].data["reason"] == "abandoned"
    # a caller without a number cannot be called back: logged as abandoned
    board.enqueue("d2", "PJSIP/trunk-2", "detention", "uk", caller="anonymous")
    board.hung_up("d2")
    assert "d2" not in board.waiting and events[-1].data["outcome"] == "abandoned"


async def test_a_caller_the_guard_moved_is_let_go_and_never_rung(world: tuple) -> None:
    board, asterisk, clock, events = world
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk", caller="380501234567")
    clock.advance(12)
    board.guarded("c1", {})  # moved to the fallback queue while the service hung
    online(board, "op3")
    await settle()
    assert asterisk.rung == [] and not board.waits("c1") and board.was_guarded("c1")
    (ended,) = [e for e in events if e.kind == "call.ended"]
    assert (ended.data["outcome"], ended.data["by"]) == ("handed-over", "guard")
    assert ended.data["wait"] == 12


async def test_a_call_that_arrived_while_the_service_hung_is_logged_whole(world: tuple) -> None:
    board, _, _, events = world
    board.guarded("c9", {"caller": "380501234567", "number": "2145145", "sip_call_id": "x@y"})
    assert [(e.kind, e.seq) for e in events if e.call_id == "c9"] == [
        ("call.started", 1),
        ("call.ended", 2),
    ]
    assert events[0].data["sip_call_id"] == "x@y"
