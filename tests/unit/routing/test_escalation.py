"""A report's escalation: the chain's table cases, then its promises over random sequences of
signals (hypothesis): it never simply stops, nobody is rung twice in a round, and its facts
rebuild it exactly (what a restart or another instance does)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from agents.rota import DutyRole, Person
from routing import events as ev
from routing.escalation import (
    AcceptFor,
    Begin,
    Chain,
    Closed,
    Due,
    Escalation,
    OnDuty,
    Outcome,
    Restart,
    Signal,
    Skip,
    Step,
    decide,
    evolve,
    replay,
)

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)  # 03:00 on a Sunday in Kyiv
LAWYER, SUPERVISOR = DutyRole.LAWYER, DutyRole.SUPERVISOR
KOVALENKO = Person("kovalenko", "Olena Kovalenko", "0671234501", "ok@example.org", "uk")
BONDAR = Person("bondar", "Petro Bondar", "0671234502", None, "uk")
MELNYK = Person("melnyk", "Iryna Melnyk", "0671234503", "im@example.org", "en")
DUTY: OnDuty = {LAWYER: (KOVALENKO, BONDAR), SUPERVISOR: (MELNYK,)}
CHAIN = Chain(
    (
        Step(LAWYER, wait=300, sms=True, email=True),
        Step(LAWYER, wait=300),
        Step(SUPERVISOR, wait=300, sms=True),
    ),
    family_sms=True,
    again_after=600,
    retry=60,
)


class Run:
    """One report's escalation, fed signals, keeping every fact."""

    def __init__(self, duty: OnDuty = DUTY, chain: Chain = CHAIN) -> None:
        self.duty, self.chain = duty, chain
        self.now = T0
        self.escalation: Escalation | None = None
        self.facts: list[tuple[ev.Fact, datetime]] = []
        self.capped: dict[str, datetime] = {}

    def __call__(self, signal: Signal) -> list[ev.Fact]:
        facts = decide(
            self.escalation,
            signal,
            self.now,
            self.chain,
            lambda: self.duty,
            lambda number: self.capped.get(number),
        )
        for fact in facts:
            self.escalation = evolve(self.escalation, fact, self.now)
            self.facts.append((fact, self.now))
        return facts

    def rung(self) -> list[str]:
        return [f.person for f, _ in self.facts if isinstance(f, ev.EscalationRinging)]

    @property
    def attempt(self) -> int:
        assert self.escalation is not None and self.escalation.ringing is not None
        return self.escalation.ringing.n


def begin(run: Run) -> list[ev.Fact]:
    return run(Begin("4821", "detention", "uk", "380661112233"))


def test_the_first_duty_lawyer_is_rung_and_written_to_and_the_family_texted() -> None:
    run = Run()
    facts = begin(run)
    assert [f.kind for f in facts] == [
        "escalation.started",
        "escalation.notified",  # the family
        "escalation.ringing",
        "escalation.notified",  # the lawyer's SMS
        "escalation.notified",  # and e-mail
    ]
    family, lawyer_sms, lawyer_mail = [f for f in facts if isinstance(f, ev.EscalationNotified)]
    assert (family.person, family.channel, family.to, family.language) == (
        "family",
        "sms",
        "380661112233",
        "uk",
    )
    assert (lawyer_sms.to, lawyer_mail.to) == ("0671234501", "ok@example.org")
    (ringing,) = [f for f in facts if isinstance(f, ev.EscalationRinging)]
    assert (ringing.attempt, ringing.step, ringing.round, ringing.person, ringing.role) == (
        1,
        0,
        1,
        "kovalenko",
        "lawyer",
    )


def test_a_refusal_and_no_answer_move_on_at_once_until_the_supervisor_accepts() -> None:
    run = Run()
    begin(run)
    run(Outcome("4821", 1, "declined"))
    assert run.rung() == ["kovalenko", "bondar"]
    run.now += timedelta(seconds=30)
    run(Outcome("4821", 2, "NOANSWER"))
    assert run.rung() == ["kovalenko", "bondar", "melnyk"]
    facts = run(Outcome("4821", 3, "accepted"))
    assert [f.kind for f in facts] == ["escalation.accepted", "escalation.stopped"]
    assert run.escalation is not None and run.escalation.accepted == ("melnyk", "melnyk", run.now)
    assert run(Due("4821")) == [] and run(Outcome("4821", 3, "declined")) == []


def test_after_the_last_step_it_starts_again_from_the_top_no_sooner_than_the_round_allows() -> None:
    run = Run()
    begin(run)
    for attempt in (1, 2):
        run(Outcome("4821", attempt, "BUSY"))
    facts = run(Outcome("4821", 3, "FAILED"))
    assert [f.kind for f in facts][-2:] == ["escalation.round", "escalation.waiting"]
    assert run.escalation is not None and run.escalation.until == T0 + timedelta(seconds=600)
    run.now += timedelta(seconds=599)
    assert run(Due("4821")) == []
    run.now += timedelta(seconds=1)
    run(Due("4821"))
    assert run.rung() == ["kovalenko", "bondar", "melnyk", "kovalenko"]
    assert run.escalation.round == 2


