"""A detention report's escalation to the people on duty, as an on-call system runs one: ring
the first duty lawyer; a refusal, no answer, a busy line or a failed call: the next at once;
then the supervisor on duty; then again from the top, until a person accepts the report or it
is closed. It never simply stops. Pure: no I/O, no clock (``now`` and who is on duty passed in).

Event-sourced, in two functions: :func:`decide` says what happens (facts of
:mod:`routing.events`) on a signal, :func:`evolve` folds one fact into the escalation. The
service journals the facts before it acts on them, so the same facts rebuild the escalation
after a restart (or, from the shared database, on another instance): nobody is rung twice
for the same step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from agents.rota import DutyRole, Person
from routing import events as ev

#: What a call to a person can come to (besides ``accepted`` and ``declined``).
STATUSES = ("NOANSWER", "BUSY", "FAILED", "HUNGUP", "UNKNOWN", "FENCED")


@dataclass(frozen=True)
class Step:
    """One link of a chain: ring the next person on duty as ``ring``; ``wait``: seconds given
    to them to accept (from the desk, say) after a call they heard without a key; ``sms`` and
    ``email``: also write to them as they are rung."""

    ring: DutyRole
    wait: float = 300.0
    sms: bool = False
    email: bool = False


@dataclass(frozen=True)
class Chain:
    """A line's escalation: its steps, in order, then again from the top."""

    steps: tuple[Step, ...]
    #: Whose duty people (the organisation's rota of that name; None: its first).
    rota: str | None = None
    #: Text the family, on the number they left, their reference.
    family_sms: bool = False
    #: Seconds a person's phone rings.
    ring_timeout: float = 30.0
    #: A new round starts no sooner than this many seconds after the last one began.
    again_after: float = 300.0
    #: Nobody on duty to ring (or the hourly calls used up): looked again after this.
    retry: float = 60.0


@dataclass(frozen=True)
class Attempt:
    """A call to a person for the report (``outcome`` None: under way)."""

    n: int
    step: int
    round: int
    person: str
    role: str
    number: str
    at: datetime
    #: The language they are spoken to in.
    language: str = "en"
    outcome: str | None = None


@dataclass(frozen=True)
class Escalation:
    """One report's escalation, as its facts tell it."""

    ref: str
    line: str
    started: datetime
    rota: str | None = None
    language: str | None = None
    number: str | None = None
    round: int = 1
    round_started: datetime | None = None
    #: The step of the latest call in this round (-1: none yet).
    step: int = -1
    attempts: tuple[Attempt, ...] = ()
    #: Nothing is done before then (a wait after a silent call, a retry).
    until: datetime | None = None
    waiting_for: str | None = None
    accepted: tuple[str, str, datetime] | None = None  # person, by, at
    stopped: str | None = None

    @property
    def ringing(self) -> Attempt | None:
        """The call under way, if one is."""
        last = self.attempts[-1] if self.attempts else None
        return last if last is not None and last.outcome is None else None

    def attempt(self, n: int) -> Attempt | None:
        return self.attempts[n - 1] if 0 < n <= len(self.attempts) else None

    @property
    def tried(self) -> frozenset[str]:
        """Who was rung in this round."""
        return frozenset(a.person for a in self.attempts if a.round == self.round)


# -- signals -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Begin:
    """A report was stored: its escalation starts."""

    ref: str
    line: str
    language: str | None = None
    number: str | None = None


@dataclass(frozen=True)
class Outcome:
    """How call ``attempt`` went: accepted, declined, or one of :data:`STATUSES`."""

    ref: str
    attempt: int
    outcome: str


@dataclass(frozen=True)
class Due:
    """A wait is over (or due now: after a restart, say)."""

    ref: str


@dataclass(frozen=True)
class Closed:
    """The report was closed (handled): no one else is rung."""

    ref: str
    by: str


@dataclass(frozen=True)
class Restart:
    """A supervisor starts the chain again from the top."""

    ref: str
    by: str


@dataclass(frozen=True)
class Skip:
    """A supervisor moves the chain on to its next step now."""

    ref: str
    by: str


@dataclass(frozen=True)
class AcceptFor:
    """A supervisor (``by``) accepts the report on ``person``'s behalf (or their own)."""

    ref: str
    person: str
    by: str


