"""Each organisation's timings in the queue: a call's (its ring timeout, its callbacks' attempts
and retries, its wait estimate) are its line's organisation's; an operator's (their wrap-up,
the misses that pause them) their own organisation's, whichever line the call was on."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from agents.state import State
from routing import queue
from routing.queue import Rules, Timings
from routing.signals import (
    CallbackAsked,
    CallbackEnded,
    CallbackPickedUp,
    CallerQueued,
    CallOperator,
    Ring,
    RingAnswered,
    RingEnded,
    StartTimer,
    TimerFired,
)
from tests.unit.routing.test_queue import RULES, Run

#: Ukraine's information and detentions (op1, op2) and another organisation's consultations
#: (op3, op4), each with timings of its own; op2, Ukraine's, also answers consultations.
UA = Timings(
    ring_timeout=15, wrap_up=10, pause_after_misses=2, callback_attempts=2, callback_retry=30
)
SUMY = Timings(
    ring_timeout=25,
    wrap_up=40,
    pause_after_misses=1,
    callback_attempts=1,
    callback_retry=90,
    default_handle_time=120,
)
TWO = replace(
    RULES,
    timings=Timings(ring_timeout=99, wrap_up=99),  # the deployment's: nobody's here
    employers={"op1": "ua", "op2": "ua", "op3": "sumy-org", "op4": "sumy-org"},
    own={"ua": UA, "sumy-org": SUMY},
)


def rung(run: Run, call: str, line: str, operator: str) -> Ring:
    """``operator`` alone online, rung for a new caller on ``line``: the ring (op2, of
    another office than the consultations', once they overflow to it)."""
    run.online(operator)
    run(CallerQueued(call, f"PJSIP/trunk-{call}", line, "uk", "380501234567"))
    if f"overflow:{call}" in run.queue.timers and call in run.queue.waiting:
        run.now = run.queue.timers[f"overflow:{call}"]
        run(TimerFired(f"overflow:{call}"))
    (ring,) = [e for e in run.last if isinstance(e, Ring)]
    assert ring.operator == operator
    return ring


@pytest.mark.parametrize(
    ("line", "operator", "seconds"),
    [
        ("information", "op1", 15),
        ("consultation", "op3", 25),
        ("consultation", "op2", 25),  # a Ukrainian rung for the other's line: the line's
    ],
)
def test_a_call_rings_as_long_as_its_lines_organisation_says(
    line: str, operator: str, seconds: float
) -> None:
    assert rung(Run(TWO), "c1", line, operator).ring_timeout == seconds


@pytest.mark.parametrize(
    ("line", "operator", "seconds"),
    [
        ("information", "op1", 10),
        ("consultation", "op3", 40),
        ("consultation", "op2", 10),  # the operator's own organisation's wrap-up
    ],
)
def test_an_operator_wraps_up_as_long_as_their_organisation_says(
    line: str, operator: str, seconds: float
) -> None:
    run = Run(TWO)
    rung(run, "c1", line, operator)
    run(RingAnswered("c1", operator))
    run.now += timedelta(seconds=60)
    run(RingEnded("c1", operator, "ANSWER"))
    assert run.queue.operators[operator].state is State.WRAP_UP
    (wrap,) = [e for e in run.last if isinstance(e, StartTimer)]
    assert (wrap.key, wrap.at) == (f"wrap:{operator}", run.now + timedelta(seconds=seconds))


@pytest.mark.parametrize(
    ("line", "operator", "paused"),
    [
        ("information", "op1", False),  # Ukraine pauses at the second miss in a row
        ("consultation", "op3", True),  # the other at the first
        ("consultation", "op2", False),  # the operator's organisation's, not the line's
    ],
)
def test_misses_pause_an_operator_as_their_organisation_says(
    line: str, operator: str, paused: bool
) -> None:
    run = Run(TWO)
    rung(run, "c1", line, operator)
    run(RingEnded("c1", operator, "NOANSWER"))
    state = run.queue.operators[operator]
    assert (state.state is State.PAUSED, state.misses) == (paused, 1)


@pytest.mark.parametrize(
    ("line", "operator", "attempts", "retry"),
    [("information", "op1", 2, 30), ("consultation", "op3", 1, 90)],
)
def test_a_callback_is_tried_as_its_lines_organisation_says(
    line: str, operator: str, attempts: int, retry: float
) -> None:
    run = Run(TWO)
    run(CallerQueued("c1", "PJSIP/trunk-c1", line, "uk", "380501234567"))
    run(CallbackAsked("c1", "380501234567"))
    run.online(operator)
    for attempt in range(1, attempts + 1):
        (called,) = run.of(CallOperator)[-1:]
        expected = ("c1", operator, attempt, TWO.own[TWO.owners[line]].ring_timeout)
        assert (called.call, called.operator, called.attempt, called.ring_timeout) == expected
        run(CallbackPickedUp("c1", operator))
        run(CallbackEnded("c1", "NOANSWER"))
        if attempt < attempts:
            assert run.queue.waiting["c1"].not_before == run.now + timedelta(seconds=retry)
            run.now += timedelta(seconds=retry)
            run(TimerFired(f"wrap:{operator}"))
            run(TimerFired("redial:c1"))
    (ended,) = run.emitted("call.ended")
    assert (ended.fact.outcome, ended.fact.attempts) == ("callback-failed", attempts)


@pytest.mark.parametrize(
    ("line", "seconds"),
    [
        ("information", 2 * 300 / 2),  # two ahead, op1 and op2 serving, Ukraine's 300 s
        ("consultation", 2 * 120 / 3),  # op2, op3 and op4, the other's 120 s
    ],
)
def test_a_wait_is_estimated_with_its_lines_organisations_handle_time(
    line: str, seconds: float
) -> None:
    run = Run(TWO)
    run.online("op1", "op2", "op3", "op4")
    assert queue.estimate(run.queue, TWO, line, 3) == pytest.approx(seconds)


def test_what_belongs_to_no_organisation_has_the_deployments_timings() -> None:
    rules = Rules(RULES.lines, RULES.operators, Timings(ring_timeout=20, wrap_up=5))
    assert rules.of_line("information") == rules.of_operator("op1") == rules.timings
    assert rung(Run(rules), "c1", "information", "op1").ring_timeout == 20
