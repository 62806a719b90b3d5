"""Wait estimates: from recent handle times when there are enough, from Erlang C otherwise.

Erlang C (M/M/N): with arrival rate λ, mean handle time h and N operators, the offered
traffic is A = λh erlangs; P(wait) = C(N, A); mean wait = C·h/(N - A);
P(wait <= t) = 1 - C·exp(-(N - A)·t/h).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Handle times needed before they are trusted over the model.
ENOUGH_HISTORY = 10


def erlang_c(agents: int, traffic: float) -> float:
    """Probability that a call waits (1.0 when the operators cannot keep up)."""
    if agents <= 0 or traffic >= agents:
        return 1.0
    if traffic <= 0:
        return 0.0
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def mean_wait(agents: int, rate: float, handle: float) -> float:
    """Average wait of all callers, in seconds (inf when overloaded)."""
    traffic = rate * handle
    if agents <= 0 or traffic >= agents:
        return math.inf
    return erlang_c(agents, traffic) * handle / (agents - traffic)


def service_level(agents: int, rate: float, handle: float, within: float) -> float:
    """Share of callers answered within ``within`` seconds."""
    traffic = rate * handle
    if agents <= 0 or traffic >= agents:
        return 0.0
    return 1 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * within / handle)


def estimate_wait(
    position: int, agents: int, handle_times: Sequence[float], default_handle: float, rate: float
) -> float:
    """Seconds a caller at ``position`` (1 = next) can expect to wait."""
    if agents <= 0:
        return math.inf
    if len(handle_times) >= ENOUGH_HISTORY:
        handle = sum(handle_times) / len(handle_times)
        return position * handle / agents
    return max(mean_wait(agents, rate, default_handle), (position - 1) * default_handle / agents)


def operators_needed(rate: float, handle: float, within: float, target: float) -> int:
    """The fewest operators whose service level (answered within ``within`` s) reaches
    ``target`` for ``rate`` calls a second of ``handle`` seconds each (Erlang C)."""
    if rate <= 0:
        return 0
    agents = max(1, math.floor(rate * handle) + 1)  # fewer could never keep up
    while service_level(agents, rate, handle, within) < target:
        agents += 1
    return agents
