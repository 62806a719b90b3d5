"""Planned callbacks on the real sandbox: a caller of the information line (open around the
clock) who cannot wait presses 3, then 1 ("this evening, after six"), and hangs up at 17:59;
the operator who logs in meanwhile is not rung for it before 18:00, then is, and the caller is
called back at home through the carrier. And a lawyer who plans one at a call's wrap-up, on
their desk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import Browser, expect

from bench.sipcall import SoftPhone
from tests.integration.conftest import WORKING_HOURS, Service, call
from tests.integration.test_dashboard import ARTIFACTS
from tests.integration.test_desk import open_desk
from tests.integration.test_queues import at, offered_to, wait_for_outcome

#: A Wednesday, a minute and a half before six in the evening in Kyiv.
BEFORE_SIX = "2026-11-25T17:58:30+02:00"
SIX = datetime.fromisoformat("2026-11-25T18:00:00+02:00")


async def test_a_caller_is_called_back_at_the_time_they_chose(
    service: Service, phone: Callable[..., SoftPhone], home_phone: Callable[..., SoftPhone]
) -> None:
    service.start(clock=BEFORE_SIX)
    op1 = phone("op1", talk_ms=3000)
    home = home_phone(talk_ms=60_000)
    # information; once waiting, 3 (at a time I choose), 1 (this evening), # (this number)
    placed = await call("0800213103", "14www3w1w#", hold_ms=30_000)
    assert placed.returncode == 0, placed.output  # thanked and hung up
    record = service.record(placed.call_id)  # settled: waiting for its callback
    (requested,) = [e for e in record["events"] if e["kind"] == "callback.requested"]
    assert at(requested["data"]["at"]) == SIX
    (waiting,) = service.get("/api/queues")["information"]["waiting"]
    assert waiting["callback"] and at(waiting["not_before"]) == SIX
    service.login("op1")  # before six: free, and not rung for it
    record = wait_for_outcome(service, placed.call_id, seconds=180)
    assert (record["outcome"], record["operator"]) == ("called-back", "op1")
    ((_, offered),) = offered_to(record)
    assert at(offered) >= SIX
    assert op1.answered() == 1 and home.answered() == 1


OP3 = "operator-op3-planner-token-2026"


async def test_an_operator_plans_a_callback_at_the_wrap_up_and_makes_it_at_its_time(
    service: Service,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
    browser: Browser,
) -> None:
    """A lawyer in Sumy talks to a caller, and at the wrap-up on their desk (Chromium) sets
    "call the caller back from" a minute or two ahead: the callback is listed on their desk
    with its time and who planned it, and at that time the lawyer's phone rings and the
    caller's own phone is called through the carrier."""
    service.settings["HOTLINE_API_TOKENS"] = f"operator:op3={OP3}"
    started = time.monotonic()
    service.start()  # a Wednesday, 11:00 in Kyiv
    op3 = phone("op3", talk_ms=3000)
    home = home_phone(talk_ms=60_000)
    service.login("op3")
    first = await call("0800213103", "11", caller="380501234599", hold_ms=30_000)
    talked = service.record(first.call_id)
    assert talked["operator"] == "op3", talked

    page = await open_desk(browser, service, OP3)
    await expect(page.locator("#wrapup")).to_be_visible(timeout=20_000)
    # the service's clock: 11:00 in Kyiv at its start; the callback in the minute after next
    now = datetime.fromisoformat(WORKING_HOURS) + timedelta(seconds=time.monotonic() - started)
    planned = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    local = planned.astimezone(
        ZoneInfo(await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone"))
    )
    await page.check("#topics input[value=labour]")
    await page.select_option("#resolution", "callback-needed")
    await page.fill("#callback-at", local.strftime("%Y-%m-%dT%H:%M"))
    await page.click("#save-wrapup")
    await expect(page.locator("#wrapup-status")).to_contain_text("callback planned for")
    row = page.locator("#callbacks tr[data-call]")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("380501234599")
    await expect(row).to_contain_text("op3")
    await page.screenshot(path=str(ARTIFACTS / "desk-planned-callback.png"), full_page=True)
    (waiting,) = service.get("/api/queues")["consultation"]["waiting"]
    assert waiting["callback"] and at(waiting["not_before"]) == planned

    deadline = time.monotonic() + 240
    while (
        reply := service.get_as(service.token, f"/api/calls/{waiting['call']}")
    ).status_code != 200 or not (record := reply.json())["outcome"]:
        assert time.monotonic() < deadline, reply.text
        await asyncio.sleep(0.5)
    assert (record["outcome"], record["operator"]) == ("called-back", "op3"), record
    ((_, offered),) = offered_to(record)
    assert at(offered) >= planned
    (asked,) = [e for e in record["events"] if e["kind"] == "callback.requested"]
    assert (asked["data"]["reason"], asked["data"]["by"]) == ("planned", "op3")
    assert op3.answered() == 2 and home.answered() == 1
    await expect(page.locator("#callbacks tr[data-call]")).to_have_count(0)
