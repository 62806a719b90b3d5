"""Erlang C: what a queue of ``servers`` operators with Poisson arrivals and exponential
service times should give, to hold the measured queue against.

Pure functions; ``rate`` in calls per second, ``service`` (mean handle time) in seconds.
"""

from __future__ import annotations

import math


def offered_load(rate: float, service: float) -> float:
    """Erlangs: arrivals per second times mean service time."""
    return rate * service


def wait_probability(servers: int, load: float) -> float:
    """Erlang C: the probability that a caller has to wait (1.0 when the load reaches the
    number of servers: the queue grows without bound)."""
    if servers <= 0 or load >= servers:
        return 1.0
    if load <= 0:
        return 0.0
    # Erlang B by its stable recurrence, then C from B.
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return servers * blocking / (servers - load * (1 - blocking))


def average_wait(servers: int, rate: float, service: float) -> float:
    """Mean wait of all callers (those who do not wait count as 0), in seconds."""
    load = offered_load(rate, service)
    if load >= servers:
        return math.inf
    return wait_probability(servers, load) * service / (servers - load)


def service_level(servers: int, rate: float, service: float, within: float) -> float:
    """The share of callers answered within ``within`` seconds."""
    load = offered_load(rate, service)
    if load >= servers:
        return 0.0
    waits = wait_probability(servers, load)
    return 1 - waits * math.exp(-(servers - load) * within / service)
