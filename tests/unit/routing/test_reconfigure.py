"""The deployment reloaded while calls go on: operators and lines added and taken out, nobody
waiting losing their place, no talk cut."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from agents.operator import Operator
from agents.state import State
from routing.lines import Line
from routing.reconfigure import retained
from routing.signals import (
    CallerQueued,
    Reconfigured,
    Ring,
    RingAnswered,
    RingEnded,
    TimerFired,
)
from tests.unit.routing.test_queue import LINES, OPERATORS, RULES, Run


def reload(run: Run, lines: dict[str, Line], operators: dict[str, Operator]) -> list[object]:
    """What the switchboard does at a reload: the rules to run with, then the step."""
    run.rules = retained(run.queue, run.rules, replace(RULES, lines=lines, operators=operators))
    return list(run(Reconfigured()))


def test_an_operator_added_is_there_logged_out_and_rung_once_they_log_in() -> None:
    run = Run(replace(RULES, operators={k: v for k, v in OPERATORS.items() if k != "op1"}))
    run(CallerQueued("c1", "PJSIP/trunk-1", "information", "uk"))
    run.now += timedelta(seconds=1)
    run(CallerQueued("c2", "PJSIP/trunk-2", "information", "uk"))
    assert "op1" not in run.queue.operators
    reload(run, LINES, OPERATORS)
    assert run.queue.operators["op1"].state is State.LOGGED_OUT
    assert list(run.queue.waiting) == ["c1", "c2"]  # in their order, nobody re-queued
    run.online("op1")
    assert [(r.call, r.operator) for r in run.of(Ring)] == [("c1", "op1")]


def test_an_operator_taken_out_while_talking_keeps_the_call_and_is_offered_nothing_more() -> None:
    run = Run()
    run.online("op1", "op3")
    run(CallerQueued("c1", "PJSIP/trunk-1", "information", "uk"))
    run(RingAnswered("c1", "op1"))
    without = {k: v for k, v in OPERATORS.items() if k != "op1"}
    reload(run, LINES, without)
    assert run.queue.operators["op1"].state is State.ON_CALL  # the talk goes on
    assert "op1" in run.rules.leaving
    run(CallerQueued("c2", "PJSIP/trunk-2", "information", "uk"))
    run.now += timedelta(seconds=60)
    run(RingEnded("c1", "op1", "ANSWER"))
    (ended,) = run.emitted("call.ended")
    assert (ended.fact.outcome, ended.fact.operator) == ("answered", "op1")
    run.now += timedelta(seconds=11)
    run(TimerFired("wrap:op1"))
    assert [r.call for r in run.of(Ring) if r.operator == "op1"] == ["c1"]  # not c2
    assert run.queue.operators["op1"].state is State.LOGGED_OUT  # once their call was over
    reload(run, LINES, without)  # the next reload lets them go
    assert "op1" not in run.queue.operators and "op1" not in run.rules.operators


def test_an_operator_taken_out_while_free_leaves_at_once_and_it_is_said() -> None:
    run = Run()
    run.online("op1", "op2")
    reload(run, LINES, {k: v for k, v in OPERATORS.items() if k != "op2"})
    assert "op2" not in run.queue.operators and "op2" not in run.rules.operators
    (left,) = [e for e in run.emitted("operator.state") if e.fact.operator == "op2"][-1:]
    assert left.fact.state == "logged_out"


def test_a_line_taken_out_keeps_the_callers_waiting_on_it_until_they_are_served() -> None:
    run = Run()
    run(CallerQueued("c1", "PJSIP/trunk-1", "information", "uk"))
    lines = {k: v for k, v in LINES.items() if k != "information"}
    operators = {k: replace(v, lines=(*v.lines, "information")) for k, v in OPERATORS.items()}
    reload(run, lines, operators)
    assert "information" in run.rules.lines and list(run.queue.waiting) == ["c1"]
    run.online("op1")
    assert [(r.call, r.operator) for r in run.of(Ring)] == [("c1", "op1")]


def test_an_operator_given_a_line_and_a_line_given_an_office_serve_those_waiting_at_once() -> None:
    run = Run()
    run.online("op4")  # Sumy, consultations only
    run(CallerQueued("c1", "PJSIP/trunk-1", "information", "en"))  # Chernivtsi's line
    assert not run.of(Ring)
    lines = {**LINES, "information": replace(LINES["information"], offices=("chernivtsi", "sumy"))}
    operators = {
        **OPERATORS,
        "op4": replace(OPERATORS["op4"], lines=("consultation", "information")),
    }
    effects = reload(run, lines, operators)
    assert [(r.call, r.operator) for r in effects if isinstance(r, Ring)] == [("c1", "op4")]


def test_a_reload_that_changes_nothing_changes_nothing() -> None:
    run = Run()
    run.online("op1")
    run(CallerQueued("c1", "PJSIP/trunk-1", "information", "uk"))
    before = run.queue
    assert reload(run, LINES, OPERATORS) == []
    assert run.queue.operators == before.operators and run.queue.offers == before.offers
