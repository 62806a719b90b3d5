"""Limits on guessing: logins per address, unknown notification references per token.

Counted with :mod:`limits`' moving window: at most ``amount`` counted tries in any
``window`` seconds, a refused try not counted (the rule the hand-written counter kept before).
The counts are in this instance's memory by default; with HOTLINE_RATE_LIMIT_STORAGE (a Redis
URL) in Redis, so that the instances of a standby pair, or several behind one address, count
together: ten logins a minute from an address, whichever instance answers them.

Redis unreachable: the tries are counted in this instance's memory meanwhile (a warning in
the log, once per outage; Redis asked again :data:`RETRY` seconds later). A guesser never
gets unlimited tries: at worst each instance counts on its own for a while, the limit per
instance as it was before the setting. Logins are not refused for Redis' sake: supervisors
must still reach the desk while a cache server is down.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import redis.asyncio
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Logins from one address: 10 a minute (a person mistyping a token a few times is let in).
LOGINS = RateLimitItemPerMinute(10, namespace="logins")
#: Unknown notification references asked by one token: 5 in 10 minutes (a reference is six
#: digits: a guesser would need about 100,000 tries a hit).
GUESSES = RateLimitItemPerMinute(5, 10, namespace="guesses")

#: Seconds Redis is left alone after it failed: meanwhile the tries are counted in memory,
#: and a request does not wait for a timeout each time.
RETRY = 15.0
#: Seconds a Redis request may take (connecting included) before this instance counts in
#: its memory instead: a login waits no longer than this for a cache server that is away.
TIMEOUT = 0.5

#: The URL schemes of HOTLINE_RATE_LIMIT_STORAGE.
SCHEMES = ("redis://", "rediss://", "redis+unix://")


class Counts:
    """Where the tries are counted: in memory, or in Redis (``url``) with memory while Redis
    is unreachable. ``prefix`` begins every Redis key (two deployments on one Redis, or two
    tests, keep their counts apart)."""

    def __init__(
        self,
        url: str = "",
        prefix: str = "hotline",
        retry: float = RETRY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if url and not url.startswith(SCHEMES):
            raise ValueError(f"a rate limit storage is a Redis URL ({', '.join(SCHEMES)})")
        self.local = MovingWindowRateLimiter(MemoryStorage())
        self.shared: MovingWindowRateLimiter | None = None
        #: Redis' connections (closed by :meth:`close`).
        self.pool = (
            redis.asyncio.ConnectionPool.from_url(
                # (redis-py names a socket's URL unix://; limits' own name is redis+unix://)
                url.replace("redis+unix://", "unix://", 1),
                socket_timeout=TIMEOUT,
                socket_connect_timeout=TIMEOUT,
            )
            if url
            else None
        )
        if self.pool is not None:
            storage = RedisStorage(
                "async+" + url,
                wrap_exceptions=True,
                implementation="redispy",
                key_prefix=prefix,
                connection_pool=self.pool,  # type: ignore[arg-type]
            )
            self.shared = MovingWindowRateLimiter(storage)
        self.retry = retry
        self.clock = clock
        #: Until when (``clock``) Redis is left alone; the error it last failed with.
        self.away_until = 0.0
        self.error: str | None = None

    async def run(self, act: Callable[[MovingWindowRateLimiter], Awaitable[T]]) -> T:
        """``act`` on the shared counts, or on this instance's while Redis is away."""
        if self.shared is not None and self.clock() >= self.away_until:
            try:
                found = await act(self.shared)
            except StorageError as exc:
                if self.error is None:
                    log.warning(
                        "rate limits: Redis unreachable (%s); counting in this instance's "
                        "memory until it answers again",
                        exc.storage_error,
                    )
                self.error = f"{type(exc.storage_error).__name__}: {exc.storage_error}"
                self.away_until = self.clock() + self.retry
            else:
                if self.error is not None:
                    log.warning("rate limits: Redis answers again; counting there")
                    self.error = None
                return found
        return await act(self.local)

    def state(self) -> dict[str, str | None]:
        """Where the tries are counted, and why not in Redis if it is away (/health)."""
        return {"storage": "memory" if self.shared is None else "redis", "error": self.error}

    async def close(self) -> None:
        """Close the connections to Redis (at the service's end)."""
        if self.pool is not None:
            await self.pool.aclose()


@dataclass(frozen=True)
class Throttle:
    """At most ``item``'s amount of counted tries per key in its window."""

    counts: Counts
    item: RateLimitItem

    async def wait(self, key: str) -> float:
        """Seconds until ``key`` may try again (0: now); nothing counted."""
        return await self.counts.run(lambda limiter: self._wait(limiter, key))

    async def hit(self, key: str) -> float:
        """Count a try of ``key``'s if it may try now (0); else the seconds until it may,
        nothing counted."""

        async def hit(limiter: MovingWindowRateLimiter) -> float:
            if await limiter.hit(self.item, key):
                return 0.0
            return max(await self._wait(limiter, key), 1.0)

        return await self.counts.run(hit)

    async def count(self, key: str) -> None:
        """Count a try of ``key``'s (one over the limit is not kept: it changes nothing)."""
        await self.counts.run(lambda limiter: limiter.hit(self.item, key))

    async def _wait(self, limiter: MovingWindowRateLimiter, key: str) -> float:
        stats = await limiter.get_window_stats(self.item, key)
        if stats.remaining > 0:
            return 0.0
        return max(stats.reset_time - time.time(), 1.0)  # (limits' times are the wall clock's)


@dataclass(frozen=True)
class Throttles:
    """The API's throttles, counted in one place."""

    counts: Counts

    @property
    def logins(self) -> Throttle:
        return Throttle(self.counts, LOGINS)

    @property
    def guesses(self) -> Throttle:
        return Throttle(self.counts, GUESSES)


def retry_after(wait: float) -> dict[str, str]:
    """The ``Retry-After`` header of a 429 (whole seconds, at least 1)."""
    return {"Retry-After": str(max(math.ceil(wait), 1))}
