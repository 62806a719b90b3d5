"""Each organisation's data its own, on the real sandbox: what one organisation's callers
left (a detention report, a callback) never shows on another organisation's desk or event
stream, whatever number a caller calls from or types."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.sipcall import SoftPhone
from tests.integration.conftest import NOTIFICATION, Service, call
from tests.integration.test_call_log import EventWitness

FAMILY = "380661112233"  # a Ukrainian family with an open detention report
GE1 = "operator-ge1-separation-token-2026"
GE_SUPERVISOR = "supervisor-ge-separation-token-2026"
UA_SUPERVISOR = "supervisor-ua-separation-token-2026"
GEORGIA = "0322920055"


def as_(service: Service, token: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(
        service.url(path), params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


async def ringing_desk(service: Service, token: str, **params: Any) -> dict[str, Any]:
    """ge1's desk once a caller rings them."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        desk: dict[str, Any] = as_(service, token, "/api/desk", **params).json()
        if desk.get("call"):
            return desk
        await asyncio.sleep(0.2)
    raise AssertionError(f"nobody rang ge1:\n{service.log.read_text()[-3000:]}")


async def test_another_organisations_reports_and_callbacks_stay_its_own(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """A family with an open Ukrainian detention report and a Ukrainian callback pending
    calls Georgia: the Georgian consultant's screen pop (and the Georgian supervisor's view
    of it) shows neither; nor does a withheld number show a withheld Ukrainian caller's
    report. A Ukrainian caller who types Georgia's hotline number as their callback number
    stays Ukraine's: their events reach Ukraine's stream, never Georgia's."""
    withheld = {**NOTIFICATION, "ref": "654321", "call": "1.2", "caller": "anonymous"}
    withheld["number"] = "380671112299"
    with (service.data_dir / "notifications.jsonl").open("w") as journal:
        for item in (NOTIFICATION, withheld):
            journal.write(json.dumps(item) + "\n")
    service.settings["HOTLINE_API_TOKENS"] = (
        f"operator:ge1={GE1},supervisor@ge-legal-aid={GE_SUPERVISOR},"
        f"supervisor@ua-legal-aid={UA_SUPERVISOR}"
    )
    service.start()
    georgian_stream, ukrainian_stream = (
        EventWitness(service, GE_SUPERVISOR),
        EventWitness(service, UA_SUPERVISOR),
    )
    for stream in (georgian_stream, ukrainian_stream):
        stream.start()
        assert stream.connected.wait(10)

    # the family, on Ukraine's detention line, hangs up while waiting: called back later;
    # another caller asks to be called back on Georgia's hotline number
    abandoned, typed = await asyncio.gather(
        call("0800213103", "12", caller=FAMILY, hold_ms=4000),
        call("0800213103", f"12www1{GEORGIA}#", caller="380507654321", hold_ms=30_000),
    )
    family_call = service.record(abandoned.call_id)
    assert (family_call["callback_number"], family_call["outcome"]) == ("+" + FAMILY, None)
    typed_call = service.record(typed.call_id)
    # (typed on Ukraine's line, a national number is read in Ukraine's plan: 0322 is Lviv's)
    typed_number = "+380322920055"
    assert typed_call["callback_number"] == typed_number, typed_call
    await asyncio.sleep(1)  # (the streams' last events on their way)
    georgian_stream.done = ukrainian_stream.done = True
    georgian_calls = {e["call_id"] for e in georgian_stream.events}
    assert not {family_call["id"], typed_call["id"]} & georgian_calls
    requested = [
        e
        for e in ukrainian_stream.events
        if e["call_id"] == typed_call["id"] and e["kind"] == "callback.requested"
    ]
    assert [e["data"]["number"] for e in requested] == [typed_number], ukrainian_stream.events
    assert {e.get("organisation") for e in ukrainian_stream.events} == {"ua-legal-aid"}

    phone("ge1", ring_ms=6000, talk_ms=1000)
    service.login("ge1")
    for caller in (FAMILY, "anonymous"):
        placed = asyncio.create_task(call(GEORGIA, "1", caller=caller, hold_ms=20_000))
        desk = await ringing_desk(service, GE1)
        assert desk["call"]["caller"] == (caller if caller == "anonymous" else "+" + caller)
        assert (desk["call"]["notifications"], desk["call"]["callbacks"]) == ([], []), desk
        assert desk["call"]["previous"] == [], desk
        viewed = await ringing_desk(service, GE_SUPERVISOR, operator="ge1")
        assert (viewed["call"]["notifications"], viewed["call"]["callbacks"]) == ([], [])
        await placed
