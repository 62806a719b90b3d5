"""An office in shelter (an air-raid alert): its operators paused, its lines served by the
other offices at once, talks undisturbed, the end at a set time or when a supervisor says."""

from __future__ import annotations

from datetime import timedelta

from agents.state import LogIn, Pause, State
from routing.events import to_data
from routing.queue import Shelter
from routing.signals import (
    CallerQueued,
    OperatorChanged,
    Restore,
    Ring,
    RingAnswered,
    RingEnded,
    ShelterAsked,
    ShelterOver,
    StartTimer,
    TimerFired,
)
from tests.unit.routing.test_queue import T0, Run


def waiting_in_sumy(run: Run, *calls: str, language: str = "uk") -> None:
    for call in calls:
        run(CallerQueued(call, f"PJSIP/trunk-{call}", "consultation", language))
        run.now += timedelta(seconds=1)


def test_the_waiting_callers_are_rung_in_the_other_office_at_once_in_their_order() -> None:
    run = Run()
    run.online("op3", "op4")
    waiting_in_sumy(run, "talk3")  # the two lawyers of Sumy talk
    waiting_in_sumy(run, "talk4", language="en")
    run(RingAnswered("talk3", "op3"))
    run(RingAnswered("talk4", "op4"))
    waiting_in_sumy(run, "c1", "c2", "c3")
    run.online("op2")  # Chernivtsi: consultations only after the overflow's 60 s
    assert not [r for r in run.last if isinstance(r, Ring)]
    run.now += timedelta(seconds=5)
    effects = run(ShelterAsked("sumy", "sup1"))
    assert [(r.call, r.operator) for r in effects if isinstance(r, Ring)] == [("c1", "op2")]
    # the talks go on; the callers who waited hear why (their timelines say so)
    assert run.queue.operators["op3"].state is State.ON_CALL
    assert {e.call for e in effects if e.__class__.__name__ == "Emit"} >= {"c1", "c2", "c3"}
    sheltered = [e for e in run.emitted("call.sheltered")]
    assert sorted(e.call for e in sheltered) == ["c1", "c2", "c3"]
    (began,) = run.emitted("office.shelter")
    assert to_data(began.fact) == {"office": "sumy", "by": "sup1", "since": run.now.isoformat()}
    # op2 answers, ends the call, wraps up: the next in order is theirs
    run(RingAnswered("c1", "op2"))
    run(RingEnded("c1", "op2", "ANSWER"))
    run.now += timedelta(seconds=11)
    effects = run(TimerFired("wrap:op2"))
    assert [(r.call, r.operator) for r in effects if isinstance(r, Ring)] == [("c2", "op2")]


def test_its_operators_pause_for_it_as_they_come_free_and_come_back_when_it_ends() -> None:
    run = Run()
    run.online("op3", "op4")
    run(OperatorChanged("op4", Pause("break")))
    waiting_in_sumy(run, "talk3")
    run(RingAnswered("talk3", "op3"))
    run(ShelterAsked("sumy", "sup1"))
    run(RingEnded("talk3", "op3", "ANSWER"))  # the lawyer finishes the call...
    run.now += timedelta(seconds=11)
    run(TimerFired("wrap:op3"))  # ...and the wrap-up: paused for the shelter, not rung
    assert (run.queue.operators["op3"].state, run.queue.operators["op3"].pause_reason) == (
        State.PAUSED,
        "shelter",
    )
    run(OperatorChanged("op4", LogIn()))  # a pause of their own ends into the shelter's
    run(OperatorChanged("op4", Pause("break")))
    waiting_in_sumy(run, "c1")
    assert not [r for r in run.last if isinstance(r, Ring)]  # nobody in Chernivtsi is in
    run(ShelterOver("sumy", "sup1"))
    assert run.queue.operators["op4"].pause_reason == "break"  # their own pause stands
    assert [(r.call, r.operator) for r in run.last if isinstance(r, Ring)] == [("c1", "op3")]
    (ended,) = run.emitted("office.shelter_ended")
    assert to_data(ended.fact) == {"office": "sumy", "by": "sup1"}


def test_it_ends_at_its_set_time_and_a_new_time_replaces_the_old() -> None:
    run = Run()
    run.online("op3")
    run(ShelterAsked("sumy", "sup1", T0 + timedelta(minutes=30)))
    effects = run(ShelterAsked("sumy", "sup2", T0 + timedelta(minutes=45)))
    (timer,) = [e for e in effects if isinstance(e, StartTimer)]
    assert (timer.key, timer.at) == ("shelter:sumy", T0 + timedelta(minutes=45))
    assert run.queue.shelters["sumy"] == Shelter("sumy", T0, "sup1", T0 + timedelta(minutes=45))
    run.now = T0 + timedelta(minutes=45)
    run(TimerFired("shelter:sumy"))
    assert not run.queue.shelters and run.queue.operators["op3"].state is State.AVAILABLE
    (ended,) = run.emitted("office.shelter_ended")
    assert ended.fact.by == "schedule"


def test_a_caller_who_comes_during_it_is_told_on_their_timeline() -> None:
    run = Run()
    run(ShelterAsked("sumy", "sup1"))
    run(CallerQueued("i1", "PJSIP/trunk-i1", "information", "uk"))  # Chernivtsi's only
    waiting_in_sumy(run, "c1")
    assert [e.call for e in run.emitted("call.sheltered")] == ["c1"]


def test_a_restart_keeps_it_and_ends_what_ran_out_meanwhile() -> None:
    run = Run()
    presence = {"op3": (State.PAUSED, "shelter"), "op1": (State.PAUSED, "shelter")}
    kept = (
        Shelter("sumy", T0 - timedelta(minutes=5), "sup1"),
        Shelter("chernivtsi", T0 - timedelta(hours=2), "sup1", T0 - timedelta(hours=1)),
    )
    run(Restore(presence, (), kept))
    assert set(run.queue.shelters) == {"sumy"}
    assert run.queue.operators["op3"].pause_reason == "shelter"
    assert run.queue.operators["op1"].state is State.AVAILABLE  # Chernivtsi's is over
