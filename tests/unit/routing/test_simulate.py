"""The queue the service runs, simulated on a virtual clock (routing/simulate.py): its waits
are the models' (Erlang C for one line; the non-preemptive M/M/c priority formulas for
several). A run is repeatable (a seed), so these bounds are fixed facts, not luck; the bench
runs a million callers for the tight figures (bench/README.md)."""

from __future__ import annotations

import pytest

from routing.simulate import Traffic, erlang, priority_waits, simulate


def test_one_line_waits_as_erlang_c_says() -> None:
    # four operators, three minutes of talk, 75% busy: about half the callers wait
    line = Traffic("consultation", rate=0.75 * 4 / 180, talk=180)
    waits = simulate([line], operators=4, calls=60_000, seed=1)["consultation"]
    model = erlang(line, 4, within=20)
    assert waits.p_wait() == pytest.approx(model["p_wait"], rel=0.05)
    assert waits.mean() == pytest.approx(model["mean"], rel=0.12)
    assert waits.within(20) == pytest.approx(model["within"], rel=0.05)


def test_priorities_wait_as_the_priority_formulas_say() -> None:
    lines = [
        Traffic("detention", 0.15 * 4 / 180, 180, priority=100),
        Traffic("consultation", 0.30 * 4 / 180, 180, priority=10),
        Traffic("information", 0.15 * 4 / 180, 180, priority=5),
    ]
    waits = simulate(lines, operators=4, calls=60_000, seed=1)
    model = priority_waits(lines, 4)
    for line in lines:
        assert waits[line.line].mean() == pytest.approx(model[line.line], rel=0.1), line.line
    means = [waits[t.line].mean() for t in lines]
    assert means == sorted(means)  # a detention waits least


def test_the_priority_formulas_reduce_to_erlang_c_for_one_line() -> None:
    line = Traffic("information", 0.02, 120)
    assert priority_waits([line], 3)["information"] == pytest.approx(erlang(line, 3, 20)["mean"])
