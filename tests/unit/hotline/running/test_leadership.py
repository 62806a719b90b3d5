"""The lease on the machine's PostgreSQL: one holder at a time, a fencing number that grows at
each change of hands, a holder that stops acting before its lease can pass to another (even
when it was stopped, or lost the database), and a release that hands over at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from hotline.running.leadership import AloneLease, Leadership, PostgresLease
from hotline.store.db import Store
from tests.conftest import postgres_database

LEASE = 1.0  # seconds


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    with postgres_database() as url:
        found = Store(url)
        await found.upgrade()
        yield found
        await found.close()


class Cut(PostgresLease):
    """A lease whose link to the database can be cut (a proxy that stops forwarding)."""

    cut = False

    async def acquire(self, me: str, seconds: float) -> int | None:
        await self._link()
        return await super().acquire(me, seconds)

    async def renew(self, me: str, fence: int, seconds: float) -> bool:
        await self._link()
        return await super().renew(me, fence, seconds)

    async def _link(self) -> None:
        if self.cut:
            await asyncio.sleep(3600)  # a statement that never comes back


async def test_one_holder_at_a_time_and_the_fence_grows(store: Store) -> None:
    lease = PostgresLease(store.engine, url="http://a:8080")
    assert await lease.acquire("a", 0.5) == 1
    assert await lease.acquire("b", 0.5) is None
    assert await lease.renew("a", 1, 0.5)
    holder = await lease.holder()
    assert (holder.instance, holder.url) == ("a", "http://a:8080")  # (where b forwards /api)
    await asyncio.sleep(0.6)  # a let it run out
    assert not await lease.renew("a", 1, 0.5)  # too late: it must be taken again
    assert await lease.acquire("b", 0.5) == 2
    assert not await lease.renew("a", 1, 0.5)
    await lease.release("b", 2)
    assert await lease.acquire("a", 0.5) == 3  # released: taken at once
    # a try by a whose answer was lost (it timed out, done all the same): a is not locked
    # out for a lease, it takes it again under a new number; b still may not
    assert await lease.acquire("a", 0.5) == 4
    assert await lease.acquire("b", 0.5) is None


async def watch(*instances: Leadership, seconds: float) -> list[tuple[float, str | None]]:
    """Sample who is active every 20 ms; never two at once. (when, who) at each change."""
    changes: list[tuple[float, str | None]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        active = [i.me for i in instances if i.active]
        assert len(active) <= 1, active
        now = active[0] if active else None
        if not changes or changes[-1][1] != now:
            changes.append((time.monotonic(), now))
        await asyncio.sleep(0.02)
    return changes


async def test_a_killed_leader_is_replaced_within_its_lease(store: Store) -> None:
    fences: list[tuple[str, int]] = []

    async def took(me: str, fence: int) -> None:
        fences.append((me, fence))

    a = Leadership(PostgresLease(store.engine), "a", LEASE, lambda f: took("a", f))
    b = Leadership(PostgresLease(store.engine), "b", LEASE, lambda f: took("b", f))
    running_a = asyncio.create_task(a.run())
    await asyncio.sleep(0.3)
    running_b = asyncio.create_task(b.run())
    try:
        assert (await watch(a, b, seconds=1.5))[-1][1] == "a"
        running_a.cancel()  # killed: no release, no more renewals
        killed = time.monotonic()
        changes = await watch(a, b, seconds=2.5)
        taken = next(at for at, who in changes if who == "b")
        assert taken - killed < LEASE * 1.5, changes  # the lease, and one try of the standby
        assert fences == [("a", 1), ("b", 2)]
    finally:
        running_a.cancel()
        running_b.cancel()


async def test_a_stopped_leader_acts_no_more_when_it_wakes(store: Store) -> None:
    """SIGSTOP, then SIGCONT: its lease ran out meanwhile, so it is not active, even before its
    first renewal; then it finds another holder and stays standby."""
    stood_down: list[str] = []

    async def down() -> None:
        stood_down.append("a")

    a = Leadership(PostgresLease(store.engine), "a", LEASE, on_standby=down)
    b = Leadership(PostgresLease(store.engine), "b", LEASE)
    await a.step()
    assert a.active and a.fence == 1
    running_b = asyncio.create_task(b.run())
    try:
        await asyncio.sleep(LEASE * 2)  # a does nothing: stopped
        deadline = time.monotonic() + 10  # (a loaded machine's database may be slower)
        while not b.active:
            assert time.monotonic() < deadline, "b never took over"
            await asyncio.sleep(0.05)
        assert not a.active and a.fence == 1  # (it has not noticed, and still does not act)
        assert b.fence is not None and b.fence >= 2
        running_a = asyncio.create_task(a.run())  # SIGCONT
        await watch(a, b, seconds=1.0)
        assert stood_down == ["a"] and a.fence is None and b.active
        running_a.cancel()
    finally:
        running_b.cancel()


async def test_a_leader_cut_off_from_the_database_stands_down_before_the_standby_starts(
    store: Store,
) -> None:
    cut = Cut(store.engine)
    a = Leadership(cut, "a", LEASE)
    b = Leadership(PostgresLease(store.engine), "b", LEASE)
    running = [asyncio.create_task(a.run())]
    await asyncio.sleep(0.2)
    running.append(asyncio.create_task(b.run()))
    try:
        assert (await watch(a, b, seconds=1.0))[-1][1] == "a"
        cut.cut = True
        changes = await watch(a, b, seconds=3.0)  # (never both: watch asserts it)
        assert [who for _, who in changes] == ["a", None, "b"], changes
        assert a.error is not None and "Timeout" in a.error
        cut.cut = False  # the link is back: a finds b holding it
        await watch(a, b, seconds=1.0)
        assert (a.fence, b.fence) == (None, 2)
    finally:
        for task in running:
            task.cancel()


async def test_a_released_lease_is_taken_at_once(store: Store) -> None:
    a = Leadership(PostgresLease(store.engine), "a", LEASE)
    b = Leadership(PostgresLease(store.engine), "b", LEASE)
    await a.step()
    running_b = asyncio.create_task(b.run())
    try:
        await asyncio.sleep(0.3)
        assert a.active and not b.active
        await a.release()
        released = time.monotonic()
        changes = await watch(a, b, seconds=1.0)
        taken = next(at for at, who in changes if who == "b")
        assert taken - released < LEASE / 3, changes  # a standby tries every sixth of it
    finally:
        running_b.cancel()


async def test_the_dialplan_points_at_the_holder_and_at_a_released_one_until_taken(
    store: Store,
) -> None:
    """A caller's hangup, raised as an AMI event every instance hears, is taken by the one
    whose fencing number Asterisk held then: the holder's; after a stop, still the one that
    gave it up (it sees its calls to their end) until the next raises the number."""
    a = Leadership(PostgresLease(store.engine), "a", LEASE)
    b = Leadership(PostgresLease(store.engine), "b", LEASE)
    await a.step()
    await b.step()
    assert a.fence is not None and b.fence is None
    assert a.answers_for(a.fence) and not b.answers_for(a.fence)
    assert not a.answers_for(0) and not b.answers_for(0)  # (nobody claimed the dialplan)
    given_up = a.fence
    await a.release()
    assert a.answers_for(given_up) and not b.answers_for(given_up)
    await b.step()
    assert b.fence == given_up + 1
    assert b.answers_for(b.fence) and not a.answers_for(b.fence)
    alone = Leadership(AloneLease(), "c")
    assert alone.answers_for(0) and alone.answers_for(7)


async def test_a_renewal_frozen_half_way_does_not_hold_the_lease(store: Store) -> None:
    """a is SIGSTOPped between its renewal's UPDATE and its COMMIT: the row stays locked by a
    transaction that never ends, until PostgreSQL ends its session; b takes the lease once it
    ran out, not when a wakes."""
    lease = PostgresLease(store.engine)
    assert await lease.acquire("a", LEASE) == 1
    async with store.engine.connect() as frozen:
        transaction = await frozen.begin()
        await lease._never_frozen(frozen, LEASE)
        await frozen.execute(
            text("UPDATE leadership SET expires_at = clock_timestamp() + interval '1 second'")
        )
        started = time.monotonic()  # ... and a is stopped: no COMMIT comes
        fence = None
        while fence is None:
            assert time.monotonic() - started < LEASE + 3, "b waits on a frozen transaction"
            with contextlib.suppress(Exception):  # (the row locked: lock_timeout)
                fence = await lease.acquire("b", LEASE)
            await asyncio.sleep(0.1)
        assert fence == 2
        with contextlib.suppress(Exception):  # a wakes: its session was ended
            await transaction.commit()


async def test_taking_over_is_its_own_role_until_the_queue_is_rebuilt(store: Store) -> None:
    """While ``on_active`` rebuilds the queue, the instance acts but says ``taking over`` (its
    API answers 503 rather than show part of the queue); ``active`` once done, even when the
    rebuild failed."""
    seen: list[str] = []
    rebuilt = asyncio.Event()

    async def on_active(fence: int) -> None:
        seen.append(a.role)
        await rebuilt.wait()
        raise RuntimeError("Asterisk away")

    a = Leadership(PostgresLease(store.engine), "a", LEASE, on_active=on_active)
    assert a.role == "standby"
    step = asyncio.create_task(a.step())
    await asyncio.sleep(0.2)
    assert seen == ["taking over"] and a.role == "taking over" and a.active
    rebuilt.set()
    with pytest.raises(RuntimeError):
        await step
    assert a.role == "active"
    await a.release()
