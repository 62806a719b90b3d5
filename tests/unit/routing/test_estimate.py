import math

import pytest

from routing.estimate import erlang_c, estimate_wait, mean_wait, operators_needed, service_level


def test_the_textbook_figures() -> None:
    # 8 operators, 0.2 calls/s, 30 s mean talk (the benchmark's reference case)
    assert erlang_c(8, 6.0) == pytest.approx(0.357, abs=0.001)
    assert mean_wait(8, 0.2, 30) == pytest.approx(5.35, abs=0.01)
    assert service_level(8, 0.2, 30, 20) == pytest.approx(0.906, abs=0.001)


@pytest.mark.parametrize(
    ("agents", "traffic", "expected"), [(1, 0.5, 0.5), (4, 4.0, 1.0), (0, 1.0, 1.0), (3, 0.0, 0.0)]
)
def test_edges(agents: int, traffic: float, expected: float) -> None:
    assert erlang_c(agents, traffic) == pytest.approx(expected)


def test_overload_waits_forever() -> None:
    assert mean_wait(2, 1.0, 10) == math.inf
    assert estimate_wait(1, 0, [], 60, 0.1) == math.inf


def test_history_wins_once_long_enough() -> None:
    assert estimate_wait(3, 2, [60.0] * 10, 300, 0.01) == pytest.approx(90)
    assert estimate_wait(3, 2, [60.0] * 3, 300, 0.001) == pytest.approx(300)


def test_the_same_load_with_time_scaled_by_ten() -> None:
    # the bench's Poisson run: 2 calls/s, 3 s talk, 8 operators; the service level at 2 s
    assert mean_wait(8, 2.0, 3.0) == pytest.approx(0.535, abs=0.006)
    assert service_level(8, 2.0, 3.0, 2.0) == pytest.approx(0.906, abs=0.001)


def test_more_operators_wait_less() -> None:
    waits = [mean_wait(n, 2.0, 3.0) for n in range(7, 13)]
    assert waits == sorted(waits, reverse=True)


@pytest.mark.parametrize(
    ("rate", "handle", "expected"),
    [
        (0.0, 180, 0),  # no calls, nobody needed
        (0.2, 30.0, 8),  # 6 Erlangs: 7 reach 0.79 only, 8 reach 0.906
        (100 / 3600, 180, 8),  # 100 calls an hour of three minutes: 5 Erlangs
    ],
)
def test_operators_needed_for_a_service_level(rate: float, handle: float, expected: int) -> None:
    needed = operators_needed(rate, handle, 20, 0.8)
    assert needed == expected
    if needed:
        assert service_level(needed, rate, handle, 20) >= 0.8
        assert needed == 1 or service_level(needed - 1, rate, handle, 20) < 0.8
