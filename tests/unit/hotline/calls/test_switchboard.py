"""The switchboard's bookkeeping, with Asterisk's side played by a recording double.

These check the adapter's decisions in isolation (which effect, which state, which event);
the same flows over the real Asterisk are proven in tests/integration/test_queues.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agents.state import LogIn, Pause, Reachability, State, WrapUpOver
from hotline.calls.durable import Durable
from hotline.calls.switchboard import CallbackRefused, NoAnswer, NotActive, Switchboard, Uncertain
from hotline.config.deployment import Deployment
from hotline.events import CallEvent, EventBus
from routing.events import CallStarted, to_data
from routing.signals import CallerQueued
from tests.conftest import with_rules


class Asterisk:
    """Records what the switchboard asks; callbacks are answered or not as told."""

    def __init__(self) -> None:
        self.rung: list[tuple[str, str]] = []
        self.moved: list[tuple[str, str]] = []
        self.callbacks: list[tuple[str, str, str, int]] = []
        self.operator_answers = True

    async def connect(
        self, channel: str, operator: str, ring_timeout: float, transferred: bool = False
    ) -> None:
        self.rung.append((channel, operator))

    async def move(self, channel: str, number: str = "") -> None:
        self.moved.append((channel, number))

    async def callback(
        self, call: str, operator: str, number: str, attempt: int, ring_timeout: float
    ) -> None:
        self.callbacks.append((call, operator, number, attempt))
        if not self.operator_answers:
            raise NoAnswer(operator)

    async def take_message(self, channel: str) -> None:
        pass


def RealClock() -> Callable[[], datetime]:
    """The real time: the step's timers are then the event loop's."""
    return lambda: datetime.now(UTC)


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
    assert to_data(ended.fact) == {
        "outcome": "answered",
        "operator": "op3",
        "line": "consultation",
        "wait": 2.0,
        "talk": 60.0,
        "by": "operator",
    }
    assert [e.seq for e in events if e.call_id == "c1"] == [1, 2, 3, 4]


async def test_while_it_may_not_act_it_still_logs_how_its_calls_go_on_and_end(
    world: tuple,
) -> None:
    """Its lease in doubt, or given up at a stop until the next instance has taken over: the
    answer and the end the dialplan reports are logged, and nothing is done (the next caller
    is not rung, no operator's change is taken). Once it stood down it knows nothing."""
    board, asterisk, clock, events = world
    online(board, "op3")
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk")
    board.enqueue("c2", "PJSIP/trunk-2", "consultation", "uk")
    await settle()
    board.witnessing = True
    board.may_act = lambda: False
    board.answered("c1", "op3")
    clock.advance(30)
    assert board.ring_ended("c1", "op3", "ANSWER") == "done"
    with pytest.raises(NotActive):  # refused (the API's 503): the active instance decides
        board.operator_event("op3", Pause("lunch"))
    await settle()
    kinds = [e.kind for e in events if e.call_id == "c1"]
    assert kinds[-2:] == ["call.answered", "call.ended"]
    assert asterisk.rung == [("PJSIP/trunk-1", "op3")]  # c2 is left to the next instance
    assert board.operators["op3"].state is State.WRAP_UP
    board.reset()
    board.hung_up("c2")
    assert not [e for e in events if e.call_id == "c2" and e.kind == "call.ended"]


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
    assert events[-1].fact.outcome == "abandoned"


async def test_a_failed_callback_is_retried_then_given_up(deployment: Deployment) -> None:
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    asterisk = Asterisk()
    quick = with_rules(deployment, callback_retry=0, wrap_up=0)
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
        assert [e for e in events if e.kind == "callback.failed"][-1].fact.attempt == attempt
        await asyncio.sleep(0.01)  # the wrap-up and the retry timers
    (ended,) = [e for e in events if e.kind == "call.ended"]
    assert to_data(ended.fact) == {
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
    assert events[-1].fact.reason == "abandoned"
    # a caller without a number cannot be called back: logged as abandoned
    board.enqueue("d2", "PJSIP/trunk-2", "detention", "uk", caller="anonymous")
    board.hung_up("d2")
    assert "d2" not in board.waiting and events[-1].fact.outcome == "abandoned"


async def test_a_caller_the_guard_moved_is_let_go_and_never_rung(world: tuple) -> None:
    board, asterisk, clock, events = world
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk", caller="380501234567")
    clock.advance(12)
    board.guarded(
        "c1", CallStarted("380501234567")
    )  # moved to the fallback queue while the service hung
    online(board, "op3")
    await settle()
    assert asterisk.rung == [] and not board.waits("c1") and board.was_guarded("c1")
    (ended,) = [e for e in events if e.kind == "call.ended"]
    assert (ended.fact.outcome, ended.fact.by) == ("handed-over", "guard")
    assert ended.fact.wait == 12


async def test_a_call_that_arrived_while_the_service_hung_is_logged_whole(world: tuple) -> None:
    board, _, _, events = world
    board.guarded("c9", CallStarted("380501234567", "2145145", sip_call_id="x@y"))
    assert [(e.kind, e.seq) for e in events if e.call_id == "c9"] == [
        ("call.started", 1),
        ("call.ended", 2),
    ]
    assert events[0].fact.sip_call_id == "x@y"


@pytest.fixture
def durable_world(
    deployment: Deployment, tmp_path: Path
) -> tuple[Switchboard, Asterisk, Clock, list[CallEvent], Path]:
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    asterisk, clock = Asterisk(), Clock()
    board = Switchboard(deployment, bus, clock, asterisk, Durable(tmp_path))
    return board, asterisk, clock, events, tmp_path


def reborn(world: tuple, deployment: Deployment) -> tuple[Switchboard, Asterisk, list[CallEvent]]:
    """A new switchboard on the same data folder: the service after a restart."""
    _, _, clock, _, folder = world
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    asterisk = Asterisk()
    board = Switchboard(deployment, bus, clock, asterisk, Durable(folder))
    board.restore()
    return board, asterisk, events


async def test_callbacks_come_back_after_a_restart_in_their_order(
    durable_world: tuple, deployment: Deployment
) -> None:
    board, _, clock, _, _ = durable_world
    board.enqueue("d1", "PJSIP/trunk-1", "detention", "uk", caller="380661112233")
    clock.advance(5)
    board.enqueue("c1", "PJSIP/trunk-2", "consultation", "uk", caller="380501234567")
    board.enqueue("d2", "PJSIP/trunk-3", "detention", "uk", caller="380671112244")
    board.hold("c1", True)
    board.to_callback("c1", "380501234567")
    board.hung_up("d2")
    board.hung_up("d1")  # hung up last, but called first
    again, asterisk, events = reborn(durable_world, deployment)
    assert [w.call for w in sorted(again.waiting.values(), key=lambda w: w.seq)] == [
        "d1",
        "c1",
        "d2",
    ]
    assert all(w.callback for w in again.waiting.values())
    assert again.waiting["d1"].entered == datetime(2026, 11, 25, 9, tzinfo=UTC)
    assert [e.kind for e in events].count("callback.restored") == 3
    online(again, "op1")
    await settle()
    assert asterisk.callbacks[0][:3] == ("d1", "op1", "380661112233")  # detention first


async def test_an_ended_callback_stays_ended_after_a_restart(
    durable_world: tuple, deployment: Deployment
) -> None:
    board, _, _, _, _ = durable_world
    board.enqueue("d1", "PJSIP/trunk-1", "detention", "uk", caller="380661112233")
    board.hung_up("d1")
    online(board, "op1")
    await settle()
    assert board.callback_answered("d1", "op1") is not None
    board.callback_reached("d1")
    board.callback_ended("d1", "ANSWER")
    again, _, _ = reborn(durable_world, deployment)
    assert again.waiting == {} and again.callbacks == {}


async def test_a_refused_number_is_logged_and_nothing_is_promised(durable_world: tuple) -> None:
    board, _, _, events, folder = durable_world
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk", caller="380501234567")
    board.hold("c1", True)
    with pytest.raises(CallbackRefused, match="a premium_rate number of UA"):
        board.to_callback("c1", "+380900212345")
    assert not board.waiting["c1"].callback and "c1" not in board.callbacks
    assert events[-1].kind == "callback.refused" and events[-1].fact.number == "+380900212345"
    assert not (folder / "callbacks.jsonl").read_text()


async def test_a_callback_that_cannot_be_stored_is_not_promised(
    durable_world: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    board, _, _, _, _ = durable_world
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk", caller="380501234567")
    board.hold("c1", True)

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(board.durable, "keep", disk_full)
    with pytest.raises(OSError):
        board.to_callback("c1", "380501234567")
    assert not board.waiting["c1"].callback and "c1" not in board.callbacks


async def test_operators_come_back_logged_in_or_paused(
    durable_world: tuple, deployment: Deployment
) -> None:
    board, _, _, _, _ = durable_world
    online(board, "op1", "op3")
    board.operator_event("op3", Pause("training"))
    await board.durable.flush()  # written in a thread
    again, _, _ = reborn(durable_world, deployment)
    assert again.operators["op1"].state is State.AVAILABLE
    assert (again.operators["op3"].state, again.operators["op3"].pause_reason) == (
        State.PAUSED,
        "training",
    )
    assert again.operators["op2"].state is State.LOGGED_OUT


async def test_an_office_in_shelter_stays_in_it_after_a_restart_until_its_end(
    durable_world: tuple, deployment: Deployment
) -> None:
    board, _, clock, _, folder = durable_world
    online(board, "op3")
    until = clock() + timedelta(minutes=20)
    board.shelter("sumy", "sup1", until)
    await board.durable.flush()
    again, _, _ = reborn(durable_world, deployment)
    assert again.shelters["sumy"].until == until and again.shelters["sumy"].by == "sup1"
    assert again.operators["op3"].pause_reason == "shelter"
    assert again.sheltered("consultation") == "sumy" and again.sheltered("information") is None
    # a caller hears why once a shelter: as they are queued, not again while they wait
    assert again.shelter_notice("c1", "consultation")
    assert not again.shelter_notice("c1", "consultation")
    again.end_shelter("sumy", "sup1")
    await again.durable.flush()
    assert (folder / "shelters.json").read_text().strip() == "[]"
    third, _, _ = reborn(durable_world, deployment)
    assert not third.shelters and third.operators["op3"].state is State.AVAILABLE


async def test_a_phone_in_use_elsewhere_is_not_offered_a_call(world: tuple) -> None:
    board, asterisk, _, _ = world
    online(board, "op3")
    board.reachable("op3", True, in_use=True)  # on a fallback queue's call
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk")
    await settle()
    assert asterisk.rung == []
    board.reachable("op3", True, in_use=False)
    await settle()
    assert asterisk.rung == [("PJSIP/trunk-1", "op3")]


async def test_an_unanswered_redirect_is_never_sent_twice(world: tuple) -> None:
    board, asterisk, _, events = world

    async def no_reply(
        channel: str, operator: str, ring_timeout: float, transferred: bool = False
    ) -> None:
        asterisk.rung.append((channel, operator))
        raise Uncertain("Redirect: no reply in time")

    asterisk.connect = no_reply  # type: ignore[method-assign]
    online(board, "op3")
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk")
    await settle()
    await asyncio.sleep(1.2)  # longer than a failed ring's retry
    assert asterisk.rung == [("PJSIP/trunk-1", "op3")]  # not repeated
    # the caller's next announcement finds them waiting: it was not carried out
    assert board.redirect_lost("c1")
    (missed,) = [e for e in events if e.kind == "call.missed"]
    assert to_data(missed.fact) == {"operator": "op3", "status": "NOT-REDIRECTED"}
    await settle()
    assert len(asterisk.rung) == 2  # offered again, once


async def test_callbacks_to_one_number_stop_at_the_hourly_cap(
    deployment: Deployment,
) -> None:
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)
    asterisk, clock = Asterisk(), Clock()
    policy = deployment.trunk.callbacks
    assert policy is not None
    capped = replace(
        deployment,
        trunk=deployment.trunk.model_copy(
            update={"callbacks": policy.model_copy(update={"per_number_per_hour": 1})}
        ),
    )
    board = Switchboard(capped, bus, clock, asterisk)
    for call in ("d1", "d2"):
        board.enqueue(call, f"PJSIP/trunk-{call}", "detention", "uk", caller="380661112233")
        board.hung_up(call)
    online(board, "op1")
    await settle()
    assert board.callback_answered("d1", "op1") is not None  # the number is dialled
    board.callback_reached("d1")
    board.callback_ended("d1", "ANSWER")
    board.operator_event("op1", WrapUpOver())
    await settle()
    (refused,) = [e for e in events if e.kind == "callback.refused"]
    assert refused.call_id == "d2" and "1 callbacks to this number" in refused.fact.reason
    assert refused.fact.retry_at == (clock.now + timedelta(hours=1)).isoformat()
    assert [c[0] for c in asterisk.callbacks] == ["d1"]


async def test_a_message_offer_that_could_not_be_made_is_made_again(
    deployment: Deployment,
) -> None:
    quick = replace(
        deployment,
        lines={
            **deployment.lines,
            "detention": replace(deployment.lines["detention"], take_message_after=0.01),
        },
    )
    asterisk = Asterisk()
    tries: list[str] = []

    async def away(channel: str) -> None:
        tries.append(channel)
        if len(tries) == 1:
            raise ConnectionError("AMI is down")

    asterisk.take_message = away  # type: ignore[method-assign]
    board = Switchboard(quick, EventBus(), RealClock(), asterisk)
    board.rules = replace(board.rules, message_retry=0.05)
    board.enqueue("d1", "PJSIP/trunk-1", "detention", "uk", caller="380661112233")
    await asyncio.sleep(0.3)
    assert tries == ["PJSIP/trunk-1", "PJSIP/trunk-1"]  # failed once, offered again
    assert board.waiting["d1"].held  # now in the message dialogue


async def test_a_timer_early_by_the_service_clock_waits_for_its_time(world: tuple) -> None:
    """The event loop's clock drifts from the time of day: a planned callback's timer that
    fires while the service's clock is still short of its time is not lost (it fires again),
    and the callback is made once its time has come."""
    board, asterisk, clock, _ = world
    board.enqueue("c1", "PJSIP/trunk-1", "consultation", "uk", caller="380501234567")
    board.hold("c1", True)
    board.to_callback("c1", "380501234567", at=clock.now + timedelta(seconds=0.05))
    online(board, "op3")
    await asyncio.sleep(0.1)  # the loop's 50 ms are over; the service's clock stood still
    assert asterisk.callbacks == [] and "redial:c1" in board.state.timers
    clock.advance(0.05)
    await asyncio.sleep(0.1)
    assert [c[:2] for c in asterisk.callbacks] == [("c1", "op3")]


async def test_callers_taken_over_from_asterisk_are_counted_as_the_log_keeps_them(
    world: tuple,
) -> None:
    """Their channels keep the carrier's form (0501234567, 380501234567): an instance that
    takes them over reads it in their line's country, so their callback requests and their
    history count as those of the caller they are (+380501234567)."""
    board, _, _, _ = world
    board.adopt(
        [
            CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk", "0501234567"),
            CallerQueued("c2", "PJSIP/trunk-2", "consultation", "uk", "380501234567"),
            CallerQueued("c3", "PJSIP/trunk-3", "consultation", "uk", "anonymous"),
        ]
    )
    assert [board.callers[c] for c in ("c1", "c2", "c3")] == [
        "+380501234567",
        "+380501234567",
        "anonymous",
    ]
