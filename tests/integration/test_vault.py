"""Recordings and messages encrypted at rest, on the real sandbox: a recorded conversation and
a caller's message are on disk only sealed (no plaintext WAV in the data folder or left in
Asterisk's spool), the API plays them back decrypted (a range too), and the operator who
calls the family back hears the message from a copy opened for that call and deleted after."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.sipcall import SoftPhone
from hotline.calls.audio import AudioSegment
from tests.integration.conftest import Asterisk, Service, call
from tests.integration.test_notifications import GAP, seconds_of, wait_for
from tests.integration.test_recordings import CONSULTATION, recorded_config, wait_for_event

#: What a WAV file begins with.
RIFF = b"RIFF"


def plaintext_audio(*folders: Path) -> list[Path]:
    """Files under ``folders`` that are audio anyone can play (WAV or MP3)."""
    found = []
    for folder in folders:
        for file in folder.rglob("*") if folder.is_dir() else ():
            if file.is_file():
                head = file.read_bytes()[:4]
                if head == RIFF or head[:3] == b"ID3" or head[:2] == b"\xff\xfb":
                    found.append(file)
    return found


async def test_recordings_and_messages_are_sealed_on_disk_and_played_decrypted(
    asterisk: Asterisk,
    service: Service,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
) -> None:
    spool = asterisk.sandbox.root / "var/spool/asterisk/hotline"
    service.start(config=recorded_config(service.data_dir))
    op3 = phone("op3", talk_ms=6000, speaks=True)
    service.login("op3")
    placed = await call(*CONSULTATION, hold_ms=60_000)
    assert op3.answered() == 1, placed.output
    record = service.record(placed.call_id)
    wait_for_event(service, record["id"], "recording.stored")
    (stored,) = [
        e["data"] for e in service.get(f"/api/calls/{record['id']}")["events"]
        if e["kind"] == "recording.stored"
    ]  # fmt: skip
    # no plaintext audio in the data folder, and Asterisk's raw recording is gone
    assert plaintext_audio(service.data_dir) == []
    assert not (spool / f"recordings/{record['id']}.wav").exists()
    assert stored["path"].startswith("recordings/") and record["id"] in stored["path"]
    sealed = service.data_dir / "vault" / stored["path"]
    assert sealed.read_bytes()[:8] == b"HLVAULT1"

    got = service.get_as(service.token, f"/api/calls/{record['id']}/recording")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "audio/wav" and got.content[:4] == RIFF
    audio = AudioSegment.from_file(io.BytesIO(got.content), format="wav")
    assert abs(len(audio) / 1000 - record["talk"]) <= 1.0 and audio.max_dBFS > -3
    part = httpx_range(service, f"/api/calls/{record['id']}/recording", "bytes=100-70099")
    assert (part.status_code, part.content) == (206, got.content[100:70100])
    assert part.headers["content-range"] == f"bytes 100-70099/{len(got.content)}"

    # a caller who leaves a message (key 2 while waiting; nobody free: op3 paused)
    service.post("/api/agents/op3/pause", reason="admin")
    until_beep = seconds_of(asterisk, "uk/leave-message") + 2
    waits = "w" * math.ceil(until_beep / GAP)
    left = await call(
        "0800213103", f"11www2{waits}ww#w#", gap_ms=int(GAP * 1000), hold_ms=40_000, speaks=True
    )
    assert left.returncode == 0, left.output
    message = service.record(left.call_id)
    (note,) = [n for n in service.get("/api/notifications") if n["call"] == message["id"]]
    assert not (asterisk.sandbox.root / note["recording"].lstrip("/")).exists()
    assert (service.data_dir / f"vault/notifications/{note['ref']}.wav").read_bytes()[:4] != RIFF
    assert plaintext_audio(service.data_dir, spool / "notifications") == []
    heard = service.get_as(service.token, f"/api/notifications/{note['ref']}/recording")
    assert heard.status_code == 200 and heard.content[:4] == RIFF, heard.text
    said = AudioSegment.from_file(io.BytesIO(heard.content), format="wav")
    assert len(said) > 3000 and said.rms > 0  # the caller's tone, some seconds of it

    # its callback: op4 hears the message (a copy opened for the call), then the family
    home = home_phone(talk_ms=2000)
    phone("op4", talk_ms=60_000)  # (op3's phone hangs up after 6 s: mid-message)
    mark = asterisk.log_mark()
    service.login("op4")
    done = wait_for(lambda: service.get(f"/api/calls/{message['id']}")["outcome"], 60)
    assert done == "called-back" and home.answered() == 1
    opened = [
        line.split("Playing '")[1].split("'")[0]
        for line in asterisk.log_since(mark).splitlines()
        if "Playing '/var/spool/asterisk/hotline/playing/" in line
    ]
    assert len(opened) == 1, asterisk.log_since(mark)[-3000:]
    assert not list((spool / "playing").glob("*"))  # deleted once the family was reached


def httpx_range(service: Service, path: str, asked: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {service.token}", "Range": asked}
    return httpx.get(service.url(path), headers=headers, timeout=10)
