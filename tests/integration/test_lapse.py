"""A moment in doubt on the real sandbox: the lease's renewals held up by PostgreSQL (a row
lock the test takes, as a busy database would) until one comes back after the lease ran out
on the service's own clock. What Asterisk said meanwhile (an operator's phone gone) is applied
when the lease is back, and an operator change asked meanwhile is refused with a 503 and
Retry-After, never a 200 that did nothing."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.sipcall import SoftPhone
from tests.conftest import postgres_database
from tests.integration.conftest import Asterisk, Service

#: The lease: renewed every 10 s, each renewal waiting at most 10 s on a lock (a third).
LEASE = 30.0
#: How long the test holds each of two renewals: together more than half the lease, so the
#: second comes back after the lease ran out on the service's clock (in doubt for ~3 s).
HOLD = 9.0


def live_role(instance: Service) -> str | None:
    try:
        return str(httpx.get(instance.url("/health/live"), timeout=1).json()["role"])
    except (httpx.HTTPError, KeyError, ValueError):
        return None


@contextlib.asynccontextmanager
async def row_locked(connection: AsyncConnection) -> AsyncIterator[None]:
    """The lease's row locked by this connection, as long as the block lasts."""
    transaction = await connection.begin()
    await connection.execute(text("SELECT 1 FROM leadership FOR UPDATE"))
    try:
        yield
    finally:
        await transaction.commit()


async def renewal_waits(watcher: AsyncConnection, within: float) -> None:
    """Until the service's renewal waits on the row's lock."""
    deadline = time.monotonic() + within
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE NOT l.granted AND a.datname = current_database()"
    )
    while not (await watcher.execute(query)).scalar():
        assert time.monotonic() < deadline, "no renewal came"
        await asyncio.sleep(0.05)


async def test_what_asterisk_says_while_the_lease_is_in_doubt_is_applied_when_it_is_back(
    service: Service,
    asterisk: Asterisk,
    phone: Callable[..., SoftPhone],
    tmp_path: Path,
) -> None:
    with postgres_database() as url:
        service.settings |= {
            "HOTLINE_HA": "true",
            "HOTLINE_INSTANCE": "a",
            "HOTLINE_LEASE_SECONDS": str(LEASE),
            "HOTLINE_DATABASE_URL": url,
        }
        engine = create_async_engine(url)
        try:
            service.start()
            op1 = phone("op1")
            service.login("op1")
            async with engine.connect() as locker, engine.connect() as watcher:
                await watcher.execute(text("SELECT 1"))
                await watcher.commit()
                async with row_locked(locker):  # the first renewal held HOLD s
                    await renewal_waits(watcher, LEASE / 3 + 5)
                    await asyncio.sleep(HOLD)
                async with row_locked(locker):  # and the next: it comes back too late
                    await renewal_waits(watcher, LEASE / 3 + 5)
                    deadline = time.monotonic() + HOLD
                    while live_role(service) != "standby":  # in doubt
                        assert time.monotonic() < deadline, "the lease never came into doubt"
                        await asyncio.sleep(0.05)
                    # meanwhile op1's phone goes (AMI: its device unavailable), and a
                    # supervisor logs op3 in
                    await asyncio.to_thread(op1.stop)
                    login = await asyncio.to_thread(service.post, "/api/agents/op3/login")
                    assert live_role(service) == "standby", "the doubt ended too soon to tell"
                    await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            started = time.monotonic()
            while live_role(service) != "active":
                assert time.monotonic() - started < 10, "the lease never came back"
                await asyncio.sleep(0.1)
            assert login.status_code == 503 and login.headers["retry-after"] == "1", login.text
            assert service.agent("op3")["state"] == "logged_out"  # refused, and said so
            deadline = time.monotonic() + 5
            while service.agent("op1")["reachable"]:  # applied once the lease is back
                assert time.monotonic() < deadline, "op1's phone, gone meanwhile, still counts"
                await asyncio.sleep(0.1)
            said = service.log.read_text()
            assert "its lease is back (fencing number 1)" in said, said[-3000:]
            assert "a is standby" not in said  # (never stood down: the same lease went on)
        finally:
            service.stop(signal.SIGKILL)
            await engine.dispose()
            asterisk.sandbox.cli("dialplan reload")  # (HOTLINE_AGI, HOTLINE_FENCE as rendered)
