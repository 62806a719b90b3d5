"""An air-raid alert in Sumy, on the real sandbox: the supervisor takes the office to shelter
and its waiting callers are rung in Chernivtsi within a second, in their order, while the two
lawyers talking in Sumy finish their calls undisturbed and are then paused for the shelter; a
caller who comes meanwhile hears why the wait may be longer; the shelter's end brings the
lawyers back. Then the wallboard's controls for it in Chromium, and a supervisor's phone
(*72 and the office's code)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from bench.sipcall import SoftPhone
from tests.integration.conftest import Asterisk, Service, call, config_variant
from tests.integration.test_announcements import supervisor_dials
from tests.integration.test_dashboard import ARTIFACTS, ON_SCREEN, login, until_api
from tests.integration.test_queues import at, offered_to, waiting_on

CONSULTATION = ("0800213103", "11")  # Ukrainian, legal consultation: Sumy's lawyers


@pytest.fixture
def chernivtsi_consults(tmp_path: Path) -> Path:
    """The config with two of Chernivtsi's operators (op1, op2) giving consultations: the
    consultation line's overflow office, after its two minutes."""
    path, _ = config_variant(
        tmp_path,
        organisations={"ua-legal-aid": {"operators": {"op1": {
            "name": "Operator 1", "office": "chernivtsi", "code": "91",
            "lines": ["information", "detention", "rehabilitation", "consultation"],
            "languages": ["uk", "en", "ru"]}}}},
    )  # fmt: skip
    return path


def agent_is(service: Service, operator: str, state: str, reason: str | None = None) -> bool:
    found = service.agent(operator)
    return bool(found["state"] == state and found["pause_reason"] == reason)