def test_a_call_heard_without_a_key_waits_for_the_steps_time_then_goes_on() -> None:
    run = Run()
    begin(run)
    facts = run(Outcome("4821", 1, "HUNGUP"))
    assert [f.kind for f in facts] == ["escalation.unanswered", "escalation.waiting"]
    run.now += timedelta(seconds=299)
    assert run(Due("4821")) == []
    run.now += timedelta(seconds=1)
    run(Due("4821"))
    assert run.rung() == ["kovalenko", "bondar"]


def test_nobody_on_duty_is_looked_for_again_until_someone_is() -> None:
    run = Run(duty={})
    facts = begin(run)
    assert facts[-1] == ev.EscalationWaiting(
        "4821", (T0 + timedelta(seconds=60)).isoformat(), "nobody"
    )
    run.now += timedelta(seconds=60)
    run(Due("4821"))
    assert run.rung() == []
    run.duty = {SUPERVISOR: (MELNYK,)}  # the supervisor's shift begins
    run.now += timedelta(seconds=60)
    run(Due("4821"))
    assert run.rung() == ["melnyk"] and run.escalation is not None
    assert run.escalation.round == 1  # (looking again is no new round)


def test_the_hourly_calls_used_up_wait_until_they_allow_one() -> None:
    run = Run()
    lifted = T0 + timedelta(minutes=20)
    run.capped = {p.phone or "": lifted for p in (KOVALENKO, BONDAR, MELNYK)}
    facts = begin(run)
    assert facts[-1] == ev.EscalationWaiting("4821", lifted.isoformat(), "capped")
    run.capped, run.now = {}, lifted
    run(Due("4821"))
    assert run.rung() == ["kovalenko"]


def test_a_closed_report_stops_its_escalation_and_a_late_answer_changes_nothing() -> None:
    run = Run()
    begin(run)
    assert [f.kind for f in run(Closed("4821", "op1"))] == ["escalation.stopped"]
    assert run(Outcome("4821", 1, "accepted")) == []
    assert run.escalation is not None and run.escalation.stopped == "handled"


def test_a_supervisor_restarts_skips_and_accepts_on_someones_behalf() -> None:
    run = Run()
    begin(run)
    assert [f.kind for f in run(Skip("4821", "sup1"))] == ["escalation.skipped"]  # (ringing)
    run(Outcome("4821", 1, "HUNGUP"))  # waiting for acceptance
    run(Skip("4821", "sup1"))
    assert run.rung() == ["kovalenko", "bondar"]
    run(Outcome("4821", 2, "NOANSWER"))  # the supervisor is rung
    run(Outcome("4821", 3, "NOANSWER"))  # round over: waiting for the next
    run(Restart("4821", "sup1"))  # from the top, now
    assert run.rung() == ["kovalenko", "bondar", "melnyk", "kovalenko"]
    facts = run(AcceptFor("4821", "bondar", "supervisor:sup1"))
    assert facts[0] == ev.EscalationAccepted("4821", "bondar", "supervisor:sup1")
    assert run.escalation is not None and run.escalation.stopped == "accepted"


signals = st.one_of(
    st.builds(
        Outcome,
        st.just("4821"),
        st.integers(1, 12),
        st.sampled_from(
            ["declined", "NOANSWER", "BUSY", "FAILED", "HUNGUP", "UNKNOWN", "accepted"]
        ),
    ),
    st.builds(Due, st.just("4821")),
    st.builds(Skip, st.just("4821"), st.just("sup1")),
    st.builds(Restart, st.just("4821"), st.just("sup1")),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(signals, st.integers(0, 900)), max_size=30),
    st.lists(st.sampled_from([KOVALENKO, BONDAR]), unique=True),
    st.booleans(),
)
def test_it_never_simply_stops_rings_nobody_twice_a_round_and_its_facts_rebuild_it(
    steps: list[tuple[Signal, int]], lawyers: list[Person], supervisor: bool
) -> None:
    run = Run(duty={LAWYER: tuple(lawyers), SUPERVISOR: (MELNYK,) if supervisor else ()})
    begin(run)
    for signal, seconds in steps:
        run.now += timedelta(seconds=seconds)
        if isinstance(signal, Outcome) and run.escalation and run.escalation.ringing:
            signal = Outcome("4821", run.attempt, signal.outcome)
        run(signal)
        e = run.escalation
        assert e is not None
        # never simply stops: accepted, or a call under way, or a time to go on
        assert e.stopped == "accepted" or e.ringing is not None or e.until is not None, e
        rounds = [(a.round, a.person) for a in e.attempts]
        assert len(rounds) == len(set(rounds)), rounds
        assert replay(run.facts) == e
