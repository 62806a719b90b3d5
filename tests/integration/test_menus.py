"""A caller dials a hotline on the real Asterisk, hears the menus, presses keys (SIP INFO
DTMF from SIPp) and lands on the right line: checked in the service's call log and in
Asterisk's queues."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, ukraine
from tests.integration.conftest import SATURDAY_EVENING, Asterisk, Service, base_config, call

pytestmark = pytest.mark.integration

# (number, keys, line, language, menu path); keys: "w" waits one gap without a key
ROUTES = [
    ("0800213103", "11", "consultation", "uk", ["language:1", "main:1"]),
    ("0800213103", "12", "detention", "uk", ["language:1", "main:2"]),
    ("0800213103", "23", "rehabilitation", "en", ["language:2", "main:3"]),
    ("0800213103", "14", "information", "uk", ["language:1", "main:4"]),
    ("0800213103", "10", "information", "uk", ["language:1", "main:0"]),
    ("0800213103", "1*2", "detention", "uk", ["language:1", "main:*", "main:2"]),
    ("0800213103", "172", "detention", "uk", ["language:1", "main:7", "main:2"]),
    ("0800213103", "31", "consultation", "ru", ["language:3", "main:1"]),
    ("0322920055", "2", "ge-consultation", "en", ["consultation-language:2"]),
    ("0322920055", "3", "ge-consultation", "ru", ["consultation-language:3"]),
    ("2145145", "", "ge-rehabilitation", "ka", []),
]
NO_INPUT_PATH = [
    "language:timeout",
    "language:timeout",
    "main:timeout",
    "main:timeout",
    "main:timeout",
]


async def watch_queues(
    asterisk: Asterisk, service: Service, seen: set[tuple[str, str]], stop: asyncio.Event
) -> None:
    """Collect (line, channel) of every caller both waiting in Asterisk's waiting room and
    listed by the service in that line's queue."""
    while not stop.is_set():
        channels = await asyncio.to_thread(asterisk.channels)
        queues = await asyncio.to_thread(service.get, "/api/queues")
        calls = await asyncio.to_thread(service.get, "/api/calls", limit=50)
        channel_of_call = {c["id"]: c["channel"] for c in calls}
        for line, queue in queues.items():
            for waiting in queue["waiting"]:
                channel = channel_of_call.get(waiting["call"], "")
                if channels.get(channel) == "hotline-wait":
                    seen.add((line, channel))
        await asyncio.sleep(0.5)


def channel_of(record: dict[str, object]) -> str:
    events = record["events"]
    assert isinstance(events, list)
    channel: str = events[0]["data"]["channel"]
    return channel


async def test_keys_route_callers_to_their_lines(asterisk: Asterisk, service: Service) -> None:
    service.start()
    seen: set[tuple[str, str]] = set()
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_queues(asterisk, service, seen, stop))
    placed = await asyncio.gather(
        *(call(number, keys) for number, keys, *_ in ROUTES),
        # silence: Ukrainian after the language menu's re-prompt, then an operator after
        # the main menu's two re-prompts (about 105 s of prompts and timeouts; 121 s on a
        # slow, busy machine, and the caller is routed only after "please hold")
        call("0800213103", "", hold_ms=150_000),
        call("555000", "", hold_ms=20_000),
    )
    stop.set()
    await watcher

    for (number, keys, line, language, path), done in zip(ROUTES, placed, strict=False):
        record = service.record(done.call_id)
        assert (record["number"], record["line"], record["language"], record["path"]) == (
            number,
            line,
            language,
            path,
        ), (keys, record)
        # they hung up while waiting: abandoned, except detention callers, who are called back
        if line == "detention":
            assert (record["outcome"], record["callback_number"]) == (None, "+380501234567")
        else:
            assert record["outcome"] == "abandoned", (keys, record)
        # the caller waited in Asterisk's waiting room while the service queued them on the line
        assert (line, channel_of(record)) in seen, (keys, sorted(seen))
        assert done.returncode == 0, done.output

    silent = service.record(placed[-2].call_id)
    assert (silent["line"], silent["language"], silent["path"]) == (
        "information",
        "uk",
        NO_INPUT_PATH,
    )
    assert ("information", channel_of(silent)) in seen

    # Russian callers heard the main menu and the waiting prompt in Russian
    log = (asterisk.sandbox.root / "var/log/asterisk/messages").read_text(errors="replace")
    assert "hotline/ru/main-menu" in log and "hotline/ru/please-hold" in log

    unknown = service.record(placed[-1].call_id)
    assert unknown["outcome"] == "unknown-number" and unknown["line"] is None
    assert placed[-1].returncode == 0, placed[-1].output  # Asterisk hung up on it cleanly
    assert "unknown number '555000'" in service.log.read_text()


