"""Queues and operators on the real sandbox: SIPp callers wait, SIPp softphones (operators
with their passwords) answer or do not, and the service decides who talks to whom."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bench.sipcall import SoftPhone
from tests.integration.conftest import Asterisk, Service, call

CONSULTATION = ("0800213103", "11")  # Ukrainian, legal consultation
DETENTION = ("0800213103", "12")


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def offered_to(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(operator, time) of each offer of the call, in order."""
    return [
        (e["data"]["operator"], e["at"]) for e in record["events"] if e["kind"] == "call.offered"
    ]


async def waiting_on(service: Service, line: str, count: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while len(service.get("/api/queues")[line]["waiting"]) < count:
        assert time.monotonic() < deadline, service.get("/api/queues")
        await asyncio.sleep(0.3)


async def test_four_operators_ten_callers(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    lawyers = ["op3", "op4", "op5", "op6"]
    phones = [phone(op, talk_ms=4000) for op in lawyers]
    service.login(*lawyers)
    placed = []
    for _ in range(10):  # together, a little apart so that their order is known
        placed.append(asyncio.create_task(call(*CONSULTATION, hold_ms=120_000)))
        await asyncio.sleep(0.3)
    done = await asyncio.gather(*placed)
    records = [service.record(p.call_id) for p in done]

    assert [r["outcome"] for r in records] == ["answered"] * 10, records
    assert sum(p.answered() for p in phones) == 10
    # each call logged with its wait and talk times
    for r in records:
        assert r["wait"] is not None and r["wait"] >= 0
        assert 3.5 <= r["talk"] <= 5.5, r
    # never more than four talking at once, and never one operator on two calls
    spans = [(at(r["answered"]), at(r["ended"]), r["operator"]) for r in records]
    for start, _, _ in spans:
        talking = [op for s, e, op in spans if s <= start < e]
        assert len(talking) <= 4 and len(set(talking)) == len(talking)
    # answered in the order they joined the queue
    by_arrival = sorted(records, key=lambda r: at(r["queued"]))
    first_offers = [at(offered_to(r)[0][1]) for r in by_arrival]
    assert first_offers == sorted(first_offers)


async def test_a_detention_caller_goes_first(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    op3 = phone("op3", talk_ms=1500)
    consultations = []
    for _ in range(5):  # six calls of 12 s each (ring, talk, wrap-up) after ~20 s of menus
        consultations.append(asyncio.create_task(call(*CONSULTATION, hold_ms=120_000)))
        await asyncio.sleep(0.3)
    await waiting_on(service, "consultation", 5)
    detention = asyncio.create_task(call(*DETENTION, hold_ms=120_000))
    await waiting_on(service, "detention", 1)  # behind the five
    assert len(service.get("/api/queues")["consultation"]["waiting"]) == 5
    service.login("op3")
    first = service.record((await detention).call_id)
    others = [service.record(p.call_id) for p in await asyncio.gather(*consultations)]
    assert first["operator"] == "op3" and first["outcome"] == "answered"
    assert all(at(first["answered"]) < at(r["answered"]) for r in others)
    assert op3.answered() == 6


async def test_an_unanswered_operator_is_skipped_then_paused(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    deaf = phone("op3", answers=False)
    phone("op4", talk_ms=1500)
    service.login("op3")  # longest idle: offered first
    time.sleep(0.5)
    service.login("op4")
    first = service.record((await call(*CONSULTATION, hold_ms=90_000)).call_id)
    offers = offered_to(first)
    assert [op for op, _ in offers] == ["op3", "op4"]
    # the call went to another operator right after op3's ring timeout (15 s)
    assert 14 <= (at(offers[1][1]) - at(offers[0][1])).total_seconds() <= 17
    assert first["operator"] == "op4"
    assert service.agent("op3")["misses"] == 1 and service.agent("op3")["state"] == "available"
    # a second miss in a row pauses op3; the caller waits for op4's wrap-up instead
    second = service.record((await call(*CONSULTATION, hold_ms=90_000)).call_id)
    assert [op for op, _ in offered_to(second)] == ["op3", "op4"]
    assert second["operator"] == "op4"
    op3 = service.agent("op3")
    assert (op3["state"], op3["pause_reason"], op3["misses"]) == ("paused", "missed-calls", 2)
    assert deaf.rung() == 2 and deaf.answered() == 0


async def test_logged_out_paused_and_unregistered_operators_are_never_rung(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    logged_out = phone("op3")
    paused = phone("op4")
    working = phone("op6", talk_ms=1500)
    service.login("op4", "op6")
    service.login("op5", wait_reachable=False)  # no phone registered
    assert service.post("/api/agents/op4/pause", reason="training").status_code == 200
    assert service.agent("op5") | {"since": None, "for": None} == {
        "id": "op5",
        "state": "available",
        "reachable": False,
        "in_use": False,
        "since": None,
        "for": None,
        "call": None,
        "pause_reason": None,
        "misses": 0,
    }
    placed = await asyncio.gather(*(call(*CONSULTATION, hold_ms=90_000) for _ in range(2)))
    records = [service.record(p.call_id) for p in placed]
    assert [r["operator"] for r in records] == ["op6", "op6"]
    assert [op for r in records for op, _ in offered_to(r)] == ["op6", "op6"]
    assert logged_out.rung() == paused.rung() == 0 and working.answered() == 2


async def test_feature_codes_from_the_phone(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    op3 = phone("op3")
    for code, state in [
        ("*11", "available"),
        ("*13", "paused"),
        ("*14", "available"),
        ("*12", "logged_out"),
    ]:
        assert op3.dial(code) == 0
        assert service.agent("op3")["state"] == state
    refused = service.post("/api/agents/op3/pause")
    assert refused.status_code == 409 and "log in first" in refused.text


async def test_abandoned_while_waiting_is_logged_with_its_wait(service: Service) -> None:
    service.start()
    placed = await call(*CONSULTATION, hold_ms=8000)
    record = service.record(placed.call_id)
    assert record["outcome"] == "abandoned"
    assert 6 <= record["wait"] <= 10, record


async def test_callers_reach_the_fallback_queue_when_the_service_stops(
    asterisk: Asterisk, service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    op4 = phone("op4", talk_ms=1500)  # registered, not logged in: the service will not ring it
    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=90_000))
    await waiting_on(service, "consultation", 1)
    assert op4.rung() == 0
    record = service.get("/api/queues")["consultation"]["waiting"][0]
    stopped = time.monotonic()
    service.stop()  # SIGTERM: the service hands its waiting callers over, then exits
    while not op4.rung():
        assert time.monotonic() - stopped < 8, "not handed to the fallback queue at once"
        await asyncio.sleep(0.2)
    placed = await caller
    assert placed.returncode == 0, placed.output
    assert op4.answered() == 1
    log = (asterisk.sandbox.root / "var/log/asterisk/messages").read_text(errors="replace")
    assert f"the service stopped: {record['call']} handed to the fallback queue" in log
    service.start()  # the call log says what became of the call
    assert service.get(f"/api/calls/{record['call']}")["outcome"] == "handed-over"


def wait_for_outcome(service: Service, call_id: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        record = service.get("/api/calls", sip_call_id=call_id)[0]
        if record["outcome"] or time.monotonic() > deadline:
            return service.get(f"/api/calls/{record['id']}")
        time.sleep(0.5)


async def test_a_waiting_caller_asks_for_a_callback(
    service: Service, phone: Callable[..., SoftPhone], home_phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    op3 = phone("op3", talk_ms=3000)
    home = home_phone(talk_ms=60_000)
    # consultation; once waiting, 1 (call me back) and # (on the number I call from)
    placed = await call(*CONSULTATION[:1], "11www1w#", hold_ms=30_000)
    assert placed.returncode == 0, placed.output  # the service thanked them and hung up
    record = service.record(placed.call_id)  # settled: waiting for its callback
    assert (record["callback_number"], record["outcome"]) == ("+380501234567", None)
    assert service.get("/api/queues")["consultation"]["waiting"][0]["call"] == record["id"]
    service.login("op3")
    record = wait_for_outcome(service, placed.call_id)
    assert (record["outcome"], record["operator"]) == ("called-back", "op3")
    assert op3.answered() == 1 and home.answered() == 1  # the operator first, then the caller
    assert record["talk"] > 1


async def test_a_detention_caller_who_hangs_up_is_called_back(
    service: Service, phone: Callable[..., SoftPhone], home_phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    op1 = phone("op1", talk_ms=2000)
    home = home_phone(talk_ms=60_000)
    placed = await call(*DETENTION, caller="380661112233", hold_ms=9000)
    record = service.record(placed.call_id)  # settled: waiting for its callback
    assert (record["callback_number"], record["outcome"]) == ("+380661112233", None)
    service.login("op1")
    record = wait_for_outcome(service, placed.call_id)
    (requested,) = [e for e in record["events"] if e["kind"] == "callback.requested"]
    assert requested["data"]["reason"] == "abandoned"
    assert (record["outcome"], record["operator"]) == ("called-back", "op1")
    assert op1.answered() == 1 and home.answered() == 1


async def test_waiting_callers_hear_their_position(asterisk: Asterisk, service: Service) -> None:
    service.start()
    mark = asterisk.log_mark()
    placed = await call(*CONSULTATION, hold_ms=38_000)
    record = service.record(placed.call_id)
    assert record["outcome"] == "abandoned" and record["wait"] > 30
    heard = asterisk.played(record["channel"], mark)
    start = heard.index("hotline/uk/position")
    assert heard[start + 1] == "hotline/uk/number-1"  # first in the queue
    # nobody is logged in to serve the line: no estimate is promised, a callback is offered
    assert heard[start + 2] == "hotline/uk/callback-while-waiting"


async def test_a_restarted_service_finds_its_waiting_callers_again(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    phone("op3", talk_ms=1500)
    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=120_000))
    await waiting_on(service, "consultation", 1)
    while not (entered := service.get("/api/calls", limit=1)[0]["queued"]):
        await asyncio.sleep(0.1)  # the call log is written a moment behind the call
    service.stop(signal.SIGKILL)  # a crash (SIGTERM would hand the caller to the fallback)
    service.start()  # a new process: its queues are empty until Asterisk tells it
    await waiting_on(service, "consultation", 1, seconds=40)  # at the next announcement
    service.login("op3")
    record = service.record((await caller).call_id)
    assert (record["outcome"], record["operator"]) == ("answered", "op3")
    assert record["wait"] >= (at(record["answered"]) - at(entered)).total_seconds() - 1


async def test_an_operator_busy_on_a_fallback_call_is_not_offered_another(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """While the service is stopped a caller reaches op2 through the fallback queue (the
    number's: information); the restarted service sees op2's phone in use and offers them
    nothing until that call ends."""
    service.start()
    op2 = phone("op2", talk_ms=15_000)
    service.login("op2")
    service.stop()  # op2 stays logged in (kept on disk)
    fallback = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000))
    deadline = time.monotonic() + 40
    while op2.answered() < 1:
        assert time.monotonic() < deadline, "the fallback queue never rang op2"
        await asyncio.sleep(0.2)
    service.start()
    assert (service.agent("op2")["state"], service.agent("op2")["in_use"]) == ("available", True)
    waiting = asyncio.create_task(call("0800213103", "14", hold_ms=60_000))  # information
    await waiting_on(service, "information", 1)
    await asyncio.sleep(3)
    assert op2.rung() == 1 and not fallback.done()  # busy: not offered the waiting caller
    await fallback
    record = service.record((await waiting).call_id)
    assert (record["outcome"], record["operator"]) == ("answered", "op2")
    assert op2.rung() == 2 and op2.answered() == 2
