"""Who is on duty, in the running service against the sandbox: GET /api/duty per organisation
(each token its own; phone numbers for supervisors only), /metrics, a calendar file changed
and then broken on disk while the service runs, and the wallboard in headless Chromium
showing who is on duty and the next gap in red."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from tests.conftest import ROOT
from tests.integration.conftest import WORKING_HOURS, Service, config_variant
from tests.integration.test_dashboard import login
from tests.unit.hotline.reports.test_calendars import ics

UA_SUPERVISOR = "ua-duty-supervisor-token-2026"
GE_VIEWER = "ge-duty-viewer-token-2026"
OP1 = "operator-one-duty-token-2026"
#: One shift from 20 November to the end of the year (the clock: 25 November).
SHIFT = """BEGIN:VEVENT
UID:december@centre
DTSTAMP:20261101T000000Z
DTSTART;TZID=Europe/Kyiv:20261120T000000
DTEND;TZID=Europe/Kyiv:20270101T000000
SUMMARY:Duty lawyer
ATTENDEE;CN=Duty:mailto:{email}
END:VEVENT"""
#: The brief's night pattern alone: nobody on Wednesday 25 November at 11:00.
NIGHTS_ONLY = [{"who": ["kapanadze"], "when": ["mon-fri 18:00-09:00", "sat-sun always"]}]


def until(check: Callable[[], Any], seconds: float = 15) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "never"
        time.sleep(0.2)
    return found


async def test_each_organisation_sees_its_own_rota_and_a_changed_calendar(
    service: Service, tmp_path: Path
) -> None:
    calendar = tmp_path / "duty-ua.ics"
    calendar.write_text(ics(SHIFT.format(email="o.kovalenko@example.org")))
    config, _ = config_variant(
        tmp_path,
        organisations={
            "ua-legal-aid": {
                "duty": {
                    "rotas": {"national": {"lawyers": [], "calendar": {"file": str(calendar)}}}
                }
            },
            "ge-legal-aid": {"duty": {"rotas": {"tbilisi": {"lawyers": NIGHTS_ONLY}}}},
        },
    )
    service.settings["HOTLINE_API_TOKENS"] = (
        f"supervisor@ua-legal-aid={UA_SUPERVISOR},viewer@ge-legal-aid={GE_VIEWER},"
        f"operator:op1={OP1}"
    )
    service.start(WORKING_HOURS, config=config)

    ua = service.get_as(UA_SUPERVISOR, "/api/duty")
    assert ua.status_code == 200, ua.text
    (national,) = ua.json()["rotas"]  # Ukraine's only
    assert (national["organisation"], national["rota"], national["default"]) == (
        "ua-legal-aid",
        "national",
        True,
    )
    assert national["lawyers"] == [
        {
            "id": "kovalenko",
            "name": "Olena Kovalenko",
            "language": "uk",
            "phone": "+380671234501",  # the config's 0671234501, kept in E.164
            "email": "o.kovalenko@example.org",
        }
    ]
    assert [p["id"] for p in national["supervisors"]] == ["melnyk"]
    assert national["gaps"] == []
    assert (national["calendar"]["source"], national["calendar"]["ok"]) == (str(calendar), True)

    ge = service.get_as(GE_VIEWER, "/api/duty")
    assert ge.status_code == 200, ge.text
    (tbilisi,) = ge.json()["rotas"]  # Georgia's only
    assert tbilisi["organisation"] == "ge-legal-aid"
    assert tbilisi["lawyers"] == []  # nobody on Wednesday at 13:00 in Tbilisi
    assert tbilisi["supervisors"] == [{"id": "lomidze", "name": "Tamar Lomidze", "language": "ka"}]
    first = tbilisi["gaps"][0]  # (a viewer sees names, never numbers or e-mails)
    assert first["says"] == (
        "ge-legal-aid rota tbilisi: no lawyer on duty Wednesday 2026-11-25 13:00-18:00 "
        "(Asia/Tbilisi)"
    )
    assert first["role"] == "lawyer" and 5 * 3600 - 120 < first["seconds"] <= 5 * 3600
    assert service.get_as(OP1, "/api/duty").status_code == 403
    assert service.get_as(None, "/api/duty").status_code == 401

    metrics = service.metrics()

    def gauge(name: str, org: str, rota: str, role: str) -> float:
        labels = {"organisation": org, "rota": rota, "role": role}
        return metrics[name, frozenset(labels.items())]

    assert gauge("hotline_duty_people", "ua-legal-aid", "national", "lawyer") == 1
    assert gauge("hotline_duty_people", "ge-legal-aid", "tbilisi", "lawyer") == 0
    assert gauge("hotline_duty_next_gap_seconds", "ge-legal-aid", "tbilisi", "lawyer") == 0
    assert gauge("hotline_duty_gap_seconds", "ge-legal-aid", "tbilisi", "lawyer") > 5 * 3600
    assert gauge("hotline_duty_gap_seconds", "ua-legal-aid", "national", "lawyer") == 0
    up = frozenset({"organisation": "ua-legal-aid", "rota": "national"}.items())
    assert metrics["hotline_duty_calendar_up", up] == 1

    def lawyers() -> list[str]:
        rotas = service.get_as(UA_SUPERVISOR, "/api/duty").json()["rotas"]
        return [p["id"] for p in rotas[0]["lawyers"]]

    # the centre changes its calendar: Bondar is on duty now
    calendar.write_text(ics(SHIFT.format(email="t.bondar@example.org")))
    until(lambda: lawyers() == ["bondar"], 10)

    # a half-written calendar: Bondar still, and the service says what is wrong
    calendar.write_text("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:bondar\r\n")
    duty = until(lambda: not service.health()["duty"]["ok"] and service.health()["duty"], 10)
    (state,) = duty["calendars"]
    assert state["rota"] == "national" and "not an iCalendar file" in state["error"]
    assert lawyers() == ["bondar"]
    assert service.metrics()["hotline_duty_calendar_up", up] == 0
    log = service.log.read_text()
    assert "ua-legal-aid rota national: calendar" in log and "keeping the last good one" in log


async def test_the_wallboard_shows_who_is_on_duty_and_the_next_gap_in_red(
    service: Service, browser: Browser, tmp_path: Path
) -> None:
    config, _ = config_variant(
        tmp_path,
        organisations={
            "ua-legal-aid": {
                "duty": {
                    "rotas": {
                        "national": {
                            "lawyers": [
                                {
                                    "who": ["kovalenko", "bondar"],
                                    "when": ["mon-fri 18:00-09:00", "sat-sun always"],
                                }
                            ]
                        }
                    }
                }
            }
        },
    )
    service.start(WORKING_HOURS, config=config)  # Wednesday 11:00 in Kyiv: no lawyer
    page = await browser.new_page(locale="en-GB")
    await login(page, service)
    row = page.locator("tr[data-rota='ua-legal-aid/national']")
    await expect(row.locator(".lawyers")).to_have_text("nobody")
    await expect(row.locator(".supervisors")).to_have_text("Andrii Melnyk")
    await expect(row.locator(".next-gap")).to_contain_text("No lawyer on duty")
    await expect(row.locator(".next-gap")).to_contain_text("18:00")
    await expect(row.locator(".next-gap")).to_have_css("color", "rgb(179, 38, 30)")
    # the rotas without a gap: who is on duty, and no gap
    georgia = page.locator("tr[data-rota='ge-legal-aid/tbilisi']")
    await expect(georgia.locator(".lawyers")).to_have_text("Nino Beridze, Giorgi Kapanadze")
    await expect(georgia.locator(".next-gap")).to_have_text("none")
    alert = page.locator("#duty-alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_have_css("background-color", "rgb(179, 38, 30)")
    await expect(alert.locator("li[data-rota=national][data-role=lawyer]")).to_contain_text(
        "ua-legal-aid / national: No lawyer on duty Wednesday"
    )
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    await page.screenshot(path=str(ROOT / "test-artifacts/duty.png"), full_page=True)
    await page.select_option("#lang", "uk")
    await expect(row.locator(".lawyers")).to_have_text("ніхто")
    await expect(row.locator(".next-gap")).to_contain_text("Немає чергового адвоката")