async def test_consultation_after_hours_goes_to_information(
    asterisk: Asterisk, service: Service
) -> None:
    service.start(clock=SATURDAY_EVENING)
    consultation, detention = await asyncio.gather(
        call("0800213103", "11"), call("0800213103", "12")
    )
    record = service.record(consultation.call_id)
    assert (record["asked_line"], record["closed_lines"], record["line"]) == (
        "consultation",
        ["consultation"],
        "information",
    )
    kinds = [event["kind"] for event in record["events"]]
    assert kinds == [
        "call.started",
        "menu.answer",
        "menu.answer",
        "call.after_hours",
        "call.routed",
        "call.queued",
        "call.ended",
    ]
    log = (asterisk.sandbox.root / "var/log/asterisk/messages").read_text(errors="replace")
    assert "hotline/uk/consultation-closed" in log
    # detention notifications are taken around the clock
    assert service.record(detention.call_id)["line"] == "detention"


async def test_fallback_queue_when_the_service_is_down(asterisk: Asterisk, phone) -> None:
    op1 = phone("op1", talk_ms=2000)
    placed = await call("0800213103", "", hold_ms=30_000)
    assert placed.returncode == 0, placed.output
    assert op1.answered() == 1  # a person answered without the service
    log = (asterisk.sandbox.root / "var/log/asterisk/messages").read_text(errors="replace")
    assert "AGISTATUS=FAILURE): fallback queue" in log


async def test_fallback_when_the_service_dies_mid_call(
    asterisk: Asterisk, service: Service, phone
) -> None:
    service.start()
    op1 = phone("op1", talk_ms=2000)
    caller = asyncio.create_task(call("0800213103", "1", hold_ms=40_000))
    await asyncio.sleep(5)  # the caller is in the main menu now
    assert service.process is not None
    service.process.kill()
    placed = await caller
    assert placed.returncode == 0, placed.output
    assert op1.answered() == 1
    log = (asterisk.sandbox.root / "var/log/asterisk/messages").read_text(errors="replace")
    assert "AGISTATUS=SUCCESS): fallback queue" in log  # the dialplan did not trust AGISTATUS


def test_the_test_call_tool_prints_the_route(service: Service) -> None:
    service.start()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "bench.call", "0800213103", "--keys", "12"],
        cwd=ROOT,
        env=service.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "menu path: language:1 main:2" in done.stdout
    assert "line:      detention" in done.stdout
    # nobody is logged in; it hung up once queued, and a detention caller is called back
    assert "outcome:   callback pending" in done.stdout
    assert time.monotonic() - started < 60


def seconds_of(asterisk: Asterisk, prompt: str) -> float:
    sound = asterisk.sandbox.root / f"usr/share/asterisk/sounds/hotline/{prompt}.wav"
    with wave.open(str(sound)) as audio:
        return audio.getnframes() / audio.getframerate()


async def test_after_hours_callback_offer_takes_a_number(
    asterisk: Asterisk, service: Service, tmp_path: Path
) -> None:
    raw = base_config()
    ukraine(raw)["lines"]["consultation"]["after_hours"] = {
        "prompt": "consultation-closed",
        "callback": True,
    }
    config = tmp_path / "hotline.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    service.start(clock=SATURDAY_EVENING, config=config)
    # keys are heard only while a menu listens: wait out the closed-line announcement
    gap = 1.5
    waits = "w" * math.ceil(seconds_of(asterisk, "uk/consultation-closed") / gap)
    placed = await call(
        "0800213103", f"11{waits}10501112233#", gap_ms=int(gap * 1000), hold_ms=20_000
    )
    record = service.record(placed.call_id)
    assert (record["asked_line"], record["outcome"], record["callback_number"]) == (
        "consultation",
        None,  # pending: the line's operators call back when they are in
        "+380501112233",  # typed nationally, kept in E.164
    )
    (requested,) = [e for e in record["events"] if e["kind"] == "callback.requested"]
    assert requested["data"] == {
        "number": "+380501112233",
        "line": "consultation",
        "reason": "after-hours",
    }
    queue = service.get("/api/queues")["consultation"]["waiting"]
    assert [(w["call"], w["callback"]) for w in queue] == [(record["id"], True)]
    assert placed.returncode == 0, placed.output  # the service said thanks and hung up
