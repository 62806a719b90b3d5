"""Conversation recordings on the real sandbox: a line recorded by its config, an operator
softphone that speaks (SIPp streams a tone), MixMonitor, pydub, the API's roles, retention."""

from __future__ import annotations

import asyncio
import io
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.sipcall import SoftPhone
from hotline.calls.audio import AudioSegment
from tests.conftest import ukraine
from tests.integration.conftest import WORKING_HOURS, Asterisk, Service, base_config, call

CONSULTATION = ("0800213103", "11")
VIEWER = "viewer-token-for-the-recordings-test"


def recorded_config(folder: Path) -> Path:
    """The default deployment with the consultation line recorded, kept 30 days."""
    config = base_config()
    ukraine(config)["lines"]["consultation"]["recording"] = {"enabled": True}
    config["recordings"] = {"retention_days": 30}
    path = folder / "recorded.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


def events_of(service: Service, call_id: str) -> list[str]:
    return [e["kind"] for e in service.get(f"/api/calls/{call_id}")["events"]]


def wait_for_event(service: Service, call_id: str, kind: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while kind not in (kinds := events_of(service, call_id)):
        assert time.monotonic() < deadline, kinds
        time.sleep(0.3)


async def test_a_recorded_conversation_its_access_and_its_retention(
    service: Service, phone: Callable[..., SoftPhone], asterisk: Asterisk
) -> None:
    config = recorded_config(service.data_dir)
    service.settings["HOTLINE_API_TOKENS"] = f"viewer={VIEWER}"
    service.start(config=config)
    op3 = phone("op3", talk_ms=6000, speaks=True)
    service.login("op3")
    mark = asterisk.log_mark()
    placed = await call(*CONSULTATION, hold_ms=60_000)
    assert op3.answered() == 1, placed.output
    record: dict[str, Any] = service.record(placed.call_id)
    assert record["outcome"] == "answered"
    # the caller was told before waiting
    assert "hotline/uk/call-recorded" in asterisk.played(record["channel"], mark)
    wait_for_event(service, record["id"], "recording.stored")

    got = service.get_as(service.token, f"/api/calls/{record['id']}/recording")
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] in ("audio/wav", "audio/mpeg")
    kind = "mp3" if got.headers["content-type"] == "audio/mpeg" else "wav"
    audio = AudioSegment.from_file(io.BytesIO(got.content), format=kind)
    assert abs(len(audio) / 1000 - record["talk"]) <= 1.0, (len(audio), record["talk"])
    assert audio.rms > 0 and audio.max_dBFS > -3  # the operator's tone, normalised
    assert service.get_as(VIEWER, f"/api/calls/{record['id']}/recording").status_code == 403
    assert service.get_as(None, f"/api/calls/{record['id']}/recording").status_code == 401
    stored = [e for e in service.get(f"/api/calls/{record['id']}")["events"]]
    (name,) = [e["data"]["path"] for e in stored if e["kind"] == "recording.stored"]
    kept = service.data_dir / "vault" / name  # (sealed: tests/integration/test_vault.py)
    assert kept.is_file()

    # 31 days later, the daily retention job removes it (and says so on the call)
    service.stop()
    later = datetime.fromisoformat(WORKING_HOURS) + timedelta(days=31)
    service.start(clock=later.isoformat(), config=config)
    wait_for_event(service, record["id"], "recording.deleted")
    assert not kept.exists()
    gone = service.get_as(service.token, f"/api/calls/{record['id']}/recording")
    assert gone.status_code == 410 and "retention" in gone.text


async def test_a_recording_is_found_again_after_a_restart(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """The service is killed while a recorded conversation goes on: the talk goes on, and once
    it ends the restarted service closes its record and finishes its recording."""
    config = recorded_config(service.data_dir)
    service.start(config=config)
    op3 = phone("op3", talk_ms=12_000, speaks=True)
    service.login("op3")
    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000))
    deadline = time.monotonic() + 30
    while not (
        (found := service.get("/api/calls", line="consultation"))
        and "recording.started" in events_of(service, found[0]["id"])
    ):
        assert time.monotonic() < deadline, "no recorded conversation"
        await asyncio.sleep(0.3)
    service.stop(signal.SIGKILL)
    service.start(config=config)
    placed = await caller
    record = service.record(placed.call_id, wait=30)
    assert record["outcome"] == "interrupted"  # it ended while nobody tracked it
    wait_for_event(service, record["id"], "recording.stored", seconds=30)
    got = service.get_as(service.token, f"/api/calls/{record['id']}/recording")
    assert got.status_code == 200, got.text
    assert op3.answered() == 1