Signal = Begin | Outcome | Due | Closed | Restart | Skip | AcceptFor

#: Who is on duty now, by role, in the rota's order (the first is rung first).
OnDuty = Mapping[DutyRole, Sequence[Person]]


# -- what happens --------------------------------------------------------------------------------
def never_capped(_number: str) -> datetime | None:
    return None


def decide(
    escalation: Escalation | None,
    signal: Signal,
    now: datetime,
    chain: Chain,
    on_duty: Callable[[], OnDuty],
    capped: Callable[[str], datetime | None] = never_capped,
) -> list[ev.Fact]:
    """The facts ``signal`` brings about (none: nothing changes). ``on_duty`` is asked only
    when someone is to be rung; ``capped(number)``: from when that number may be called (None:
    now), the organisation's hourly calls and the number's counted."""

    def onward(e: Escalation) -> list[ev.Fact]:
        return _onward(e, now, chain, on_duty(), capped)

    if isinstance(signal, Begin):
        if escalation is not None:
            return []
        started = ev.EscalationStarted(
            signal.ref, signal.line, chain.rota, signal.language, signal.number
        )
        facts: list[ev.Fact] = [started]
        if chain.family_sms and signal.number:
            family = ev.EscalationNotified(
                signal.ref,
                "family",
                "sms",
                signal.number,
                signal.language or "en",
                None,
                signal.line,
            )
            facts.append(family)
        return facts + onward(evolve(None, started, now))
    if escalation is None or escalation.stopped is not None:
        return []
    ref = escalation.ref
    match signal:
        case Outcome(attempt=n, outcome=outcome):
            attempt = escalation.attempt(n)
            if attempt is None or attempt.outcome is not None:
                return []  # (a late or repeated report of a call already settled)
            if outcome == "accepted":
                accepted = ev.EscalationAccepted(ref, attempt.person, attempt.person, n)
                return [accepted, ev.EscalationStopped(ref, "accepted", attempt.person)]
            said: ev.Fact
            if outcome == "declined":
                said = ev.EscalationDeclined(ref, n, attempt.person)
            else:
                status = outcome if outcome in STATUSES else "FAILED"
                said = ev.EscalationUnanswered(ref, n, attempt.person, status)
            if outcome == "HUNGUP" and attempt.step < len(chain.steps):
                # they heard it and said nothing: a while to accept another way
                wait = chain.steps[attempt.step].wait
                if wait > 0:
                    return [said, _waiting(ref, now + timedelta(seconds=wait), "acceptance")]
            return [said, *onward(evolve(escalation, said, now))]
        case Due():
            if escalation.ringing is not None:
                return []
            if escalation.until is not None and escalation.until > now:
                return []
            return onward(escalation)
        case Closed(by=by):
            return [ev.EscalationStopped(ref, "handled", by)]
        case AcceptFor(person=person, by=by):
            return [
                ev.EscalationAccepted(ref, person, by),
                ev.EscalationStopped(ref, "accepted", by),
            ]
        case Restart(by=by):
            said = ev.EscalationRestarted(ref, by)
            again = ev.EscalationRound(ref, escalation.round + 1)
            after = evolve(evolve(escalation, said, now), again, now)
            if after.ringing is not None:  # the call under way ends first, then the top
                return [said, again]
            return [said, again, *onward(after)]
        case Skip(by=by):
            said = ev.EscalationSkipped(ref, by)
            if escalation.ringing is not None:  # the call under way ends first
                return [said]
            return [said, *onward(evolve(escalation, said, now))]
    return []


def _waiting(ref: str, until: datetime, reason: str) -> ev.EscalationWaiting:
    return ev.EscalationWaiting(ref, until.isoformat(), reason)


