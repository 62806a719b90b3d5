"""A recorded announcement, on the real sandbox: the supervisor dials *71 and the consultation
line's code from their phone, speaks (SIPp streams a tone), hears it back and keeps it; the
next caller of that line hears it before they wait, a caller of another line does not; the
API shows it and removes it, and the caller after that no longer hears it. One sent through
the API is played the same way, and by a standby once it has taken over; one sent from the
wallboard too (Chromium)."""

from __future__ import annotations

import asyncio
import io
import wave
from pathlib import Path

import httpx
from playwright.async_api import Browser, expect

from bench.sipcall import SippCall
from tests.integration.conftest import Asterisk, Service, call
from tests.integration.test_dashboard import ARTIFACTS, ON_SCREEN, login
from tests.integration.test_duty import until
from tests.integration.test_queues import at
from tests.integration.test_standby import LEASE, pair, role
from tests.integration.test_standby import until as standby_until

__all__ = ["pair"]  # (the standby tests' fixture: two instances, one database)

CONSULTATION = ("0800213103", "11")  # Ukrainian, legal consultation: the line's code is 1
INFORMATION = ("0800213103", "14")
FOLDER = "/var/spool/asterisk/hotline/announcements/"


def announcements_heard(asterisk: Asterisk, channel: str, mark: int) -> list[str]:
    return [p for p in asterisk.played(channel, mark) if p.startswith(FOLDER)]


async def supervisor_records(asterisk: Asterisk, code: str) -> None:
    """sup1 dials *71<code>, speaks, ends the recording with # and keeps it with 1 (each key
    sent more than once, a little apart: one lands where the dialogue waits for it)."""
    keys = ["w", "w", "w", "#", "#", "#", "1", "1", "1", "1", "1"]
    await supervisor_dials(asterisk, f"*71{code}", keys, speaks=True, hold_ms=30_000)


async def supervisor_dials(
    asterisk: Asterisk,
    number: str,
    keys: list[str] | None = None,
    speaks: bool = False,
    hold_ms: int = 12_000,
) -> None:
    """sup1's phone (registered, authenticated) dials ``number``, keys ``keys``."""
    password = asterisk.secrets["HOTLINE_SIP_PASSWORD_SUP1"]
    dialled = SippCall(
        number, keys or "", caller="sup1", from_host="[remote_ip]", source="127.0.0.1",
        auth=("sup1", password), speaks=speaks, hold_ms=hold_ms, timeout_s=90,
    )  # fmt: skip
    try:
        while dialled.running:
            await asyncio.sleep(0.3)
    finally:
        dialled.abandon() if dialled.running else dialled.wait()


async def test_a_supervisor_records_an_announcement_the_lines_callers_hear(
    service: Service, asterisk: Asterisk
) -> None:
    service.start()
    mark = asterisk.log_mark()
    await supervisor_records(asterisk, "1")
    (kept,) = until(lambda: service.get("/api/announcements"), seconds=30)
    assert (kept["line"], kept["by"]) == ("consultation", "sup1")
    log = asterisk.log_since(mark)
    assert "hotline/uk/announcement-record" in log and "hotline/uk/announcement-saved" in log

    mark = asterisk.log_mark()
    heard = service.record((await call(*CONSULTATION, hold_ms=3000)).call_id, wait=60)
    played = asterisk.played(heard["channel"], mark)
    (announcement,) = announcements_heard(asterisk, heard["channel"], mark)
    assert played.index(announcement) < played.index("hotline/uk/please-hold")
    (told,) = [e["data"] for e in heard["events"] if e["kind"] == "call.announced"]
    assert (told["line"], told["by"], told["recorded"]) == ("consultation", "sup1", kept["at"])
    other = service.record((await call(*INFORMATION, hold_ms=3000)).call_id, wait=60)
    assert not announcements_heard(asterisk, other["channel"], mark)
    assert "call.announced" not in [e["kind"] for e in other["events"]]

    headers = {"Authorization": f"Bearer {service.token}"}
    removed = httpx.delete(service.url("/api/lines/consultation/announcement"), headers=headers)
    assert removed.status_code == 204 and service.get("/api/announcements") == []
    mark = asterisk.log_mark()
    after = service.record((await call(*CONSULTATION, hold_ms=3000)).call_id, wait=60)
    assert not announcements_heard(asterisk, after["channel"], mark)


