"""The queue, simulated: the real step function (:func:`routing.steps.step`) on a virtual
clock, fed Poisson arrivals and exponential talk times. Pure: no I/O, no clock; a seed makes
a run repeatable.

It shows that the queue the service runs is the queue the figures assume: with one line and
no wrap-up, its waits are Erlang C's (M/M/c); with lines of several priorities, the
non-preemptive M/M/c priority formulas' (:func:`priority_waits`). Operators answer at once
(no ring time), callers never give up, nobody pauses: the models' world.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from agents.operator import Operator
from agents.state import LogIn
from routing.estimate import erlang_c
from routing.lines import Line
from routing.queue import Queue, Rules, Timings
from routing.signals import (
    CallerQueued,
    CancelTimer,
    DeviceChanged,
    Effect,
    OperatorChanged,
    Ring,
    RingAnswered,
    RingEnded,
    Signal,
    StartTimer,
    TimerFired,
)
from routing.steps import step

#: The virtual clock's start (any instant would do).
START = datetime(2026, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Traffic:
    """One line's callers: how many a second, and how long they talk (mean seconds)."""

    line: str
    rate: float
    talk: float
    priority: int = 0


@dataclass
class Waits:
    """What the callers of one line waited (seconds), after the warm-up."""

    waits: list[float] = field(default_factory=list)

    def p_wait(self) -> float:
        return sum(1 for w in self.waits if w > 0) / len(self.waits)

    def mean(self) -> float:
        return sum(self.waits) / len(self.waits)

    def within(self, seconds: float) -> float:
        return sum(1 for w in self.waits if w <= seconds) / len(self.waits)


def simulate(
    traffic: Sequence[Traffic], operators: int, calls: int, seed: int = 1, warm_up: int = 1000
) -> dict[str, Waits]:
    """Run ``calls`` callers (and ``warm_up`` more first, not counted) through a queue of
    ``operators`` operators who serve every line; the waits per line."""
    lines = {t.line: Line(t.line, ("office",), priority=t.priority) for t in traffic}
    staff = {
        f"op{i}": Operator(f"op{i}", f"Operator {i}", "office", tuple(lines), ("uk",))
        for i in range(operators)
    }
    rules = Rules(lines, staff, Timings(wrap_up=0))
    run = _Run(rules, random.Random(seed))
    for op in staff:
        run.feed(DeviceChanged(op, True))
        run.feed(OperatorChanged(op, LogIn()))
    for t in traffic:
        run.arrive(t, START)
    waits: dict[str, Waits] = {t.line: Waits() for t in traffic}
    while run.answered < calls + warm_up:
        run.next()
    for call, (line, wait) in run.waits.items():
        if int(call) >= warm_up:
            waits[line].waits.append(wait)
    return waits


class _Run:
    """The virtual clock's agenda: arrivals, ends of talks, timers; in time order."""

    def __init__(self, rules: Rules, chance: random.Random) -> None:
        self.rules = rules
        self.chance = chance
        self.queue = Queue.empty(rules)
        self.now = START
        self.agenda: list[tuple[datetime, int, object]] = []
        self.order = 0
        self.timers: dict[str, datetime] = {}
        self.entered: dict[str, tuple[str, datetime, float]] = {}
        self.waits: dict[str, tuple[str, float]] = {}
        self.arrived = 0
        self.answered = 0

    def at(self, when: datetime, what: object) -> None:
        self.order += 1
        heapq.heappush(self.agenda, (when, self.order, what))

    def arrive(self, traffic: Traffic, after: datetime) -> None:
        gap = self.chance.expovariate(traffic.rate)
        self.at(after + timedelta(seconds=gap), traffic)

    def next(self) -> None:
        when, _, what = heapq.heappop(self.agenda)
        self.now = when
        if isinstance(what, Traffic):
            call = str(self.arrived)
            self.arrived += 1
            self.entered[call] = (what.line, when, self.chance.expovariate(1 / what.talk))
            self.feed(CallerQueued(call, f"sim/{call}", what.line, "uk"))
            self.arrive(what, when)
        elif isinstance(what, TimerFired):
            if self.timers.get(what.key) == when:  # not cancelled or moved since
                del self.timers[what.key]
                self.feed(what)
        else:
            assert isinstance(what, RingEnded)
            self.feed(what)

    def feed(self, signal: Signal) -> None:
        self.queue, effects = step(self.queue, signal, self.now, self.rules)
        for effect in effects:
            self.carry_out(effect)

    def carry_out(self, effect: Effect) -> None:
        if isinstance(effect, Ring):  # answered at once; the talk ends later
            line, entered, talk = self.entered.pop(effect.call)
            self.waits[effect.call] = (line, (self.now - entered).total_seconds())
            self.answered += 1
            self.feed(RingAnswered(effect.call, effect.operator))
            ended = RingEnded(effect.call, effect.operator, "ANSWER")
            self.at(self.now + timedelta(seconds=talk), ended)
        elif isinstance(effect, StartTimer):
            self.timers[effect.key] = effect.at
            self.at(effect.at, TimerFired(effect.key))
        elif isinstance(effect, CancelTimer):
            self.timers.pop(effect.key, None)


# -- the models ---------------------------------------------------------------------------------
def erlang(traffic: Traffic, operators: int, within: float) -> Mapping[str, float]:
    """Erlang C's figures for one line: P(wait), mean wait, share answered ``within`` s."""
    load = traffic.rate * traffic.talk
    c = erlang_c(operators, load)
    spare = (operators - load) / traffic.talk  # the rate at which the queue empties
    return {
        "p_wait": c,
        "mean": c / (operators / traffic.talk - traffic.rate),
        "within": 1 - c * math.exp(-spare * within),
    }


def priority_waits(traffic: Sequence[Traffic], operators: int) -> dict[str, float]:
    """Mean waits per line of the non-preemptive M/M/c priority queue (every line the same
    mean talk time): W_k = C(c, A) / (c·mu·(1 - s_{k-1})(1 - s_k)), s_k the load of the
    classes up to k over c·μ (Cobham)."""
    talk = traffic[0].talk
    if any(t.talk != talk for t in traffic):
        raise ValueError("the formulas hold for one mean talk time")
    mu = 1 / talk
    load = sum(t.rate for t in traffic) * talk
    c = erlang_c(operators, load)
    waits: dict[str, float] = {}
    sigma = 0.0
    for t in sorted(traffic, key=lambda t: -t.priority):
        before = sigma
        sigma += t.rate / (operators * mu)
        waits[t.line] = c / (operators * mu * (1 - before) * (1 - sigma))
    return waits
