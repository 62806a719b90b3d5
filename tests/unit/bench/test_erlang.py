"""Erlang C against published figures (bench/erlang.py is pure)."""

from __future__ import annotations

import math

import pytest

from bench.erlang import average_wait, offered_load, service_level, wait_probability


@pytest.mark.parametrize(
    ("servers", "rate", "service", "p_wait", "asa", "sl20"),
    [
        # 8 operators, 0.2 calls/s, 30 s talk: 6 Erlangs
        (8, 0.2, 30.0, 0.357, 5.35, 0.906),
        # the same load with time scaled by 10 (the bench's Poisson run): SL at 2 s
        (8, 2.0, 3.0, 0.357, 0.535, 0.906),
    ],
)
def test_the_published_example(
    servers: int, rate: float, service: float, p_wait: float, asa: float, sl20: float
) -> None:
    within = 20.0 * service / 30.0
    assert wait_probability(servers, offered_load(rate, service)) == pytest.approx(p_wait, abs=1e-3)
    assert average_wait(servers, rate, service) == pytest.approx(asa, abs=0.01 * asa)
    assert service_level(servers, rate, service, within) == pytest.approx(sl20, abs=1e-3)


@pytest.mark.parametrize(
    ("servers", "load", "expected"),
    [
        (1, 0.5, 0.5),  # M/M/1: P(wait) is the utilisation
        (2, 1.0, 1 / 3),
        (3, 0.0, 0.0),
        (3, 3.0, 1.0),  # saturated
        (3, 4.0, 1.0),
    ],
)
def test_wait_probability(servers: int, load: float, expected: float) -> None:
    assert wait_probability(servers, load) == pytest.approx(expected)


def test_saturated_queue_never_empties() -> None:
    assert average_wait(2, 1.0, 3.0) == math.inf
    assert service_level(2, 1.0, 3.0, 10.0) == 0.0


def test_more_operators_wait_less() -> None:
    waits = [average_wait(n, 2.0, 3.0) for n in range(7, 13)]
    assert waits == sorted(waits, reverse=True)
