"""The operator's desk in a real browser (Chromium, Playwright) beside a SIPp softphone of the
same operator, on the real sandbox: the caller pops up within a second of the phone's INVITE
with their line, language, earlier calls and open detention notification; a notification
taken by phone and handled from the desk; the wrap-up is saved on the call and counted in
the topics' figures; a transfer from the desk lands the caller in another line; a pause with
a reason. Screenshots (ringing, talking, wrap-up) in test-artifacts/."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect

from bench.sipcall import SoftPhone
from bench.sipp import read_messages
from tests.integration.conftest import Service, call
from tests.integration.test_dashboard import ARTIFACTS, login, until_api
from tests.integration.test_transfers import talking


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


CONSULTATION = ("0800213103", "11")
DETENTION = ("0800213103", "12")
CALLER = "380671230042"
FAMILY = "380671230099"
OP3 = "operator-op3-desk-token-2026"
OP1 = "operator-op1-desk-token-2026"
GE1 = "operator-ge1-desk-token-2026"
EARLIER_NOTE = "Asked about an unpaid salary; to bring the contract next time."


async def open_desk(browser: Browser, service: Service, token: str) -> Page:
    page = await browser.new_page(locale="en-GB", viewport={"width": 1200, "height": 1000})
    await page.goto(service.url("/desk"))
    await page.fill("#token", token)
    await page.click("#login-form button[type=submit]")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    return page


async def test_the_desk_pops_the_caller_up_and_takes_the_wrap_up(
    service: Service, phone: Callable[..., SoftPhone], browser: Browser
) -> None:
    service.settings["HOTLINE_API_TOKENS"] = f"operator:op3={OP3}"
    service.start()
    op3 = phone("op3", ring_ms=3000, talk_ms=6000)
    phone("op1", talk_ms=4000)  # Chernivtsi: detentions, not consultations
    service.login("op3", "op1")

    # an earlier call from the same number, wrapped up
    first = await call(*CONSULTATION, caller=CALLER, hold_ms=30_000)
    earlier = service.record(first.call_id)
    wrapped = httpx.put(
        service.url(f"/api/calls/{earlier['id']}/wrap-up"),
        json={"topics": ["labour"], "resolution": "advice-given", "note": EARLIER_NOTE},
        headers={"Authorization": f"Bearer {OP3}"},
        timeout=10,
    )
    assert wrapped.status_code == 200, wrapped.text
    service.post("/api/agents/op3/ready")

    page = await open_desk(browser, service, OP3)
    await expect(page.locator("#my-state")).to_have_attribute("data-state", "available")

    # the same caller again: on the desk while op3's phone rings
    second = asyncio.create_task(call(*CONSULTATION, caller=CALLER, hold_ms=60_000))
    pop = page.locator("#call[data-state=ringing]")
    await expect(pop).to_be_visible(timeout=60_000)
    await expect(page.locator("#caller")).to_have_text("+" + CALLER)  # (E.164, as logged)
    await expect(page.locator("#call-line")).to_have_attribute("data-line", "consultation")
    await expect(page.locator("#call-language")).to_have_text("Ukrainian")
    await expect(page.locator("#call-path")).to_have_text("language:1 > main:1")
    row = page.locator(f"#previous tr[data-call='{earlier['id']}']")
    await expect(row).to_contain_text("labour")
    await expect(row).to_contain_text(EARLIER_NOTE)
    shown_at = int(await pop.get_attribute("data-shown-at") or 0) / 1000
    invites = [m for m in read_messages([op3.messages]) if m.request == "INVITE"]
    assert len(invites) == 2, invites
    assert 0 <= shown_at - invites[-1].at < 1.0, (shown_at, invites[-1].at)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "desk-ringing.png"), full_page=True)

    await expect(page.locator("#call[data-state=talking]")).to_be_visible(timeout=10_000)
    # the caller reports a detention: taken by phone, its reference to read out at once
    await page.click("#take-notification")
    reference = page.locator("#notification-ref")
    await expect(reference).to_have_attribute("data-ref", re.compile(r"^[0-9]{6}$"))
    ref = await reference.get_attribute("data-ref")
    await expect(page.locator(f"#notifications tr[data-ref='{ref}']")).to_contain_text("op3")
    await page.screenshot(path=str(ARTIFACTS / "desk-talking.png"), full_page=True)

    # the call ends: the wrap-up of it, saved from the form
    done = await second
    await expect(page.locator("#wrapup")).to_be_visible(timeout=15_000)
    await expect(page.locator("#my-state")).to_have_attribute("data-state", "wrap_up")
    await page.check("#topics input[value=housing-property]")
    await page.check("#topics input[value=family]")
    await page.select_option("#resolution", "referred-to-centre")
    await page.fill("#note", "Eviction notice from the landlord; referred to the Sumy centre.")
    await page.screenshot(path=str(ARTIFACTS / "desk-wrapup.png"), full_page=True)
    await page.click("#save-wrapup")
    await expect(page.locator("#wrapup-status")).to_have_attribute("data-ok", "true")
    record = service.record(done.call_id, until=lambda r: r["resolution"] is not None)
    assert (record["topics"], record["resolution"], record["wrapped_up_by"]) == (
        ["housing-property", "family"],
        "referred-to-centre",
        "op3",
    )
    assert "Eviction notice" in record["note"]
    topics = service.get("/api/stats")["topics"]
    assert (topics["labour"]["calls"], topics["housing-property"]["calls"]) == (1, 1)
    # and on the supervisors' wallboard, today's topics
    board = await browser.new_page(locale="en-GB")
    await login(board, service)
    row = board.locator("#topics-today tr[data-topic=housing-property]")
    await expect(row).to_contain_text("housing and property")
    await expect(row.locator(".calls")).to_have_text("1")
    await board.close()
    await page.click("#go-ready")
    await expect(page.locator("#my-state")).to_have_attribute("data-state", "available")

    # the same caller a third time: their open notification pops up with them; transferred
    # from the desk to the detention line, op1 answers them there
    third = asyncio.create_task(call(*CONSULTATION, caller=CALLER, hold_ms=60_000))
    await expect(page.locator(f"#call-alerts [data-ref='{ref}']")).to_be_visible(timeout=60_000)
    await expect(page.locator("#previous tr")).to_have_count(2)
    await expect(page.locator("#call[data-state=talking]")).to_be_visible(timeout=60_000)
    await page.select_option("#transfer-to", "line:detention")
    await page.click("#transfer")
    await expect(page.locator("#transfer-result")).to_have_attribute("data-ok", "true")
    moved = service.record((await third).call_id, wait=60)
    assert (moved["line"], moved["operator"], moved["transfers"][0]["by"]) == (
        "detention",
        "op1",
        "op3",
    )

    # the notification handled from the desk: closed, with who closed it
    await page.click(f"#notifications tr[data-ref='{ref}'] button.handled")
    await expect(page.locator(f"#notifications tr[data-ref='{ref}']")).to_have_count(0)
    (closed,) = [n for n in service.get("/api/notifications") if n["ref"] == ref]
    assert (closed["taken_by"], closed["handled_by"], closed["open"]) == ("op3", "op3", False)

    # a pause, with a reason from the config's list
    await page.click("#go-ready")
    await until_api(service, lambda: service.agent("op3")["state"] == "available")
    await page.select_option("#pause-reason", "training")
    await page.click("#go-pause")
    await expect(page.locator("#my-state")).to_have_text("paused (training)")
    assert service.agent("op3")["pause_reason"] == "training"


async def test_the_desk_calls_a_detention_notification_back_and_keeps_its_history(
    service: Service,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
    browser: Browser,
) -> None:
    """op1 takes a detention notification by phone; later, from the desk, calls the family
    back (op1's phone rings first, then the number is dialled through the carrier, where a
    SIPp 'family' answers), then closes it with an outcome and a note. Its history holds each
    step; a paused operator is told why they cannot call; another organisation's operator
    cannot see it."""
    service.settings["HOTLINE_API_TOKENS"] = f"operator:op1={OP1},operator:ge1={GE1}"
    service.start()
    op1 = phone("op1", talk_ms=5000)
    family = home_phone(talk_ms=3000)
    service.login("op1")
    placed = asyncio.create_task(call(*DETENTION, caller=FAMILY, hold_ms=60_000))
    in_call = await talking(service, "op1")
    taken = httpx.post(service.url(f"/api/calls/{in_call}/notification"), headers=bearer(OP1))
    assert taken.status_code == 201, taken.text
    ref = taken.json()["ref"]
    await placed
    await until_api(service, lambda: service.agent("op1")["state"] == "wrap_up")
    page = await open_desk(browser, service, OP1)
    row = page.locator(f"#notifications tr[data-ref='{ref}']")

    # paused: the desk says why no call can be made
    service.post("/api/agents/op1/pause", reason="admin")
    await row.locator("button.call-back").click()
    status = row.locator(".notification-status")
    await expect(status).to_have_attribute("data-ok", "false")
    await expect(status).to_contain_text("op1 cannot call now (paused)")
    service.post("/api/agents/op1/resume")
    await until_api(service, lambda: service.agent("op1")["state"] == "available")

    await row.locator("button.call-back").click()
    await expect(status).to_have_attribute("data-ok", "true")
    await until_api(service, lambda: family.answered() == 1, seconds=60)
    invite = next(m for m in family.messages_of(sent=False) if "INVITE sip:" in m)
    assert f"INVITE sip:{FAMILY}@" in invite
    assert op1.answered() == 2  # the detention call, then its callback

    def called_back() -> dict[str, Any] | None:
        found = httpx.get(service.url(f"/api/notifications/{ref}"), headers=bearer(OP1)).json()
        ends = [h for h in found["history"] if h["kind"] == "call.ended" and h["call"] != in_call]
        return found if ends and ends[-1]["outcome"] == "called-back" else None

    await until_api(service, called_back, seconds=60)
    await row.locator("button.history").click()
    history = page.locator(f"tr[data-history='{ref}'] ol.history")
    await expect(history.locator("li[data-kind='notification.called']")).to_contain_text("op1")
    await expect(history.locator("li[data-kind='call.answered']")).to_have_count(1)
    await page.screenshot(path=str(ARTIFACTS / "desk-notification-history.png"), full_page=True)

    await row.locator("select.outcome").select_option("family-informed")
    await row.locator("input.handled-note").fill("Mother informed; lawyer on the way.")
    await row.locator("button.handled").click()
    await expect(row).to_have_count(0)
    closed = httpx.get(service.url(f"/api/notifications/{ref}"), headers=bearer(OP1)).json()
    assert (closed["open"], closed["handled_by"], closed["outcome"], closed["note"]) == (
        False,
        "op1",
        "family-informed",
        "Mother informed; lawyer on the way.",
    )
    kinds = [h["kind"] for h in closed["history"]]
    assert kinds[0] == "notification.stored" and kinds[-1] == "notification.handled", kinds
    assert kinds.index("notification.called") < kinds.index("callback.requested"), kinds
    callback = next(h["call"] for h in closed["history"] if h["kind"] == "callback.requested")
    listed = service.get("/api/calls", outcome="called-back")
    assert [(c["id"], c["operator"], c["line"]) for c in listed] == [
        (callback, "op1", "detention")
    ], listed
    # the supervisors' list shows the outcome; another organisation's operator sees nothing
    (shown,) = [n for n in service.get("/api/notifications") if n["ref"] == ref]
    assert shown["outcome"] == "family-informed" and "note" not in shown
    other = httpx.get(service.url(f"/api/notifications/{ref}"), headers=bearer(GE1))
    assert other.status_code == 404
    refused = httpx.post(
        service.url(f"/api/notifications/{ref}/handled"),
        json={"outcome": "lunch"},
        headers=bearer(OP1),
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["loc"] == [
        "body",
        "outcome",
    ]
