"""Which numbers the hotline may call back, and how often. Pure: no I/O, time passed in.

A callback is a call the hotline pays for, to a number a caller typed or sent. Whoever could
make the hotline dial any number could run up premium-rate or international bills (toll
fraud), so only numbers that match the deployment's patterns are dialled, and at most so
many calls an hour go to one number and in all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class CallbackPolicy:
    """The numbers callbacks may dial (regular expressions matched whole) and the caps."""

    allowed: tuple[re.Pattern[str], ...]
    per_number_per_hour: int
    per_hour: int

    @classmethod
    def of(cls, patterns: Sequence[str], per_number: int, per_hour: int) -> CallbackPolicy:
        return cls(tuple(re.compile(p) for p in patterns), per_number, per_hour)

    def refuses(self, number: str) -> str | None:
        """Why ``number`` may never be called back (None: it may)."""
        if not any(pattern.fullmatch(number) for pattern in self.allowed):
            return "the number matches none of the allowed patterns (trunk.callbacks.allowed)"
        return None


def capped(
    policy: CallbackPolicy,
    dialled: Sequence[tuple[datetime, str]],
    number: str,
    now: datetime,
) -> tuple[str, datetime | None] | None:
    """Why ``number`` may not be dialled now, and from when it may (None: never); None when it
    may now. ``dialled``: the callbacks dialled in the last hour, (when, number), oldest first."""
    refused = policy.refuses(number)
    if refused is not None:
        return refused, None
    recent = [(at, n) for at, n in dialled if now - at < HOUR]
    if len(recent) >= policy.per_hour:
        return f"{policy.per_hour} callbacks in the last hour (trunk.callbacks.per_hour)", (
            recent[0][0] + HOUR
        )
    to_number = [at for at, dialled_number in recent if dialled_number == number]
    if len(to_number) >= policy.per_number_per_hour:
        return (
            f"{policy.per_number_per_hour} callbacks to this number in the last hour "
            "(trunk.callbacks.per_number_per_hour)",
            to_number[0] + HOUR,
        )
    return None
