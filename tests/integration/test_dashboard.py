"""The wallboard in a real browser (Debian's Chromium driven by Playwright) against the running
service and the real sandbox: SIPp callers appear within a second, an operator answering
changes state on screen, a caller hanging up leaves the queue, a lost connection is shown and
recovered. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Page, expect

from bench.sipcall import SoftPhone
from tests.conftest import ROOT
from tests.integration.conftest import Service, call

CONSULTATION = ("0800213103", "11")
ARTIFACTS = ROOT / "test-artifacts"


async def until_api(service: Service, check: Callable[[], Any], seconds: float = 30) -> float:
    """Poll the API until ``check()`` holds; returns when it first did (monotonic)."""
    deadline = time.monotonic() + seconds
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "the API never showed it"
        await asyncio.sleep(0.05)
    return time.monotonic()


async def login(page: Page, service: Service) -> None:
    await page.goto(service.url("/dashboard"))
    await page.fill("#token", service.token)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")


#: How soon (ms) a change shows on the wallboard: within a second or so on a quiet machine (the
#: bench measures speed); here three other test workers share the two cores with it.
ON_SCREEN = 3000


async def test_the_wallboard_follows_the_calls(
    service: Service, phone: Callable[..., SoftPhone], browser: Browser
) -> None:
    service.start()
    page = await browser.new_page(locale="en-GB")
    await page.goto(service.url("/dashboard"))
    await expect(page.locator("#login")).to_be_visible()  # no token, no wallboard
    await login(page, service)
    waiting = page.locator("tr[data-line=consultation] .waiting")
    op3_row = page.locator("tr[data-operator=op3]")
    await expect(waiting).to_have_text("0")

    def consultation_waiting() -> int:
        return len(service.get("/api/queues")["consultation"]["waiting"])

    # a caller joins the queue: on screen within a second
    first = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000))
    await until_api(service, lambda: consultation_waiting() == 1)
    await expect(waiting).to_have_text("1", timeout=ON_SCREEN)
    # a second caller, who gives up after a while: leaves the queue on screen too
    second = asyncio.create_task(call(*CONSULTATION, caller="380671234500", hold_ms=9_000))
    await until_api(service, lambda: consultation_waiting() == 2)
    await expect(waiting).to_have_text("2", timeout=ON_SCREEN)
    await until_api(service, lambda: consultation_waiting() == 1)
    await expect(waiting).to_have_text("1", timeout=ON_SCREEN)
    await second

    # logged in without a registered phone: shown as such, never as available; a pause
    # shows its reason
    service.login("op4", "op5", wait_reachable=False)
    assert service.post("/api/agents/op5/pause", reason="training").status_code == 200
    op4_row = page.locator("tr[data-operator=op4]")
    await expect(op4_row).to_have_attribute("data-state", "unreachable", timeout=2000)
    await expect(op4_row.locator(".state")).to_have_text("phone unreachable")
    await expect(page.locator("tr[data-operator=op5] .state")).to_have_text("paused (training)")

    # an operator logs in and answers: their state changes on screen
    await expect(op3_row).to_have_attribute("data-state", "logged_out")
    phone("op3", ring_ms=4000, talk_ms=5000)
    service.login("op3")
    await until_api(service, lambda: service.agent("op3")["state"] == "ringing")
    await expect(op3_row).to_have_attribute("data-state", "ringing", timeout=ON_SCREEN)
    await until_api(service, lambda: service.agent("op3")["state"] == "on_call")
    await expect(op3_row).to_have_attribute("data-state", "on_call", timeout=ON_SCREEN)
    await expect(waiting).to_have_text("0", timeout=ON_SCREEN)
    await expect(op3_row.locator(".state")).to_have_text("on call")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    await first

    # figures: today's calls counted for the line, and in the chart
    await expect(page.locator("tr[data-line=consultation] .answered")).to_have_text("1")
    await expect(page.locator("tr[data-line=consultation] .abandoned")).to_have_text("1")
    bars = page.locator("#chart rect[data-day=today]")
    counts = [int(await bars.nth(i).get_attribute("data-count") or 0) for i in range(24)]
    assert sum(counts) == 2, counts

    # the calls view: search, open a call, its timeline
    calls = await browser.new_page(locale="en-GB")
    await calls.context.add_cookies(await page.context.cookies())
    await calls.goto(service.url("/calls"))
    await calls.select_option("select[name=outcome]", "answered")
    await calls.click("#filters button[type=submit]")
    rows = calls.locator("#calls tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("op3")
    await rows.first.click()
    await expect(calls.locator("#timeline")).to_contain_text("call.answered")
    await expect(calls.locator("#player")).to_have_text("No recording")  # not a recorded line
    await calls.close()

    # the labels follow the language picked
    await page.select_option("#lang", "uk")
    await expect(page.locator("h1")).to_have_text("Гаряча лінія правової допомоги")
    await page.select_option("#lang", "en")

    # the service goes away: the wallboard says so, and comes back by itself
    service.stop()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "lost")
    service.start()
    await expect(page.locator("#connection")).to_have_attribute(
        "data-state", "live", timeout=15_000
    )
    await expect(page.locator("tr[data-operator=op3]")).to_be_visible()


async def test_a_viewer_sees_no_notifications_and_a_bad_token_is_refused(
    service: Service, browser: Browser
) -> None:
    service.settings["HOTLINE_API_TOKENS"] = "viewer@ua-legal-aid=a-viewer-token-for-the-wallboard"
    service.start()
    page = await browser.new_page(locale="uk-UA")
    await page.goto(service.url("/dashboard"))
    await page.fill("#token", "hl_wrong")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#login-error")).to_have_text("Цей токен недійсний.")
    await page.fill("#token", "a-viewer-token-for-the-wallboard")
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.locator("tr[data-line=detention]")).to_be_visible()
    await expect(page.locator("#notifications-box")).to_be_hidden()
    # a wallboard of Ukraine's contact centre: its name, its lines, none of Georgia's
    await expect(page.locator("#organisation")).to_have_text(
        "Free legal aid contact centre (Ukraine)"
    )
    await expect(page.locator("tr[data-line=ge-consultation]")).to_have_count(0)
