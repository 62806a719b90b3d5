"""Personal data kept only as long as allowed, on the real sandbox: each organisation's calls
and reports past their retention pseudonymised or deleted while another organisation's (a
longer period) stay, and erasure on request by a supervisor of the caller's organisation
(through the API and `hotline erase`); checked in the bytes on disk (the SQLite files, the
spool, the notifications and callbacks files, the vault)."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.integration.conftest import (
    WORKING_HOURS,
    Asterisk,
    Service,
    call,
    config_variant,
)
from tests.integration.test_notifications import GAP, seconds_of

UKRAINE = "0800213103"
GEORGIA = "0322920055"
UA_TOKEN = "supervisor-of-ukraine-for-the-lifecycle-test"
GE_TOKEN = "supervisor-of-georgia-for-the-lifecycle-test"
TOKENS = f"supervisor@ua-legal-aid={UA_TOKEN},supervisor@ge-legal-aid={GE_TOKEN}"


def on_disk(service: Service) -> bytes:
    """Every byte the service keeps in its data folder (the vault's sealed files aside:
    nothing in them is readable without the key)."""
    found = b""
    for path in sorted(service.data_dir.rglob("*")):
        if path.is_file() and "vault" not in path.parts and path.name != "service.log":
            found += path.read_bytes()
    return found


def wait_for(check: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.5)
    return result


async def leave_a_message(asterisk: Asterisk, caller: str) -> str:
    """A Ukrainian consultation caller waits, leaves a message (2, the beep, "#") and a
    callback number (the one they call from, "#"): a report with a recorded message and a
    pending callback. The SIP Call-ID."""
    until_beep = seconds_of(asterisk, "uk/leave-message") + 2
    waits = "w" * math.ceil(until_beep / GAP)
    placed = await call(
        UKRAINE, f"11www2{waits}#w#", caller=caller, gap_ms=int(GAP * 1000), hold_ms=40_000
    )
    assert placed.returncode == 0, placed.output
    return placed.call_id


async def hang_up_in_the_menu(number: str, caller: str) -> str:
    placed = await call(number, "", caller=caller, hold_ms=3000)
    return placed.call_id


def later(days: int) -> str:
    return (datetime.fromisoformat(WORKING_HOURS) + timedelta(days=days)).isoformat()


async def test_each_organisations_calls_are_forgotten_after_its_own_period(
    asterisk: Asterisk, service: Service, tmp_path: Path
) -> None:
    # Georgia deletes its calls after 30 days; Ukraine pseudonymises them after a year
    config, _ = config_variant(
        tmp_path,
        organisations={
            "ge-legal-aid": {
                "retention": {"call_log_days": 30, "reports_days": 30, "call_log": "delete"}
            }
        },
    )
    reporter, other, georgian = "380671110001", "380671110002", "995555110003"
    service.start(config=config)
    sip_report = await leave_a_message(asterisk, reporter)
    report_call = service.record(sip_report)
    (report,) = [n for n in service.get("/api/notifications") if n["call"] == report_call["id"]]
    assert service.post(f"/api/notifications/{report['ref']}/handled", by="op3").status_code == 200
    ua_call = service.record(await hang_up_in_the_menu(UKRAINE, other))
    ge_call = service.record(await hang_up_in_the_menu(GEORGIA, georgian))
    message = service.data_dir / f"vault/notifications/{report['ref']}.wav"
    assert message.is_file()
    wait_for(lambda: service.get("/api/calls/" + report_call["id"])["outcome"] == "handled")
    report_call = service.get("/api/calls/" + report_call["id"])  # (its figures, final)
    service.stop()
    assert all(n.encode() in on_disk(service) for n in (reporter, other, georgian))

    # 31 days later: Georgia's call is gone, bytes and all; Ukraine's are as they were
    service.start(clock=later(31), config=config)
    wait_for(
        lambda: service.get_as(service.token, f"/api/calls/{ge_call['id']}").status_code == 404
    )
    # (kept in E.164)
    assert service.get(f"/api/calls/{ua_call['id']}")["caller"] == "+" + other
    assert service.get(f"/api/calls/{report_call['id']}")["caller"] == "+" + reporter
    service.stop()
    kept = on_disk(service)
    assert georgian.encode() not in kept
    assert reporter.encode() in kept and other.encode() in kept

    # a year later: Ukraine's calls are pseudonymised (their figures stay), its report and its
    # message gone
    service.start(clock=later(366), config=config)
    wait_for(lambda: service.get(f"/api/calls/{ua_call['id']}")["caller"].startswith("~"))
    for before in (ua_call, report_call):
        after = service.get(f"/api/calls/{before['id']}")
        assert after["caller"] != before["caller"] and after["caller"].startswith("~")
        for figure in ("outcome", "wait", "talk", "line", "started", "ended", "number"):
            assert after[figure] == before[figure], figure
        assert before["caller"] not in repr(after["events"])
    assert service.get("/api/notifications") == []
    assert not message.exists()
    service.stop()
    kept = on_disk(service)
    for number in (reporter, other, georgian):
        assert number.encode() not in kept, number
    assert report["ref"].encode() not in (service.data_dir / "notifications.jsonl").read_bytes()


async def test_a_supervisor_erases_a_callers_data_of_their_own_organisation_only(
    asterisk: Asterisk, service: Service
) -> None:
    caller = "380671110004"
    service.settings["HOTLINE_API_TOKENS"] = TOKENS
    service.start()
    record = service.record(await leave_a_message(asterisk, caller))
    (report,) = [n for n in service.get("/api/notifications") if n["call"] == record["id"]]
    message = service.data_dir / f"vault/notifications/{report['ref']}.wav"
    assert message.is_file()
    waiting = service.get("/api/queues")["consultation"]["waiting"]
    assert [(w["call"], w["callback"]) for w in waiting] == [(record["id"], True)]
    ge_call = service.record(await hang_up_in_the_menu(GEORGIA, caller))

    # Georgia's supervisor: Ukraine's call is unknown to them, the number erases Georgia's only
    assert (
        service.post_json(GE_TOKEN, "/api/erasures", {"call_id": record["id"]}).status_code == 404
    )
    by_georgia = service.post_json(GE_TOKEN, "/api/erasures", {"caller": caller})
    assert by_georgia.status_code == 200, by_georgia.text
    assert by_georgia.json() == {"calls": 1, "recordings": 0, "reports": 0, "callbacks": 0}
    assert service.get(f"/api/calls/{ge_call['id']}")["caller"] == ""
    assert service.get(f"/api/calls/{record['id']}")["caller"] == "+" + caller  # Ukraine's stays
    assert message.is_file() and service.get("/api/notifications")
    # viewers and operators may not
    assert service.post_json("nobody", "/api/erasures", {"caller": caller}).status_code == 401

    # Ukraine's supervisor erases everything of Ukraine's: the call, the report and its
    # message, the pending callback
    by_ukraine = service.post_json(UA_TOKEN, "/api/erasures", {"caller": caller})
    assert by_ukraine.status_code == 200, by_ukraine.text
    assert by_ukraine.json() == {"calls": 1, "recordings": 1, "reports": 1, "callbacks": 1}
    assert service.get("/api/notifications") == []
    assert service.get("/api/queues")["consultation"]["waiting"] == []
    after = service.get(f"/api/calls/{record['id']}")
    assert after["caller"] == "" and after["callback_number"] in ("", None)
    assert caller not in repr(after)
    assert not message.exists()
    assert caller.encode() not in on_disk(service)
    # what was done is recorded, each organisation's to its own, without the number
    (ours,) = service.get_as(UA_TOKEN, "/api/erasures").json()
    assert (ours["organisation"], ours["calls"], ours["reports"]) == ("ua-legal-aid", 1, 1)
    (theirs,) = service.get_as(GE_TOKEN, "/api/erasures").json()
    assert theirs["organisation"] == "ge-legal-aid"
    assert caller not in service.get_as(service.token, "/api/erasures").text

    # `hotline erase` (with HOTLINE_API_TOKEN: every organisation's), by call
    other = service.record(await hang_up_in_the_menu(UKRAINE, "380671110005"))
    erased = erase_command(service, "--call", other["id"])
    assert erased.returncode == 0, erased.stderr
    assert "erased: 1 call(s)" in erased.stdout
    assert service.get(f"/api/calls/{other['id']}")["caller"] == ""
    unknown = erase_command(service, "--call", "1699999999.99")
    assert unknown.returncode == 1 and "404" in unknown.stderr, unknown.stderr
    wrong = erase_command(service)
    assert wrong.returncode == 2 and "--caller" in wrong.stderr
    service.stop()
    assert b"380671110005" not in on_disk(service)


def erase_command(service: Service, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", "erase", *arguments],
        cwd=ROOT,
        env={**service.env, "HOTLINE_CONFIG": str(service.config)},
        capture_output=True,
        text=True,
        timeout=180,
    )
