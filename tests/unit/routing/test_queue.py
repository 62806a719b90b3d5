"""The queue's step function: table cases, then its invariants over random sequences of
signals (hypothesis's state machine): no operator holds two calls, first come first served
within a priority, no operator free while a caller they may serve waits, and no timer left
for something that is gone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from agents.operator import Operator
from agents.state import LogIn, LogOut, OperatorError, Pause, Resume, State
from routing.callbacks import refusal as callback_refusal
from routing.dispatch import Candidate, may_take, queue_order
from routing.events import to_data
from routing.lines import Line, Overflow
from routing.outbound import HOUR, Allowed, CallbackPolicy, withheld
from routing.queue import Queue, Rules, Timings
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
    CallOperator,
    CancelTimer,
    CentreAnswered,
    CentreEnded,
    DeviceChanged,
    Effect,
    Emit,
    Forget,
    Held,
    HungUp,
    Keep,
    Move,
    OperatorChanged,
    Restore,
    Ring,
    RingAnswered,
    RingEnded,
    RingFailed,
    RingUncertain,
    ShelterAsked,
    ShelterOver,
    Signal,
    StartTimer,
    Target,
    TimerFired,
    TransferAsked,
    TransferJoined,
    TransferReady,
)
from routing.steps import step
from routing.transfers import refusal

T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)
LINES = {
    "detention": Line(
        "detention",
        ("chernivtsi", "sumy"),
        priority=100,
        callback_abandoned=True,
        take_message_after=45,
    ),
    "consultation": Line(
        "consultation", ("sumy",), priority=10, overflow=Overflow(60, ("chernivtsi",))
    ),
    "information": Line("information", ("chernivtsi",), priority=5),
}
OPERATORS = {
    "op1": Operator("op1", "Op 1", "chernivtsi", ("information", "detention"), ("uk", "en")),
    "op2": Operator(
        "op2", "Op 2", "chernivtsi", ("information", "detention", "consultation"), ("uk",)
    ),
    "op3": Operator("op3", "Op 3", "sumy", ("consultation", "detention"), ("uk", "en")),
    "op4": Operator("op4", "Op 4", "sumy", ("consultation",), ("en",)),
}
RULES = Rules(
    LINES,
    OPERATORS,
    Timings(wrap_up=10, pause_after_misses=2, callback_attempts=2, callback_retry=30),
    CallbackPolicy.of(
        [Allowed.of("UA", ["mobile", "fixed_line"])],
        per_number=2,
        per_hour=5,
        per_caller=3,
        own_per_hour={"sumy-org": 2},
    ),
    # consultations are another organisation's (with a lower cap of its own)
    {"detention": "ua", "information": "ua", "consultation": "sumy-org"},
)


class Run:
    """A queue fed signals one by one, keeping every effect."""

    def __init__(self, rules: Rules = RULES) -> None:
        self.rules = rules
        self.queue = Queue.empty(rules)
        self.now = T0
        self.effects: list[Effect] = []
        self.last: list[Effect] = []

    def __call__(self, signal: Signal) -> list[Effect]:
        self.queue, self.last = step(self.queue, signal, self.now, self.rules)
        self.effects += self.last
        return self.last

    def online(self, *operators: str) -> None:
        for op in operators:
            self(DeviceChanged(op, True))
            self(OperatorChanged(op, LogIn()))

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.effects if isinstance(e, kind)]

    def emitted(self, kind: str) -> list[Emit]:
        return [e for e in self.of(Emit) if e.fact.kind == kind]


def test_a_call_from_queue_to_wrap_up() -> None:
    run = Run()
    run.online("op3")
    effects = run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk", "380501234567"))
    (ring,) = [e for e in effects if isinstance(e, Ring)]
    assert (ring.call, ring.channel, ring.operator) == ("c1", "PJSIP/trunk-1", "op3")
    assert run.queue.operators["op3"].state is State.RINGING
    run.now += timedelta(seconds=2)
    run(RingAnswered("c1", "op3", "1.7"))
    (answered,) = run.emitted("call.answered")
    assert to_data(answered.fact) == {"operator": "op3", "wait": 2.0, "peer": "1.7"}
    run.now += timedelta(seconds=60)
    run(RingEnded("c1", "op3", "ANSWER"))  # the dial returned, the caller still there
    assert run.queue.operators["op3"].state is State.WRAP_UP
    (ended,) = run.emitted("call.ended")
    assert to_data(ended.fact) == {
        "outcome": "answered",
        "operator": "op3",
        "line": "consultation",
        "wait": 2.0,
        "talk": 60.0,
        "by": "operator",
    }
    (wrap,) = run.of(StartTimer)[-1:]
    assert (wrap.key, wrap.at) == ("wrap:op3", run.now + timedelta(seconds=10))
    assert run.queue.channels == {} and run.queue.callers == {}  # forgotten at the end


@pytest.mark.parametrize(
    ("source", "by"), [("op3", "operator"), ("trunk", "caller"), ("", "caller"), ("op4", "caller")]
)
def test_who_ended_a_conversation_is_the_hangup_source(source: str, by: str) -> None:
    run = Run()
    run.online("op3")
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk", "380501234567"))
    run(RingAnswered("c1", "op3"))
    run(HungUp("c1", by=source))  # the caller's hangup handler, with Asterisk's hangup source
    (ended,) = run.emitted("call.ended")
    assert (ended.fact.outcome, ended.fact.by) == ("answered", by)


def test_a_missed_ring_puts_the_call_back_at_the_head_and_pauses_after_two() -> None:
    run = Run()
    run.online("op3")
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk"))
    run(CallerQueued("c2", "PJSIP/trunk-2", "consultation", "uk"))
    run.now += timedelta(seconds=15)
    run(RingEnded("c1", "op3", "NOANSWER"))
    assert [r.call for r in run.of(Ring)] == ["c1", "c1"]  # back at the head
    run(RingEnded("c1", "op3", "NOANSWER"))
    assert run.queue.operators["op3"].state is State.PAUSED
    assert set(run.queue.waiting) == {"c1", "c2"}


def test_a_refused_callback_number_changes_nothing_but_says_why() -> None:
    run = Run()
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk", "380501234567"))
    effects = run(CallbackAsked("c1", "0900123456"))
    assert not run.queue.waiting["c1"].callback and "c1" not in run.queue.callbacks
    assert [e.fact.kind for e in effects if isinstance(e, Emit)] == ["callback.refused"]
    assert not any(isinstance(e, Keep) for e in effects)


def test_a_promised_callback_is_kept_before_anything_else() -> None:
    run = Run()
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk", "380501234567"))
    effects = run(CallbackAsked("c1", "380501234567"))
    assert isinstance(effects[0], Keep) and effects[0].must
    assert run.queue.waiting["c1"].callback and "c1" not in run.queue.channels


def test_an_abandoned_detention_caller_is_called_back_and_retried_then_given_up() -> None:
    run = Run()
    run(CallerQueued("d1", "PJSIP/trunk-1", "detention", "uk", "380661112233"))
    run(HungUp("d1"))
    assert run.queue.waiting["d1"].callback
    assert "message:d1" not in run.queue.timers  # no message offer for a callback
    run.online("op1")
    for attempt in (1, 2):
        (called,) = run.of(CallOperator)[-1:]
        assert (called.call, called.operator, called.attempt) == ("d1", "op1", attempt)
        run(CallbackPickedUp("d1", "op1"))
        run(CallbackEnded("d1", "NOANSWER"))
        if attempt == 1:
            assert run.queue.waiting["d1"].not_before == run.now + timedelta(seconds=30)
            run.now += timedelta(seconds=30)
            run(TimerFired("wrap:op1"))
            run(TimerFired("redial:d1"))
    (ended,) = run.emitted("call.ended")
    assert ended.fact.outcome == "callback-failed" and ended.fact.attempts == 2


def leaves(run: Run, call: str, way: str) -> None:
    """Detention caller ``call`` (op3 rings for them, or talks to them first) leaves ``way``."""
    match way:
        case "waiting":
            run(CallerQueued(call, f"PJSIP/trunk-{call}", "detention", "uk", "380661112233"))
            run(HungUp(call))
        case "ringing":
            run.online("op3")
            run(CallerQueued(call, f"PJSIP/trunk-{call}", "detention", "uk", "380661112233"))
            assert run.queue.offers[call].operator == "op3"
            run(HungUp(call))
            # op3 is free again, and rung at once to call them back
            assert [c.call for c in run.of(CallOperator)] == [call]
        case "dialogue":  # asked for a number, or to leave a message: the dialogue decides
            run(CallerQueued(call, f"PJSIP/trunk-{call}", "detention", "uk", "380661112233"))
            run(Held(call, True))
            run(HungUp(call))
            run(Held(call, False))
        case "transferred-line":  # hung up while hearing "connecting"
            run.online("op1")
            talking_to(run, call, "information", "op1", "380661112233")
            run(TransferAsked(call, Target("line", "detention"), "op1"))
            run(HungUp(call))
            run(TransferReady(call))
        case "transferred-operator":
            run.online("op1", "op3")
            talking_to(run, call, "detention", "op1", "380661112233")
            run(TimerFired("wrap:op1"))
            run(TransferAsked(call, Target("operator", "op3"), "op1"))
            assert run.queue.offers[call].operator == "op3"
            run(HungUp(call))
        case "transferred-centre":
            run.online("op1")
            talking_to(run, call, "detention", "op1", "380661112233")
            run(TransferAsked(call, Target("centre", "kyiv", "380441234567"), "op1"))
            run(HungUp(call))


@pytest.mark.parametrize(
    "way",
    [
        "waiting",
        "ringing",
        "dialogue",
        "transferred-line",
        "transferred-operator",
        "transferred-centre",
    ],
)
def test_a_detention_caller_who_leaves_before_a_person_answers_keeps_their_callback(
    way: str,
) -> None:
    run = Run()
    leaves(run, "d1", way)
    assert run.queue.callbacks["d1"].number == "380661112233", way
    (requested,) = run.emitted("callback.requested")
    assert (requested.fact.line, requested.fact.reason) == ("detention", "abandoned")
    assert not run.emitted("call.ended")
    assert "d1" not in run.queue.channels


def test_a_caller_of_a_line_without_callbacks_who_hangs_up_while_rung_is_abandoned() -> None:
    run = Run()
    run.online("op1")
    run(CallerQueued("i1", "PJSIP/trunk-i1", "information", "uk", "380661112233"))
    run(HungUp("i1"))
    (ended,) = run.emitted("call.ended")
    assert (ended.fact.outcome, ended.fact.while_ringing) == ("abandoned", "op1")
    assert not run.queue.waiting and not run.queue.callbacks


def test_callbacks_to_one_number_stop_at_the_hourly_cap() -> None:
    run = Run()
    for call in ("d1", "d2", "d3"):
        run(CallerQueued(call, f"PJSIP/trunk-{call}", "detention", "uk", "380661112233"))
        run(HungUp(call))
    run.online("op1")
    for call in ("d1", "d2"):
        run(CallbackPickedUp(call, "op1"))
        run(CallbackReached(call))
        run(CallbackEnded(call, "ANSWER"))
        run(TimerFired("wrap:op1"))
    (refused,) = run.emitted("callback.refused")
    assert refused.call == "d3" and "2 callbacks to this number" in refused.fact.reason
    assert run.queue.waiting["d3"].not_before == refused_until(run)


def test_callbacks_whose_operators_phones_ring_count_in_the_caps() -> None:
    """Three callbacks to one number, three operators free at once: two phones ring (the
    number's cap is 2 an hour), the third callback waits for those rings to end, not an hour."""
    run = Run()
    for call in ("d1", "d2", "d3"):
        run(CallerQueued(call, f"PJSIP/trunk-{call}", "detention", "uk", "380661112233"))
        run(HungUp(call))
    run.online("op1", "op2", "op3")
    assert sorted(c.call for c in run.of(CallOperator)) == ["d1", "d2"]
    assert refused_until(run) == run.now + timedelta(seconds=RULES.timings.callback_retry)


def test_an_operator_calls_a_notification_back_from_the_desk_once() -> None:
    """The desk's callback rings that operator at once, then dials the number; one attempt:
    not reached, it ends, and nobody else is rung for it."""
    run = Run()
    run.online("op1", "op2")
    desk = CallBackNow("n1", "op2", "123456", "detention", "uk", "380661112233")
    assert callback_refusal(run.queue, RULES, desk, run.now) is None
    run(desk)
    (called,) = run.of(CallOperator)
    assert (called.call, called.operator, called.number) == ("n1", "op2", "380661112233")
    assert [e.fact.reason for e in run.emitted("callback.requested")] == ["desk"]
    run(CallbackPickedUp("n1", "op2"))
    run(CallbackEnded("n1", "NOANSWER"))
    (ended,) = run.emitted("call.ended")
    assert ended.fact.outcome == "callback-failed" and "n1" not in run.queue.waiting
    assert run.queue.callbacks == {} and len(run.of(CallOperator)) == 1


def test_a_desk_callback_the_operator_does_not_pick_up_goes_to_nobody_else() -> None:
    run = Run()
    run.online("op1", "op2")
    run(CallBackNow("n1", "op2", "123456", "detention", "uk", "380661112233"))
    (called,) = run.of(CallOperator)
    run(CallbackFailed("n1", called.offer, no_answer=True))
    assert len(run.of(CallOperator)) == 1 and run.queue.operators["op2"].misses == 0
    assert run.emitted("call.ended")[0].fact.outcome == "callback-failed"
    assert run.queue.operators["op2"].state is State.AVAILABLE


def test_a_desk_callback_makes_the_notifications_parked_callback_now() -> None:
    """A notification's callback waiting for its next try is made now by the desk's
    operator, on its own call; while it is being made, nobody else may call it back."""
    run = Run()
    run(CallerQueued("d1", "PJSIP/trunk-1", "detention", "uk", "380661112233"))
    run(CallbackAsked("d1", "380661112233", "notification", "123456", "/rec/123456.wav"))
    run.online("op1", "op4")
    run(CallbackPickedUp("d1", "op1"))
    run(CallbackEnded("d1", "NOANSWER"))  # parked for its next try, in 30 s
    run(TimerFired("wrap:op1"))
    assert run.queue.waiting["d1"].not_before == run.now + timedelta(seconds=30)
    desk = CallBackNow("n1", "op1", "123456", "detention", "uk", "380661112233")
    run(desk)
    (_, again) = run.of(CallOperator)
    assert (again.call, again.operator, again.attempt) == ("d1", "op1", 2)
    assert "n1" not in run.queue.callbacks and "redial:d1" not in run.queue.timers
    run.online("op2")
    assert callback_refusal(run.queue, RULES, replace(desk, operator="op2"), run.now) == (
        "op1 is calling it back now"
    )
    assert callback_refusal(run.queue, RULES, replace(desk, operator="op4"), run.now) == (
        "op4 does not serve the line 'detention'"
    )
    assert callback_refusal(run.queue, RULES, replace(desk, operator="op9"), run.now) == (
        "there is no operator 'op9'"
    )


def test_a_desk_callback_says_why_it_cannot_be_made() -> None:
    run = Run()
    run.online("op1")
    run(OperatorChanged("op1", Pause("break")))
    desk = CallBackNow("n1", "op1", "123456", "detention", "uk", "380661112233")
    assert callback_refusal(run.queue, RULES, desk, run.now) == "op1 cannot call now (paused)"
    run(OperatorChanged("op1", Resume()))
    foreign = replace(desk, number="+447400123456")
    assert "a number of GB" in str(callback_refusal(run.queue, RULES, foreign, run.now))
    assert run(foreign) == [] and run.queue.callbacks == {}  # refused in the step as well


def test_callers_taken_over_are_queued_in_their_first_order_and_talks_go_on() -> None:
    """An instance taking over finds them in Asterisk in no particular order: the one who
    came first is offered first, and a caller talking to op3 goes on with op3."""
    run = Run()
    run.online("op1", "op3")
    run(OperatorChanged("op1", Pause("break")))
    late = CallerQueued("c2", "PJSIP/trunk-2", "information", "uk", "", T0 - timedelta(seconds=5))
    early = replace(late, call="c1", channel="PJSIP/trunk-1", entered=T0 - timedelta(seconds=50))
    talk = CallerQueued("c3", "PJSIP/trunk-3", "consultation", "uk", "", T0 - timedelta(minutes=3))
    run(Adopted((late, early), ((talk, "op3"),)))
    assert run.queue.operators["op3"].state is State.ON_CALL
    assert run.queue.offers["c3"].operator == "op3" and run.queue.offers["c3"].answered == T0
    assert [w.call for w in queue_order(run.queue.waiting.values())] == ["c1", "c2"]
    run(OperatorChanged("op1", Resume()))
    assert [r.call for r in run.of(Ring)] == ["c1"]
    run(RingEnded("c3", "op3", "ANSWER"))
    (ended,) = run.emitted("call.ended")
    assert (ended.call, ended.fact.outcome, ended.fact.operator) == ("c3", "answered", "op3")


def test_a_caller_ringing_an_operator_at_a_takeover_is_theirs_until_the_ring_ends() -> None:
    """Found in Dial to op1: not rung again; op1's answer makes it a talk, the end of an
    unanswered ring puts the caller back at the head of the queue (and op1, the only one
    free, is offered them again). Asterisk's word stands over what was known of op1: its
    phone not yet seen reachable (the new leader reads the phones' states after)."""
    for status, reachable in (("ANSWER", True), ("NOANSWER", True), ("ANSWER", False)):
        run = Run()
        run.online("op1")
        if not reachable:
            run(DeviceChanged("op1", False))
        ringing = CallerQueued(
            "c5", "PJSIP/trunk-5", "information", "uk", "", T0 - timedelta(seconds=20)
        )
        run(Adopted((), (), ((ringing, "op1"),)))
        assert run.queue.operators["op1"].state is State.RINGING and run.of(Ring) == []
        if status == "ANSWER":
            run(RingAnswered("c5", "op1"))
            assert run.queue.operators["op1"].state is State.ON_CALL
        run(RingEnded("c5", "op1", status))
        if status == "ANSWER":
            (ended,) = run.emitted("call.ended")
            assert (ended.fact.outcome, ended.fact.operator) == ("answered", "op1")
        else:
            assert run.emitted("call.missed")
            assert [r.call for r in run.of(Ring)] == ["c5"]  # offered again, its place kept
            assert run.queue.offers["c5"].waiting.entered == ringing.entered


def refused_until(run: Run) -> datetime:
    (refused,) = run.emitted("callback.refused")
    return datetime.fromisoformat(refused.fact.retry_at)


def test_a_failed_ring_is_tried_again_after_a_second_not_at_once() -> None:
    run = Run()
    run.online("op3")
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk"))
    (ring,) = run.of(Ring)
    run(RingFailed("c1", ring.offer))
    assert len(run.of(Ring)) == 1  # not at once: Asterisk is away
    run.now += timedelta(seconds=1)
    run(TimerFired("retry:c1"))
    assert len(run.of(Ring)) == 2


def test_an_unanswered_redirect_is_not_repeated_and_a_late_result_changes_nothing() -> None:
    run = Run()
    run.online("op3")
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk"))
    (ring,) = run.of(Ring)
    run(RingUncertain("c1", ring.offer))
    run.now += timedelta(seconds=5)
    run(TimerFired("retry:c1"))
    assert len(run.of(Ring)) == 1
    run(RingFailed("c1", ring.offer + 99))  # about an offer that is not this one
    assert run.queue.offers["c1"].uncertain


def test_restored_callbacks_come_back_in_order_with_their_schedule() -> None:
    from routing.signals import Pending

    run = Run()
    later = T0 + timedelta(seconds=20)
    run(
        Restore(
            {"op1": (State.PAUSED, "training")},
            (
                Pending("b", "detention", "uk", 100, T0 + timedelta(seconds=5), "380661112233"),
                Pending("a", "detention", "uk", 100, T0, "380671112244", next_try=later),
            ),
        )
    )
    assert [w.call for w in queue_order(run.queue.waiting.values())] == ["a", "b"]
    assert run.queue.waiting["a"].not_before == later
    assert run.queue.operators["op1"].pause_reason == "training"


def test_an_operator_event_that_does_not_apply_raises_and_changes_nothing() -> None:
    run = Run()
    before = run.queue
    with pytest.raises(OperatorError):
        run(OperatorChanged("op1", Pause("training")))  # logged out
    assert run.queue is before


def talking_to(run: Run, call: str, line: str, operator: str, caller: str = "") -> None:
    """``call`` queued on ``line`` and answered by ``operator`` (who must be its only choice)."""
    run(CallerQueued(call, f"PJSIP/trunk-{call}", line, "uk", caller))
    assert run.queue.offers[call].operator == operator
    run.now += timedelta(seconds=3)
    run(RingAnswered(call, operator))


def test_a_caller_transferred_to_a_line_keeps_their_arrival_and_hears_they_are_connected() -> None:
    run = Run()
    run.online("op1")
    talking_to(run, "c1", "information", "op1")
    run(CallerQueued("c2", "PJSIP/trunk-c2", "consultation", "uk"))  # came after c1
    run.now += timedelta(seconds=30)
    effects = run(TransferAsked("c1", Target("line", "consultation"), "op1"))
    assert run.queue.operators["op1"].state is State.WRAP_UP  # their part is over
    (moved,) = [e for e in effects if isinstance(e, Move)]
    assert (moved.call, moved.channel, moved.number) == ("c1", "PJSIP/trunk-c1", "")
    waiting = run.queue.waiting["c1"]
    assert (waiting.line, waiting.priority, waiting.held) == ("consultation", 10, True)
    assert waiting.talked == 30.0
    (transferred,) = run.emitted("call.transferred")
    assert to_data(transferred.fact) == {
        "target": "line",
        "to": "consultation",
        "mode": "blind",
        "by": "op1",
        "operator": "op1",
        "line": "information",
        "talk": 30.0,
    }
    assert not waiting.ready(run.now)  # not offered while they hear "connecting"
    run(TransferReady("c1"))
    run.online("op3")  # a lawyer comes: c1 first, who came before c2
    assert run.queue.offers["c1"].operator == "op3" and "c2" in run.queue.waiting
    run(RingAnswered("c1", "op3"))
    run.now += timedelta(seconds=20)
    run(HungUp("c1"))
    ended = run.emitted("call.ended")[-1].fact
    assert (ended.outcome, ended.operator, ended.talk, ended.wait) == ("answered", "op3", 50.0, 3.0)


def test_a_caller_transferred_to_an_operator_who_does_not_answer_returns_to_the_head() -> None:
    run = Run()
    run.online("op1", "op3")
    talking_to(run, "c1", "information", "op1")
    run(CallerQueued("c2", "PJSIP/trunk-c2", "information", "uk"))  # waits for op1
    effects = run(TransferAsked("c1", Target("operator", "op3"), "supervisor"))
    (ring,) = [e for e in effects if isinstance(e, Ring)]
    assert (ring.operator, ring.transferred) == ("op3", True)
    run(RingEnded("c1", "op3", "NOANSWER"))
    (failed,) = run.emitted("call.transfer_failed")
    assert (failed.fact.to, failed.fact.status) == ("op3", "NOANSWER")
    assert run.queue.waiting["c1"].line == "information"
    assert queue_order(run.queue.waiting.values())[0].call == "c1"  # ahead of c2


def test_refused_transfers_change_nothing_unless_the_phone_already_left() -> None:
    run = Run()
    run.online("op1", "op2")
    talking_to(run, "c1", "information", "op1")
    for target, why in (
        (Target("line", "nowhere"), "there is no line 'nowhere'"),
        (Target("operator", "op1"), "op1 is already talking to the caller"),
        (Target("operator", "op4"), "op4 cannot take a call now (phone unreachable)"),
        (Target("centre", "far", "0900123456"), "the centre 'far' cannot be called"),
        (Target("queue", "x"), "a transfer goes to one of line, operator, centre"),
    ):
        assert why in (refusal(run.queue, RULES, "c1", target) or ""), target
        before = run.queue
        run(TransferAsked("c1", target, "op1"))
        assert run.queue.offers == before.offers and run.queue.waiting == before.waiting
    # a REFER the phone already acted on: the caller goes back to the head of their queue
    run(TransferAsked("c1", Target("operator", "op1"), "op1", left=True))
    (failed,) = run.emitted("call.transfer_failed")
    assert failed.fact.status.startswith("refused: ")
    assert run.queue.offers["c1"].operator == "op2"  # the next free operator


def test_a_centre_that_does_not_answer_sends_the_caller_back_and_one_that_does_ends_it() -> None:
    run = Run()
    run.online("op1")
    talking_to(run, "c1", "information", "op1")
    effects = run(TransferAsked("c1", Target("centre", "kyiv", "380441234567"), "op1"))
    assert next(e for e in effects if isinstance(e, Move)).number == "380441234567"
    assert "c1" in run.queue.away and "c1" not in run.queue.waiting
    run(CentreEnded("c1", "NOANSWER"))
    assert "c1" not in run.queue.away and "c1" in run.queue.waiting
    run(TimerFired("wrap:op1"))
    run(RingAnswered("c1", "op1"))
    run(TransferAsked("c1", Target("centre", "kyiv", "380441234567"), "op1"))
    run(CentreAnswered("c1"))
    run(HungUp("c1"))
    ended = run.emitted("call.ended")[-1].fact
    assert (ended.outcome, ended.by) == ("transferred", "centre:kyiv")


def test_an_attended_transfer_hands_the_call_to_the_colleague_who_took_the_consultation() -> None:
    run = Run()
    run.online("op1", "op3")
    talking_to(run, "c1", "information", "op1")
    run(CallerQueued("c2", "PJSIP/trunk-c2", "consultation", "uk"))  # rings op3
    run(TransferJoined("c1", "op3", "op1"))
    assert run.queue.offers["c1"].operator == "op3" and "c2" in run.queue.waiting
    assert run.queue.operators["op3"].state is State.ON_CALL
    run(RingEnded("c1", "op1", "ANSWER"))  # the first operator's ring carried it: over
    ended = run.emitted("call.ended")[-1].fact
    assert (ended.outcome, ended.operator) == ("answered", "op3")


# -- invariants over random runs ---------------------------------------------------------------
CALLS = [f"c{i}" for i in range(8)]
NUMBERS = st.sampled_from(["380501234567", "380661112233", "anonymous", "0900123456"])


def candidate(queue: Queue, op: str, now: datetime) -> Candidate:
    known = OPERATORS[op]
    state = queue.operators[op]
    return Candidate(
        op,
        known.office,
        frozenset(known.lines),
        frozenset(known.languages),
        state.idle_since or datetime.min.replace(tzinfo=now.tzinfo),
    )


#: The random runs' rules: the consultations' organisation, and its lawyers op3 and op4, have
#: timings of their own (a longer ring and wrap-up, a pause at the first miss, one attempt).
MACHINE_RULES = replace(
    RULES,
    employers={"op1": "ua", "op2": "ua", "op3": "sumy-org", "op4": "sumy-org"},
    own={
        "sumy-org": Timings(
            ring_timeout=25,
            wrap_up=40,
            pause_after_misses=1,
            callback_attempts=1,
            callback_retry=90,
            default_handle_time=120,
        )
    },
)


class QueueMachine(RuleBasedStateMachine):
    """Random callers, operators, answers, hangups, timers and results: the rules hold."""

    def __init__(self) -> None:
        super().__init__()
        self.run = Run(MACHINE_RULES)
        self.timers: dict[str, datetime] = {}
        self.desk_calls = 0
        self.chosen = False

    def feed(self, signal: Signal) -> None:
        self.chosen = False  # an operator chose what to call (the desk): not the queue's order
        try:
            effects = self.run(signal)
        except OperatorError:
            return  # does not apply now: nothing changed
        for effect in effects:
            if isinstance(effect, StartTimer):
                self.timers[effect.key] = effect.at
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.key, None)

    @rule(
        call=st.sampled_from(CALLS),
        line=st.sampled_from(sorted(LINES)),
        language=st.sampled_from(["uk", "en"]),
        caller=NUMBERS,
    )
    def caller_arrives(self, call: str, line: str, language: str, caller: str) -> None:
        queue = self.run.queue
        if call in queue.callbacks or call in queue.offers or call in queue.away:
            return  # a call id is not reused while its story goes on
        self.feed(CallerQueued(call, f"PJSIP/trunk-{call}", line, language, caller))

    @rule(
        op=st.sampled_from(sorted(OPERATORS)),
        event=st.sampled_from([LogIn(), LogOut(), Pause("break"), Resume()]),
    )
    def operator_acts(self, op: str, event: Any) -> None:
        self.feed(OperatorChanged(op, event))

    @rule(op=st.sampled_from(sorted(OPERATORS)), reachable=st.booleans(), in_use=st.booleans())
    def phone_changes(self, op: str, reachable: bool, in_use: bool) -> None:
        self.feed(DeviceChanged(op, reachable, in_use))

    @rule(call=st.sampled_from(CALLS))
    def hangs_up(self, call: str) -> None:
        self.feed(HungUp(call))

    @rule(
        call=st.sampled_from(CALLS),
        number=NUMBERS,
        notification=st.sampled_from([None, "111111", "222222"]),
    )
    def asks_for_a_callback(self, call: str, number: str, notification: str | None) -> None:
        self.feed(CallbackAsked(call, number, "notification", notification))

    @rule(
        op=st.sampled_from(sorted(OPERATORS)),
        notification=st.sampled_from(["111111", "222222"]),
        number=NUMBERS,
    )
    def an_operator_calls_back_from_the_desk(self, op: str, notification: str, number: str) -> None:
        self.desk_calls += 1
        signal = CallBackNow(f"desk{self.desk_calls}", op, notification, "detention", "uk", number)
        if callback_refusal(self.run.queue, self.run.rules, signal, self.run.now) is None:
            self.feed(signal)  # (the switchboard asks first, as here)
            self.chosen = True

    @precondition(lambda self: bool(self.run.queue.offers))
    @rule(data=st.data())
    def an_offer_goes_on(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(sorted(self.run.queue.offers)))
        offered = self.run.queue.offers[call]
        what = data.draw(
            st.sampled_from(["answer", "end", "fail", "uncertain", "no-answer", "reach"])
        )
        if offered.waiting.callback:
            signal: Signal = {
                "answer": CallbackPickedUp(call, offered.operator),
                "reach": CallbackReached(call),
                "end": CallbackEnded(call, "ANSWER" if offered.answered else "NOANSWER"),
                "fail": CallbackFailed(call, offered.n, no_answer=False),
                "no-answer": CallbackFailed(call, offered.n, no_answer=True),
                "uncertain": CallbackEnded(call, "NOANSWER"),
            }[what]
        else:
            signal = {
                "answer": RingAnswered(call, offered.operator),
                "reach": RingAnswered(call, offered.operator),
                "end": RingEnded(call, offered.operator, "ANSWER"),
                "fail": RingFailed(call, offered.n),
                "no-answer": RingEnded(call, offered.operator, "NOANSWER"),
                "uncertain": RingUncertain(call, offered.n),
            }[what]
        self.feed(signal)

    @precondition(lambda self: any(o.answered for o in self.run.queue.offers.values()))
    @rule(data=st.data())
    def an_operator_transfers(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(sorted(self.run.queue.offers)))
        target = data.draw(
            st.one_of(
                st.builds(Target, st.just("line"), st.sampled_from(sorted(LINES))),
                st.builds(Target, st.just("operator"), st.sampled_from(sorted(OPERATORS))),
                st.builds(Target, st.just("centre"), st.just("kyiv"), NUMBERS),
            )
        )
        if data.draw(st.booleans()):
            self.feed(TransferAsked(call, target, "op", left=data.draw(st.booleans())))
        else:  # the phones did it (attended)
            self.feed(TransferJoined(call, target.name, "op"))

    @rule(call=st.sampled_from(CALLS))
    def hears_connecting(self, call: str) -> None:
        self.feed(TransferReady(call))

    @precondition(lambda self: bool(self.run.queue.away))
    @rule(data=st.data())
    def a_centre_answers_or_not(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(sorted(self.run.queue.away)))
        self.feed(
            data.draw(
                st.sampled_from(
                    [CentreAnswered(call), CentreEnded(call, "ANSWER"), CentreEnded(call, "BUSY")]
                )
            )
        )

    @precondition(lambda self: bool(self.timers))
    @rule()
    def the_next_timer_fires(self) -> None:
        key, at = min(self.timers.items(), key=lambda kv: kv[1])
        self.run.now = max(self.run.now, at)
        del self.timers[key]
        self.feed(TimerFired(key))

    @rule(seconds=st.integers(min_value=1, max_value=90))
    def time_passes(self, seconds: int) -> None:
        self.run.now += timedelta(seconds=seconds)
        # what became due fires in its order (a real clock fires every timer in time)
        for key, at in sorted(self.timers.items(), key=lambda kv: kv[1]):
            if at <= self.run.now and key in self.timers:
                del self.timers[key]
                self.feed(TimerFired(key))

    @rule(office=st.sampled_from(["sumy", "chernivtsi"]), minutes=st.none() | st.integers(1, 3))
    def office_goes_to_shelter(self, office: str, minutes: int | None) -> None:
        until = None if minutes is None else self.run.now + timedelta(minutes=minutes)
        self.feed(ShelterAsked(office, "sup1", until))

    @rule(office=st.sampled_from(["sumy", "chernivtsi"]))
    def shelter_ends(self, office: str) -> None:
        self.feed(ShelterOver(office, "sup1"))

    # -- the rules -------------------------------------------------------------------------
    @invariant()
    def nobody_in_shelter_is_free_or_rung(self) -> None:
        queue = self.run.queue
        for op in queue.operators.values():
            if OPERATORS[op.id].office in queue.shelters:
                assert not op.free, op
                assert op.state is not State.AVAILABLE, op
        for effect in self.run.last:
            if isinstance(effect, Ring | CallOperator):
                assert OPERATORS[effect.operator].office not in queue.shelters, effect

    @invariant()
    def no_operator_holds_two_calls(self) -> None:
        queue = self.run.queue
        holders = [o.operator for o in queue.offers.values()]
        assert len(holders) == len(set(holders))
        for offered in queue.offers.values():
            state = queue.operators[offered.operator]
            assert state.state in (State.RINGING, State.ON_CALL)
            assert state.call in queue.offers
        for op in queue.operators.values():
            if op.state in (State.RINGING, State.ON_CALL):
                assert queue.offers[op.call or ""].operator == op.id

    @invariant()
    def nobody_free_while_a_caller_they_may_serve_waits(self) -> None:
        queue, now = self.run.queue, self.run.now
        for op in queue.operators.values():
            if not op.free:
                continue
            for waiting in queue.waiting.values():
                if waiting.ready(now):
                    me = candidate(queue, op.id, now)
                    assert not may_take(me, waiting, LINES, now, queue.shelters), (
                        op.id,
                        waiting,
                    )

    @invariant()
    def first_come_first_served_within_a_priority(self) -> None:
        queue, now = self.run.queue, self.run.now
        for effect in [] if self.chosen else self.run.last:
            if not isinstance(effect, Ring | CallOperator) or effect.call not in queue.offers:
                continue
            offered = queue.offers[effect.call]
            me = candidate(queue, offered.operator, now)
            ahead = [
                w
                for w in queue.waiting.values()
                if w.ready(now)
                and (w.priority, -w.seq) > (offered.waiting.priority, -offered.waiting.seq)
                and may_take(me, w, LINES, now, queue.shelters)
            ]
            assert not ahead, (effect, ahead)

    @invariant()
    def every_timer_is_for_something_that_goes_on(self) -> None:
        queue = self.run.queue
        assert dict(queue.timers) == self.timers  # the effects said what the state holds
        for key in queue.timers:
            kind, _, name = key.partition(":")
            if kind == "wrap":
                assert queue.operators[name].state is State.WRAP_UP, key
            elif kind in ("overflow", "message", "retry", "redial"):
                assert name in queue.waiting or name in queue.offers or name in queue.away, key
            elif kind == "shelter":
                assert name in queue.shelters, key

    @invariant()
    def the_hourly_caps_hold(self) -> None:
        """No organisation makes more calls in an hour than its cap, no number gets more than
        its own, no calling number asks more often than the limit."""
        queue, now, policy = self.run.queue, self.run.now, RULES.callbacks
        hour = [d for d in queue.dialled if now - d.at < HOUR]
        for organisation in {d.organisation for d in hour}:
            made = sum(1 for d in hour if d.organisation == organisation)
            assert made <= policy.hourly(organisation), (organisation, hour)
        for number in {d.number for d in hour}:
            assert sum(1 for d in hour if d.number == number) <= policy.per_number_per_hour
        asked = [(r.caller, r.organisation) for r in queue.requests if now - r.at < HOUR]
        for who in set(asked):
            assert withheld(who[0]) or asked.count(who) <= policy.per_caller_per_hour, who

    @invariant()
    def a_call_is_in_one_place(self) -> None:
        queue = self.run.queue
        places = [set(queue.waiting), set(queue.offers), set(queue.away)]
        assert all(not (a & b) for i, a in enumerate(places) for b in places[i + 1 :])
        for call in queue.callbacks:
            assert call in queue.waiting or call in queue.offers


QueueMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestQueueRules = QueueMachine.TestCase


def test_a_run_keeps_the_queue_it_was_given() -> None:
    run = Run()
    run.online("op3")
    before = run.queue
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk"))
    assert "c1" not in before.waiting and "c1" not in before.offers
    assert before.operators["op3"].state is State.AVAILABLE
    assert replace(before) == before


def test_an_erased_callers_pending_callback_is_not_made_and_leaves_the_disk() -> None:
    run = Run()
    run(CallerQueued("d1", "PJSIP/trunk-1", "detention", "uk", "380661112233"))
    run(HungUp("d1"))
    assert run.queue.waiting["d1"].callback
    effects = run(CallerErased("d1"))
    assert "d1" not in run.queue.waiting and "d1" not in run.queue.callbacks
    assert Forget("d1") in effects
    (ended,) = run.emitted("call.ended")
    assert (ended.fact.outcome, ended.fact.reason) == ("handled", "erased")
    run.online("op1")
    assert run.of(CallOperator) == []  # nobody is rung to call them back
    assert run(CallerErased("d1")) == []  # (a second erasure: nothing more)


def test_a_planned_callback_waits_for_its_time_then_goes_before_later_callers() -> None:
    run = Run()
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk", "380501234567"))
    at = T0 + timedelta(hours=9)  # 18:00 in Kyiv
    effects = run(CallbackAsked("c1", "380501234567", at=at))
    (kept,) = [e for e in effects if isinstance(e, Keep)]
    assert kept.must and kept.pending.next_try == at  # on disk with its time, before all else
    (asked,) = run.emitted("callback.requested")
    assert asked.fact.at == at.isoformat()
    run.online("op3")
    assert not run.of(CallOperator)  # not before its time
    run.now = at - timedelta(hours=1)
    run(CallerQueued("c2", "PJSIP/trunk-2", "consultation", "uk"))  # someone else comes
    assert [r.call for r in run.of(Ring)] == ["c2"]
    run(RingAnswered("c2", "op3"))
    run(HungUp("c2"))
    run(CallerQueued("c3", "PJSIP/trunk-3", "consultation", "uk"))  # and another, waiting
    run.now = at
    effects = run(TimerFired("redial:c1"))
    # op3 is in wrap-up: at its end, c1 (planned, who came first) goes before c3
    run.now += timedelta(seconds=11)
    run(TimerFired("wrap:op3"))
    assert [e.call for e in run.of(CallOperator)] == ["c1"]


def test_a_planned_time_already_past_is_now() -> None:
    run = Run()
    run(CallerQueued("c1", "PJSIP/trunk-1", "consultation", "uk", "380501234567"))
    run(CallbackAsked("c1", "380501234567", at=T0 - timedelta(minutes=1)))
    assert run.queue.waiting["c1"].not_before is None
    assert not [k for k in run.queue.timers if k.startswith("redial:")]
