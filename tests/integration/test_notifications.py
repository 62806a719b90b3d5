"""Detention notifications are never lost: a detention caller nobody answers in time leaves a
recorded message and a callback number, hears a reference, and is called back until an
operator marks the notification handled."""

from __future__ import annotations

import math
import time
import wave
from collections.abc import Callable
from typing import Any

from bench.sipcall import SoftPhone
from tests.integration.conftest import Asterisk, Service, call

GAP = 2.5


def seconds_of(asterisk: Asterisk, prompt: str) -> float:
    sound = asterisk.sandbox.root / f"usr/share/asterisk/sounds/hotline/{prompt}.wav"
    with wave.open(str(sound)) as audio:
        return audio.getnframes() / audio.getframerate()


def wait_for(check: Callable[[], Any], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.5)
    return result


async def test_an_unanswered_detention_caller_leaves_a_notification(
    asterisk: Asterisk,
    service: Service,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
) -> None:
    service.start()
    mark = asterisk.log_mark()
    # "12" (report a detention); nobody answers for 45 s, then the message prompt and the beep:
    # "#" ends the recording, "#" takes the calling number as the callback number
    until_beep = 1.5 + 2 * GAP + 4 + 45 + seconds_of(asterisk, "uk/detention-message") + 2
    waits = "w" * math.ceil((until_beep - 1.5 - 2 * GAP) / GAP)
    placed = await call("0800213103", f"12{waits}#w#", gap_ms=int(GAP * 1000), hold_ms=40_000)
    assert placed.returncode == 0, placed.output  # the service read the reference and hung up

    record = service.get("/api/calls", sip_call_id=placed.call_id)[0]
    (note,) = [n for n in service.get("/api/notifications") if n["call"] == record["id"]]
    assert (note["open"], note["complete"], note["number"], note["line"]) == (
        True,
        True,
        "+380501234567",  # (E.164, as logged)
        "detention",
    )
    # stored on disk (synced before the reference was read back) with its recording, sealed
    # in the vault (its plaintext gone from Asterisk's spool)
    journal = (service.data_dir / "notifications.jsonl").read_text()
    assert f'"ref": "{note["ref"]}"' in journal
    assert (service.data_dir / f"vault/notifications/{note['ref']}.wav").is_file()
    assert not (asterisk.sandbox.root / note["recording"].lstrip("/")).exists()
    # the caller heard the reference number, digit by digit, twice
    heard = asterisk.played(record["channel"], mark)
    digits = [f"hotline/uk/number-{d}" for d in note["ref"]]
    start = heard.index("hotline/uk/detention-registered")
    assert heard[start + 1 : start + 1 + 2 * len(digits)] == digits * 2

    # the notification is offered to the next free operator as a callback
    op1 = phone("op1", talk_ms=2000)
    home = home_phone(talk_ms=60_000)
    service.login("op1")
    done = wait_for(lambda: service.get(f"/api/calls/{record['id']}")["outcome"], 60)
    assert done == "called-back"
    assert op1.answered() == 1 and home.answered() == 1
    assert service.get("/api/notifications")[0]["open"]  # until an operator marks it handled

    handled = service.post(f"/api/notifications/{note['ref']}/handled", by="op1")
    assert handled.status_code == 200, handled.text
    assert (handled.json()["open"], handled.json()["handled_by"]) == (False, "op1")
    assert not any(n["open"] for n in service.get("/api/notifications"))
    assert service.post("/api/notifications/000000/handled", by="op1").status_code == 404


async def test_a_waiting_caller_leaves_a_message(asterisk: Asterisk, service: Service) -> None:
    service.start()
    # a consultation; once waiting, 2 (leave a message), "#" after the beep, "#" for the
    # number they call from
    until_beep = seconds_of(asterisk, "uk/leave-message") + 2
    waits = "w" * math.ceil(until_beep / GAP)
    placed = await call("0800213103", f"11www2{waits}#w#", gap_ms=int(GAP * 1000), hold_ms=40_000)
    assert placed.returncode == 0, placed.output
    record = service.get("/api/calls", sip_call_id=placed.call_id)[0]
    (note,) = [n for n in service.get("/api/notifications") if n["call"] == record["id"]]
    # (kept in E.164)
    assert (note["line"], note["number"], note["open"]) == ("consultation", "+380501234567", True)
    assert record["callback_number"] == "+380501234567" and record["outcome"] is None
    # /metrics counts it open, not overdue (the target is 15 minutes)
    line = frozenset({("organisation", "ua-legal-aid"), ("line", "consultation")})
    found = service.metrics()
    assert found["hotline_notifications_open", line] == 1, found
    assert found["hotline_notifications_overdue", line] == 0
    queue = service.get("/api/queues")["consultation"]["waiting"]
    assert [(w["call"], w["callback"]) for w in queue] == [(record["id"], True)]