def delete(service: Service, path: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {service.token}"}
    return httpx.delete(service.url(path), headers=headers, timeout=10)


@pytest.fixture
def started(
    service: Service, chernivtsi_consults: Path, phone: Callable[..., SoftPhone]
) -> Iterator[dict[str, SoftPhone]]:
    service.start(config=chernivtsi_consults)
    phones = {
        # Sumy's two lawyers talk a minute; Chernivtsi's two answer in a few seconds
        "op3": phone("op3", talk_ms=60_000),
        "op4": phone("op4", talk_ms=60_000),
        "op1": phone("op1", talk_ms=2_000),
        "op2": phone("op2", talk_ms=2_000),
    }
    service.login("op1", "op2", "op3", "op4")
    yield phones
    if service.process is not None and service.process.poll() is None:
        delete(service, "/api/offices/sumy/shelter")


async def test_an_air_raid_alert_sends_sumys_callers_to_chernivtsi_at_once(
    service: Service, asterisk: Asterisk, started: dict[str, SoftPhone]
) -> None:
    talking = []
    for caller in ("380501110001", "380501110002"):
        talking.append(asyncio.create_task(call(*CONSULTATION, caller=caller, hold_ms=180_000)))
        await asyncio.sleep(0.3)
    await until_api(
        service,
        lambda: agent_is(service, "op3", "on_call") and agent_is(service, "op4", "on_call"),
        seconds=60,
    )
    waiting = []
    for n in range(4):  # a little apart, so that their order is known
        caller = f"38050222000{n}"
        waiting.append(asyncio.create_task(call(*CONSULTATION, caller=caller, hold_ms=180_000)))
        await asyncio.sleep(0.5)
    await waiting_on(service, "consultation", 4, seconds=60)
    # nobody in Chernivtsi may take them yet (the overflow's two minutes)
    assert service.agent("op1")["state"] == "available"
    mark = asterisk.log_mark()

    reply = service.post("/api/offices/sumy/shelter")
    assert reply.status_code == 200, reply.text
    since = at(reply.json()["shelter"]["since"])
    late = asyncio.create_task(call(*CONSULTATION, caller="380503330000", hold_ms=180_000))

    records = [service.record(p.call_id, wait=30) for p in await asyncio.gather(*waiting)]
    by_arrival = sorted(records, key=lambda r: at(r["queued"]))
    first_offers = [offered_to(r)[0] for r in by_arrival]
    # the first two at once, to Chernivtsi's two; then the others, as those come free
    assert {op for op, _ in first_offers} == {"op1", "op2"}
    for _, offered in first_offers[:2]:
        assert (at(offered) - since).total_seconds() <= 1.0, (since, first_offers)
    assert [t for _, t in first_offers] == sorted(t for _, t in first_offers)  # in their order
    for r in records:
        assert r["outcome"] == "answered", r
        assert "call.sheltered" in [e["kind"] for e in r["events"]]  # on their timeline

    # the caller who came meanwhile hears why the wait may be longer, after "please hold"
    latecomer = service.record((await late).call_id, wait=60)
    heard = asterisk.played(latecomer["channel"], mark)
    assert "hotline/uk/shelter" in heard, heard
    assert heard.index("hotline/uk/please-hold") < heard.index("hotline/uk/shelter")
    assert latecomer["operator"] in ("op1", "op2")

    # the talks in Sumy were never disturbed; once over, their lawyers are paused for it
    for r in [service.record(p.call_id, wait=90) for p in await asyncio.gather(*talking)]:
        assert r["outcome"] == "answered" and r["operator"] in ("op3", "op4"), r
        assert r["talk"] >= 55, r
    await until_api(
        service,
        lambda: (
            agent_is(service, "op3", "paused", "shelter")
            and agent_is(service, "op4", "paused", "shelter")
        ),
        seconds=30,
    )
    offices = {o["id"]: o for o in service.get("/api/offices")}
    assert offices["sumy"]["shelter"]["for"] > 60 and offices["chernivtsi"]["shelter"] is None

    ended = delete(service, "/api/offices/sumy/shelter")
    assert ended.status_code == 200 and ended.json()["shelter"] is None
    await until_api(
        service,
        lambda: agent_is(service, "op3", "available") and agent_is(service, "op4", "available"),
        seconds=10,
    )
    kinds = [e["kind"] for e in service.get("/api/calls/" + records[0]["id"])["events"]]
    assert kinds.index("call.sheltered") < kinds.index("call.offered")


async def test_the_wallboard_takes_an_office_to_shelter_and_back(
    service: Service, started: dict[str, SoftPhone], browser: Browser
) -> None:
    page = await browser.new_page(locale="en-GB")
    await login(page, service)
    sumy = page.locator("#offices tr[data-office=sumy]")
    await expect(sumy.locator(".shelter-state")).to_have_text("working")
    await expect(page.locator("#shelter-alert")).to_be_hidden()
    await sumy.locator(".shelter-minutes").select_option("60")
    await sumy.locator(".shelter-start").click()
    await expect(sumy).to_have_class("sheltered", timeout=ON_SCREEN)
    await expect(page.locator("#shelter-alert")).to_be_visible()
    await expect(page.locator("#shelters li[data-office=sumy]")).to_contain_text("in shelter for")
    await expect(page.locator("tr[data-operator=op3] .state")).to_have_text(
        "paused (shelter)", timeout=ON_SCREEN
    )
    office = next(o for o in service.get("/api/offices") if o["id"] == "sumy")
    left = at(office["shelter"]["until"]) - datetime.fromisoformat(office["shelter"]["since"])
    assert 3590 <= left.total_seconds() <= 3600
    # it counts how long it has lasted
    lasted = re.compile(r"in shelter for 0:0[2-9] until")
    await expect(sumy.locator(".shelter-state")).to_have_text(lasted, timeout=ON_SCREEN + 2000)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wallboard-shelter.png"), full_page=True)
    await sumy.locator(".shelter-end").click()
    await expect(sumy.locator(".shelter-state")).to_have_text("working", timeout=ON_SCREEN)
    await expect(page.locator("#shelter-alert")).to_be_hidden()
    await expect(page.locator("tr[data-operator=op3]")).to_have_attribute(
        "data-state", "available", timeout=ON_SCREEN
    )


def office(service: Service, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(o for o in service.get("/api/offices") if o["id"] == name)
    return found


async def test_a_supervisor_takes_an_office_to_shelter_from_their_phone_and_back(
    service: Service, asterisk: Asterisk, phone: Callable[..., SoftPhone]
) -> None:
    """When the alert sounds the supervisor may be away from any screen: *72 and Sumy's code
    (81) from their phone takes it to shelter (its lawyer paused for it), the same again ends
    it; each time they hear what was done. Another organisation's office code, or none, is a
    wrong key."""
    service.start()
    phone("op3", talk_ms=2000)
    service.login("op3")
    mark = asterisk.log_mark()
    await supervisor_dials(asterisk, "*7281")
    await until_api(service, lambda: office(service, "sumy")["shelter"])
    shelter = office(service, "sumy")["shelter"]
    assert shelter["by"] == "sup1" and shelter["until"] is None
    assert agent_is(service, "op3", "paused", "shelter")
    assert "hotline/uk/shelter-begun" in asterisk.log_since(mark)

    mark = asterisk.log_mark()
    await supervisor_dials(asterisk, "*7281")
    await until_api(service, lambda: office(service, "sumy")["shelter"] is None)
    await until_api(service, lambda: agent_is(service, "op3", "available"))
    assert "hotline/uk/shelter-ended" in asterisk.log_since(mark)

    mark = asterisk.log_mark()
    await supervisor_dials(asterisk, "*7299")  # no office has that code
    assert "hotline/uk/wrong-key" in asterisk.log_since(mark)
    assert all(o["shelter"] is None for o in service.get("/api/offices"))
