"""The service's worst days: its AMI link goes silent, it is killed, it hangs."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from typing import Any

from bench.sipcall import SoftPhone
from tests.integration.conftest import Asterisk, Service, call
from tests.integration.netfault import SilentLink
from tests.integration.test_queues import CONSULTATION, waiting_on


def ami(service: Service) -> dict[str, Any]:
    health: dict[str, dict[str, Any]] = service.health(timeout=2)
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
        # ringing op3 began (the ring timeout set on the caller's channel, then the Redirect):
        # its first action went into the void
        assert b"Channel: PJSIP/trunk-" in link.sent_while_silent
        await asyncio.sleep(max(0.0, 60 - noticed))
        assert op3.rung() == 0
        assert service.get("/api/queues")["consultation"]["waiting"]  # still waiting
        link.come_back()
        await until(lambda: ami(service)["connected"], 45)  # the backoff is at 30 s (+-20%)
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


def in_agi(asterisk: Asterisk) -> set[str]:
    """Channels waiting on the service's FastAGI now."""
    out = asterisk.sandbox.cli("core show channels concise").stdout
    return {f[0] for f in (line.split("!") for line in out.splitlines()) if f[5:6] == ["AGI"]}


async def test_a_hung_service_leaves_nobody_in_silence_and_routes_nobody_twice(
    asterisk: Asterisk, service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()  # and its guard
    assert service.process is not None
    # members of the fallback queues (information; Georgia's rehabilitation; consultation),
    # logged out
    phones = [phone(op, talk_ms=2000) for op in ("op1", "gr1", "op3", "op4")]
    try:
        waiting = asyncio.create_task(call(*CONSULTATION, hold_ms=90_000))
        await waiting_on(service, "consultation", 1)
        in_menu = asyncio.create_task(call("0800213103", "", hold_ms=90_000))
        await until(lambda: bool(in_agi(asterisk)), 10)
        await asyncio.sleep(1)
        service.process.send_signal(signal.SIGSTOP)
        hung = time.monotonic()
        late = None
        silent_since: dict[str, float] = {}
        while time.monotonic() - hung < 30:
            if late is None and time.monotonic() - hung > 8:  # a caller arriving meanwhile
                late = asyncio.create_task(call("2145145", "", hold_ms=90_000))
            now = time.monotonic()
            stuck = in_agi(asterisk)
            silent_since = {ch: silent_since.get(ch, now) for ch in stuck}
            longest = max((now - since for since in silent_since.values()), default=0.0)
            assert longest <= 10, f"{sorted(stuck)} waited on the hung service for {longest:.1f} s"
            await asyncio.sleep(0.3)
        service.process.send_signal(signal.SIGCONT)
        moved = [await in_menu, await late]  # type: ignore[misc]
        assert all(p.returncode == 0 for p in moved), [p.output for p in moved]
        records = [service.record(p.call_id) for p in moved]
        assert [r["outcome"] for r in records] == ["handed-over", "handed-over"], records
        # the waiting caller: moved too if their announcement fell in the hang, else still
        # the service's, and served once its operators log in
        service.login("op3", "op4")
        placed = await waiting
        assert placed.returncode == 0, placed.output
        assert service.record(placed.call_id)["outcome"] in ("handed-over", "answered")
        await asyncio.sleep(3)
        # each caller was rung through and answered once: nobody was routed twice
        assert [p.rung() for p in phones] == [p.answered() for p in phones]
        assert sum(p.answered() for p in phones) == 3
        assert not service.get("/api/queues")["consultation"]["waiting"]
    finally:
        if service.process is not None:
            service.process.send_signal(signal.SIGCONT)


async def test_a_killed_service_loses_no_call(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    op3 = phone("op3", talk_ms=45_000)  # busy past the waiting caller's next announcement
    service.login("op3")
    talking = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000))
    await until(lambda: service.agent("op3")["state"] == "on_call", 20)
    waiting = asyncio.create_task(call(*CONSULTATION, hold_ms=90_000))
    await waiting_on(service, "consultation", 1)
    op4 = phone("op4", talk_ms=2000)  # registered, not logged in: only the fallback rings it
    service.stop(signal.SIGKILL)
    # the talk goes on; the waiting caller's next announcement finds no service: the
    # dialplan's fallback queue takes them to op4
    placed = [await talking, await waiting]
    assert all(p.returncode == 0 for p in placed), [p.output for p in placed]
    assert (op3.answered(), op4.answered()) == (1, 1)
    service.start()
    talked, waited = (service.record(p.call_id) for p in placed)
    assert (talked["outcome"], talked["operator"]) == ("interrupted", "op3")
    assert talked["answered"] is not None
    assert waited["outcome"] == "interrupted" and waited["answered"] is None
    assert service.agent("op3")["state"] != "on_call"  # no operator left on a call
    assert not service.get("/api/queues")["consultation"]["waiting"]


async def test_asterisk_restarted_under_a_talk_leaves_no_ghost(
    asterisk: Asterisk, service: Service, phone: Callable[..., SoftPhone], deployment: object
) -> None:
    service.start()
    op3 = phone("op3", talk_ms=8000)
    service.login("op3")
    talking = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000))
    await until(lambda: service.agent("op3")["state"] == "on_call", 20)
    asterisk.sandbox.down(lambda _: None)  # every call in it is gone
    placed = await talking
    await until(lambda: not ami(service)["connected"], 15)
    asterisk.sandbox.up(deployment, lambda _: None)  # type: ignore[arg-type]
    await until(lambda: ami(service)["connected"], 40)
    record = service.record(placed.call_id)
    assert record["outcome"] in ("answered", "interrupted") and record["answered"], record
    assert service.agent("op3")["state"] != "on_call"  # no ghost call on the operator
    assert not service.get("/api/queues")["consultation"]["waiting"]
    # and the hotline answers again
    await until(lambda: service.agent("op3")["state"] == "available", 30)
    await until(lambda: service.agent("op3")["reachable"], 30)
    placed = await call(*CONSULTATION, hold_ms=20_000)
    assert service.record(placed.call_id)["operator"] == "op3" and op3.answered() == 2
