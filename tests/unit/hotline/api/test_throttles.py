"""The login and reference-guess limits (hotline/api/throttles.py): a moving window, refused
tries not counted; counted together by two app instances that name one Redis (the real one on
127.0.0.1:6379, each test under a key prefix of its own); with Redis unreachable, counted in
each instance's memory (never unlimited), and in Redis again once it answers."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import redis.asyncio

from hotline.api.errors import PROBLEM
from hotline.api.routes import create_api
from hotline.api.throttles import GUESSES, LOGINS, Counts, Throttle, Throttles
from hotline.config.settings import Settings
from tests.unit.hotline.api.test_errors import SUPERVISOR, parts

REDIS = "redis://127.0.0.1:6379/0"
UNKNOWN = {"token": "an-unknown-token-of-the-throttle-tests"}


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the shared Redis; its keys deleted after it."""
    mine = f"hotline-test-{secrets.token_hex(6)}"
    yield mine
    client = redis.asyncio.Redis.from_url(REDIS)
    try:
        keys = [key async for key in client.scan_iter(f"{mine}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def counts(prefix: str) -> AsyncIterator[Callable[..., Counts]]:
    """Makes the counts of an instance (under this test's prefix); their connections closed
    after the test."""
    made: list[Counts] = []

    def make(url: str = REDIS, **more: Any) -> Counts:
        made.append(Counts(url, prefix, **more))
        return made[-1]

    yield make
    for each in made:
        await each.close()


def unreachable() -> str:
    """A Redis URL where nothing listens (a port just freed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


async def healthy(organisation: str | None) -> dict[str, Any]:
    return {"status": "ok"}


def instance(counts: Counts, peer: str = "203.0.113.9") -> httpx.AsyncClient:
    """An app instance (create_api over the test doubles) counting in ``counts``."""
    api = create_api(dataclasses.replace(parts(), throttles=Throttles(counts), health=healthy))
    transport = httpx.ASGITransport(app=api, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://hotline")


async def login(api: httpx.AsyncClient) -> httpx.Response:
    return await api.post("/api/v1/session", json=UNKNOWN)


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
async def test_ten_logins_a_minute_then_a_429_and_refused_tries_do_not_count(
    shared: bool, counts: Callable[..., Counts]
) -> None:
    logins = Throttle(counts(REDIS if shared else ""), LOGINS)
    assert [await logins.hit("198.51.100.1") for _ in range(10)] == [0.0] * 10
    for _ in range(3):  # refused: asked again, the wait is the same minute's, not longer
        assert 58 < await logins.hit("198.51.100.1") <= 60
    assert await logins.hit("198.51.100.2") == 0.0  # another address is not held back


@pytest.mark.parametrize("shared", [False, True], ids=["memory", "redis"])
async def test_five_unknown_references_in_ten_minutes(
    shared: bool, counts: Callable[..., Counts]
) -> None:
    guesses = Throttle(counts(REDIS if shared else ""), GUESSES)
    for _ in range(5):
        assert await guesses.wait("supervisor:None:sup") == 0.0
        await guesses.count("supervisor:None:sup")
    assert 598 < await guesses.wait("supervisor:None:sup") <= 600
    assert await guesses.wait("operator:op1:op1") == 0.0


async def test_two_instances_on_one_redis_share_the_login_limit(
    counts: Callable[..., Counts],
) -> None:
    """Six failed logins through one instance, four through the other: the eleventh, on
    either, is a 429 in the API's problem shape with its Retry-After."""
    async with (
        instance(counts()) as first,
        instance(counts()) as second,
    ):
        assert [(await login(first)).status_code for _ in range(6)] == [401] * 6
        assert [(await login(second)).status_code for _ in range(4)] == [401] * 4
        for api in (first, second):
            refused = await login(api)
            assert refused.status_code == 429
            assert refused.headers["content-type"] == PROBLEM
            assert 58 <= int(refused.headers["retry-after"]) <= 60
            assert refused.json()["code"] == "too-many-requests"
            assert "too many logins from this address" in refused.json()["detail"]
    # apart, each instance would have let ten through
    async with instance(counts("")) as alone:
        assert [(await login(alone)).status_code for _ in range(10)] == [401] * 10
        health = await alone.get("/health", headers={"Authorization": f"Bearer {SUPERVISOR}"})
        assert health.json()["rate_limits"] == {"storage": "memory", "error": None}


async def test_two_instances_on_one_redis_share_the_reference_guesses(
    counts: Callable[..., Counts],
) -> None:
    headers = {"Authorization": f"Bearer {SUPERVISOR}"}
    async with (
        instance(counts()) as first,
        instance(counts()) as second,
    ):
        for n, api in enumerate([first, second, first, second, first]):
            reply = await api.get(f"/api/v1/notifications/{100000 + n}", headers=headers)
            assert reply.status_code == 404
        refused = await second.get("/api/v1/notifications/100009", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == PROBLEM
        assert 598 <= int(refused.headers["retry-after"]) <= 600
        assert refused.json()["code"] == "too-many-requests"


async def test_redis_unreachable_counts_in_memory_never_unlimited(
    caplog: pytest.LogCaptureFixture, counts: Callable[..., Counts]
) -> None:
    away = counts(unreachable())
    with caplog.at_level(logging.WARNING, "hotline.api.throttles"):
        async with instance(away) as api:
            assert [(await login(api)).status_code for _ in range(10)] == [401] * 10
            refused = await login(api)
            health = await api.get("/health", headers={"Authorization": f"Bearer {SUPERVISOR}"})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 58
    assert away.error is not None and "Connection" in away.error
    # what /health says of it (the status is the calls': logins are still limited)
    assert health.json() == {
        "status": "ok",
        "rate_limits": {"storage": "redis", "error": away.error},
    }
    warned = [r.getMessage() for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warned) == 1  # once for the outage, not once a request


async def test_redis_is_asked_again_once_the_retry_time_is_over(
    counts: Callable[..., Counts],
) -> None:
    """An outage's tries stay in memory; when the retry time is over the counts are Redis'
    again (the other instance's tries count)."""
    now = [0.0]
    mine = counts(unreachable(), retry=15, clock=lambda: now[0])
    logins = Throttle(mine, LOGINS)
    assert await logins.hit("198.51.100.7") == 0.0
    assert mine.error is not None
    # Redis back (here: the limiter pointed at the running one)
    other = counts()
    assert mine.shared is not None and other.shared is not None
    mine.shared = other.shared
    now[0] = 10.0  # (still within the retry time: memory)
    assert await logins.hit("198.51.100.7") == 0.0
    assert mine.error is not None
    for _ in range(10):
        await Throttle(other, LOGINS).hit("198.51.100.7")
    now[0] = 16.0
    assert await logins.hit("198.51.100.7") > 0  # Redis' count: the other instance's ten
    assert mine.error is None


def test_the_setting_takes_a_redis_url_only() -> None:
    assert Settings(_env_file=None).rate_limit_storage.get_secret_value() == ""
    found = Settings(_env_file=None, rate_limit_storage=REDIS)  # type: ignore[arg-type]
    assert found.rate_limit_storage.get_secret_value() == REDIS
    with pytest.raises(ValueError, match="a Redis URL"):
        Settings(_env_file=None, rate_limit_storage="memcached://127.0.0.1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://cache.example.org:6380/1",
        "redis+unix:///run/redis.sock?db=0",
    ],
)
async def test_each_kind_of_redis_url_makes_counts(url: str) -> None:
    """(nothing is connected until a try is counted)"""
    made = Counts(url, "hotline-test-urls")
    assert made.shared is not None
    await made.close()