def _onward(
    escalation: Escalation,
    now: datetime,
    chain: Chain,
    duty: OnDuty,
    capped: Callable[[str], datetime | None],
    again: bool = True,
) -> list[ev.Fact]:
    """The next step: ring the next person on duty it names who was not rung in this round
    (a step with nobody is passed over); past the last step, again from the top, no sooner
    than ``again_after`` since the round began; nobody at all to ring: looked again in
    ``retry`` (or once the hourly calls allow)."""
    ref, soonest = escalation.ref, None
    for step in range(escalation.step + 1, len(chain.steps)):
        link = chain.steps[step]
        for person in duty.get(link.ring, ()):
            if not person.phone or person.id in escalation.tried:
                continue
            if (until := capped(person.phone)) is not None:
                soonest = until if soonest is None else min(soonest, until)
                continue
            return _ring(escalation, step, link, person)
    if soonest is not None:  # someone left to ring, once the hour's calls allow
        return [_waiting(ref, soonest, "capped")]
    if escalation.tried and again:  # a round is over: the next one
        round_ = ev.EscalationRound(ref, escalation.round + 1)
        begins = (escalation.round_started or escalation.started) + timedelta(
            seconds=chain.again_after
        )
        if begins > now:
            return [round_, _waiting(ref, begins, "round")]
        fresh = evolve(escalation, round_, now)
        return [round_, *_onward(fresh, now, chain, duty, capped, again=False)]
    return [_waiting(ref, now + timedelta(seconds=chain.retry), "nobody")]


def _ring(escalation: Escalation, step: int, link: Step, person: Person) -> list[ev.Fact]:
    """Ring ``person`` for ``step`` (and write to them, as the step says)."""
    assert person.phone is not None
    ref, n = escalation.ref, len(escalation.attempts) + 1
    facts: list[ev.Fact] = [
        ev.EscalationRinging(
            ref, n, step, escalation.round, person.id, link.ring, person.phone, person.language
        )
    ]
    line, language = escalation.line, person.language
    if link.sms:
        sms = ev.EscalationNotified(ref, person.id, "sms", person.phone, language, step, line)
        facts.append(sms)
    if link.email and person.email:
        mail = ev.EscalationNotified(ref, person.id, "email", person.email, language, step, line)
        facts.append(mail)
    return facts


# -- what it comes to ----------------------------------------------------------------------------
def evolve(escalation: Escalation | None, fact: ev.Fact, at: datetime) -> Escalation:
    """The escalation after ``fact`` (which happened ``at``)."""
    if isinstance(fact, ev.EscalationStarted):
        return Escalation(
            fact.ref, fact.line, at, fact.rota, fact.language, fact.number, round_started=at
        )
    if escalation is None:
        raise ValueError(f"{fact.kind} of an escalation that never started")
    e = escalation
    match fact:
        case ev.EscalationRound(round=round_):
            return replace(e, round=round_, round_started=at, step=-1, until=None)
        case ev.EscalationRinging() as r:
            attempt = Attempt(
                r.attempt, r.step, r.round, r.person, r.role, r.number, at, r.language or "en"
            )
            attempts = (*e.attempts, attempt)
            return replace(e, attempts=attempts, step=r.step, until=None, waiting_for=None)
        case ev.EscalationDeclined(attempt=n):
            return _settled(e, n, "declined")
        case ev.EscalationUnanswered(attempt=n, status=status):
            return _settled(e, n, status)
        case ev.EscalationWaiting(until=until, reason=reason):
            # nobody was there to ring: the round's steps are looked at again from its top
            step = -1 if reason in ("nobody", "capped") else e.step
            return replace(e, until=datetime.fromisoformat(until), waiting_for=reason, step=step)
        case ev.EscalationAccepted(person=person, by=by, attempt=n):
            settled = _settled(e, n, "accepted") if n is not None else e
            return replace(settled, accepted=(person, by, at))
        case ev.EscalationRestarted() | ev.EscalationSkipped():
            return replace(e, until=None, waiting_for=None)
        case ev.EscalationStopped(reason=reason):
            return replace(e, stopped=reason, until=None, waiting_for=None)
    return e  # (a message beside the call changes nothing here)


def _settled(e: Escalation, n: int, outcome: str) -> Escalation:
    attempt = e.attempt(n)
    if attempt is None:
        return e
    attempts = list(e.attempts)
    attempts[n - 1] = replace(attempt, outcome=outcome)
    return replace(e, attempts=tuple(attempts))


def replay(facts: Sequence[tuple[ev.Fact, datetime]]) -> Escalation | None:
    """An escalation rebuilt from its facts, oldest first (None: it never started)."""
    escalation: Escalation | None = None
    for fact, at in facts:
        if escalation is None and not isinstance(fact, ev.EscalationStarted):
            continue
        escalation = evolve(escalation, fact, at)
    return escalation
