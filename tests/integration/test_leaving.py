"""Every way a detention caller can leave before a person answered keeps their callback, on
the real sandbox with SIPp callers and phones: hanging up while an operator's phone rings for
them, while the colleague they were transferred to is rung, during the message prompt, and
while asked for a callback number. (Hanging up while merely waiting: test_queues.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bench.sipcall import SoftPhone
from tests.integration.conftest import Asterisk, Service, call, config_variant
from tests.integration.test_queues import wait_for_outcome
from tests.integration.test_transfers import talking, transfer

DETENTION = ("0800213103", "12")
FAMILY = "380661112233"


def kept(record: dict[str, Any], reason: str = "abandoned") -> dict[str, Any]:
    """The callback the record promises (its ``callback.requested``), the call not ended."""
    assert record["outcome"] is None, record
    assert record["callback_number"] == "+" + FAMILY, record  # (E.164, as logged)
    (requested,) = [e for e in record["events"] if e["kind"] == "callback.requested"]
    assert (requested["data"]["line"], requested["data"]["reason"]) == ("detention", reason)
    return requested


async def test_hanging_up_while_an_operators_phone_rings_keeps_the_callback(
    service: Service, phone: Callable[..., SoftPhone], home_phone: Callable[..., SoftPhone]
) -> None:
    """op1 is slow to pick up (10 s); the caller gives up after 4 s of ringing. They are
    called back: op1's phone rings again, then the family's."""
    service.start()
    op1 = phone("op1", ring_ms=10_000, talk_ms=2000)
    home = home_phone(talk_ms=60_000)
    service.login("op1")
    placed = await call(*DETENTION, caller=FAMILY, hold_ms=4000)
    record = service.record(placed.call_id)
    kinds = [e["kind"] for e in record["events"]]
    assert kinds.index("call.offered") < kinds.index("callback.requested"), kinds
    kept(record)
    record = wait_for_outcome(service, placed.call_id, 90)
    assert (record["outcome"], record["operator"]) == ("called-back", "op1")
    assert op1.rung() == 2 and op1.answered() == 1 and home.answered() == 1


async def test_hanging_up_while_a_transferred_call_rings_keeps_the_callback(
    service: Service, phone: Callable[..., SoftPhone], home_phone: Callable[..., SoftPhone]
) -> None:
    """op1 takes the detention caller and passes them to op3, whose phone rings on; the
    caller hangs up meanwhile: a callback on the detention line, then carried out (op3 still
    does not answer: op1 does, then the family)."""
    service.start()
    op1 = phone("op1", talk_ms=8000)
    op3 = phone("op3", answers=False)
    home = home_phone(talk_ms=2000)
    service.login("op1", "op3")
    service.post("/api/agents/op3/pause", reason="break")  # kept for the transfer alone
    placed = asyncio.create_task(call(*DETENTION, caller=FAMILY, hold_ms=12_000))
    call_id = await talking(service, "op1")
    service.post("/api/agents/op3/resume")
    moved = transfer(service, call_id, operator="op3")
    assert moved.status_code == 202, moved.text
    deadline = time.monotonic() + 15
    while not op3.rung():
        assert time.monotonic() < deadline, "op3 was never rung"
        await asyncio.sleep(0.2)
    gone = await placed
    record = service.record(gone.call_id)
    kinds = [e["kind"] for e in record["events"]]
    assert kinds.index("call.transferred") < kinds.index("callback.requested"), kinds
    kept(record)
    record = wait_for_outcome(service, gone.call_id, 120)
    assert (record["outcome"], record["operator"]) == ("called-back", "op1")
    assert op1.answered() == 2 and home.answered() == 1


async def test_hanging_up_during_the_message_prompt_keeps_the_callback(
    asterisk: Asterisk, service: Service, tmp_path: Any
) -> None:
    """Nobody answers in 5 s: the caller is asked for a message and hangs up while the
    prompt plays. Their report is kept (no message) and called back."""
    config, _ = config_variant(
        tmp_path,
        organisations={"ua-legal-aid": {"lines": {"detention": {"take_message_after": 5}}}},
    )
    service.start(config=config)
    mark = asterisk.log_mark()
    placed = await call(*DETENTION, caller=FAMILY, hold_ms=10_500)
    record = service.record(placed.call_id)
    heard = asterisk.played(record["channel"], mark)
    assert heard[-1] == "hotline/uk/detention-message", heard  # hung up during it
    kept(record, reason="notification")
    (report,) = [n for n in service.get("/api/notifications") if n["call"] == record["id"]]
    assert (report["open"], report["number"], report["recording"]) == (True, "+" + FAMILY, "")


async def test_hanging_up_while_asked_for_a_callback_number_keeps_the_callback(
    asterisk: Asterisk, service: Service
) -> None:
    """The caller presses 1 (call me back) and hangs up while asked for the number: called
    back on the number they call from."""
    service.start()
    mark = asterisk.log_mark()
    placed = await call(DETENTION[0], "12ww1", caller=FAMILY, hold_ms=3000)
    record = service.record(placed.call_id)
    heard = asterisk.played(record["channel"], mark)
    assert heard[-1] == "hotline/uk/callback-number", heard
    kept(record)