def tone_wav(seconds: float = 2.0) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x10\x00\xf0" * int(16000 * seconds / 2))
    return out.getvalue()


async def test_an_announcement_sent_through_the_api_is_played(
    service: Service, asterisk: Asterisk
) -> None:
    service.start()
    headers = {"Authorization": f"Bearer {service.token}", "Content-Type": "audio/wav"}
    url = service.url("/api/lines/consultation/announcement")
    refused = httpx.put(url, content=b"not audio", headers=headers, params={"minutes": 30})
    assert refused.status_code == 422, refused.text
    sent = httpx.put(url, content=tone_wav(), headers=headers, params={"minutes": 30})
    assert sent.status_code == 200, sent.text
    assert sent.json()["by"] == "HOTLINE_API_TOKEN"
    mark = asterisk.log_mark()
    heard = service.record((await call(*CONSULTATION, hold_ms=3000)).call_id, wait=60)
    assert len(announcements_heard(asterisk, heard["channel"], mark)) == 1


async def test_an_instance_taking_over_plays_the_announcement_the_other_was_sent(
    pair: tuple[Service, Service], asterisk: Asterisk
) -> None:
    """With a standby: an announcement sent to the active instance is played by the standby
    once it has taken over (its file is in Asterisk's spool, its record in the database)."""
    a, b = pair
    a.start()
    await standby_until(lambda: role(a) == "active", 10, "a never became active")
    b.start()
    await standby_until(lambda: role(b) == "standby", 10, "b is not the standby")
    headers = {"Authorization": f"Bearer {a.token}", "Content-Type": "audio/wav"}
    url = a.url("/api/lines/consultation/announcement")
    sent = httpx.put(url, content=tone_wav(), headers=headers, params={"minutes": 60})
    assert sent.status_code == 200, sent.text
    a.stop()
    await standby_until(lambda: role(b) == "active", LEASE + 10, "b never took over")
    (kept,) = b.get("/api/announcements")
    assert (kept["line"], kept["until"]) == ("consultation", sent.json()["until"])
    mark = asterisk.log_mark()
    heard = b.record((await call(*CONSULTATION, hold_ms=3000)).call_id, wait=60)
    assert len(announcements_heard(asterisk, heard["channel"], mark)) == 1


async def test_the_wallboard_sends_an_announcement_and_removes_it(
    service: Service, asterisk: Asterisk, browser: Browser, tmp_path: Path
) -> None:
    """A supervisor at the wallboard (Chromium) sends a WAV file for the consultation line,
    sees it listed with its end, a caller hears it, and the supervisor removes it."""
    service.start()
    recorded = tmp_path / "closed-today.wav"
    recorded.write_bytes(tone_wav())
    page = await browser.new_page(locale="en-GB")
    await login(page, service)
    await page.select_option("#announcement-line", "consultation")
    await page.select_option("#announcement-hours", "240")
    await page.set_input_files("#announcement-file", str(recorded))
    await page.click("#announcement-send")
    row = page.locator("#announcements tr[data-line=consultation]")
    await expect(row).to_contain_text("HOTLINE_API_TOKEN", timeout=ON_SCREEN)
    (kept,) = service.get("/api/announcements")
    assert kept["line"] == "consultation"
    assert 4 * 3600 - 60 <= (at(kept["until"]) - at(kept["at"])).total_seconds() <= 4 * 3600
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "wallboard-announcement.png"), full_page=True)
    mark = asterisk.log_mark()
    heard = service.record((await call(*CONSULTATION, hold_ms=3000)).call_id, wait=60)
    assert len(announcements_heard(asterisk, heard["channel"], mark)) == 1
    await row.locator(".announcement-remove").click()
    await expect(page.locator("#announcements tr[data-line]")).to_have_count(0, timeout=ON_SCREEN)
    assert service.get("/api/announcements") == []
