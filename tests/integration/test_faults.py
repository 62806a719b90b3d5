"""The service's worst days: its AMI link goes silent, it is killed, it hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from hotline.sipcall import SoftPhone
from tests.integration.conftest import Service, call
from tests.integration.netfault import SilentLink
from tests.integration.test_queues import CONSULTATION, waiting_on


def ami(service: Service) -> dict[str, Any]:
    health: dict[str, dict[str, Any]] = httpx.get(service.url("/health"), timeout=2).json()
    return health["ami"]


async def until(predicate: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``predicate`` holds (AssertionError after ``seconds``)."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_a_silent_ami_link_is_noticed_reset_and_nothing_runs_late(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    link = SilentLink(("127.0.0.1", 5038)).start()
    try:
        service.settings["HOTLINE_AMI_PORT"] = str(link.port)
        service.start()
        op3 = phone("op3", talk_ms=2000)
        caller = asyncio.create_task(call(*CONSULTATION, hold_ms=150_000))
        await waiting_on(service, "consultation", 1)
        await until(lambda: service.agent("op3")["reachable"], 10)
        link.go_silent()
        # op3 logs in while nothing gets through: the service's Redirect goes into the void
        service.login("op3", wait_reachable=False)
        op4 = phone("op4")  # and op4's phone registers: the service cannot see it
        noticed = await until(lambda: not ami(service)["connected"], 30)
        assert b"Action: Redirect" in link.sent_while_silent
        await asyncio.sleep(max(0.0, 60 - noticed))
        assert op3.rung() == 0
        assert service.get("/api/queues")["consultation"]["waiting"]  # still waiting
        link.come_back()
        await until(lambda: ami(service)["connected"], 35)
        assert ami(service)["connects"] == 2
        await until(lambda: service.agent("op4")["reachable"], 5)  # resynced
        await until(lambda: op3.rung() == 1, 10)
        placed = await caller
        assert placed.returncode == 0, placed.output
        record = service.record(placed.call_id)
        assert (record["outcome"], record["operator"]) == ("answered", "op3")
        # the action sent into the void died with its link: nothing was carried out late
        assert b"Action:" not in link.delivered_late, bytes(link.delivered_late)
        assert op3.rung() == 1 and op4.rung() == 0
    finally:
        service.stop()
        link.stop()
