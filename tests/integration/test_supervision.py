"""A supervisor steps into a live call: the service rings the supervisor's SIPp softphone and
ChanSpy joins it to the operator's call, for each of listen, whisper and barge."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from bench.sipcall import SoftPhone
from tests.integration.conftest import Asterisk, Service, call

CONSULTATION = ("0800213103", "11")


async def test_listen_whisper_barge(
    service: Service, phone: Callable[..., SoftPhone], asterisk: Asterisk
) -> None:
    service.start()
    op3 = phone("op3", talk_ms=40_000, speaks=True)  # talks (a tone) 40 s, then hangs up
    sup1 = phone("sup1", talk_ms=3000)
    service.login("op3")
    assert service.post("/api/agents/op3/spy", supervisor="sup1").status_code == 409  # no call
    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=90_000))
    deadline = time.monotonic() + 30
    while service.agent("op3")["state"] != "on_call":
        assert time.monotonic() < deadline, service.agent("op3")
        await asyncio.sleep(0.3)
    call_id = service.agent("op3")["call"]

    for joined, (mode, options) in enumerate(
        (("listen", "qE"), ("whisper", "qEw"), ("barge", "qEB")), 1
    ):
        mark = asterisk.log_mark()
        reply = service.post("/api/agents/op3/spy", supervisor="sup1", mode=mode)
        assert reply.status_code == 202, reply.text
        assert reply.json()["call"] == call_id
        deadline = time.monotonic() + 20
        while sup1.answered() < joined:
            assert time.monotonic() < deadline, f"sup1 was not rung for {mode}"
            await asyncio.sleep(0.3)
        # ChanSpy ran with the mode's options and found op3's channel
        deadline = time.monotonic() + 10
        while not re.search(r"Spying on channel PJSIP/op3-", log := asterisk.log_since(mark)):
            assert time.monotonic() < deadline, log[-3000:]
            await asyncio.sleep(0.3)
        # (named by its channel's uniqueid, exactly: u)
        assert 'ChanSpy("PJSIP/sup1-' in log and f",u{options}" in log
        await asyncio.sleep(3.5)  # sup1 hangs up after 3 s

    assert service.agent("op3")["state"] == "on_call"  # the operator's call went on throughout
    assert op3.answered() == 1
    assert service.post("/api/agents/op3/spy", supervisor="op1").status_code == 422
    placed = await caller  # op3 hangs up after 40 s
    record = service.record(placed.call_id)
    assert record["id"] == call_id and record["outcome"] == "answered"
    spied = [e["data"]["mode"] for e in record["events"] if e["kind"] == "call.spy"]
    assert spied == ["listen", "whisper", "barge"]
