"""Nothing promised is lost when the service stops: a deploy's SIGTERM or a crash's SIGKILL,
then a start. A caller promised a callback is called back, in their place; operators stay
logged in; a detention notification whose last record was torn stays readable."""

from __future__ import annotations

import asyncio
import json
import math
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.sipcall import SoftPhone
from tests.integration.conftest import NOTIFICATION, Asterisk, Service, base_config, call
from tests.integration.test_notifications import GAP, seconds_of

DETENTION = ("0800213103", "12")


def events(record: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in record["events"] if e["kind"] == kind]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
async def test_pending_callbacks_survive_a_restart_in_their_order(
    service: Service,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
    stop: signal.Signals,
) -> None:
    """Two detention callers hang up while nobody is free: the service promises to call each
    back. It stops (a deploy, a crash) and starts: both still wait for their callback, in
    their order, and are called back; each record ends once."""
    service.start(clock=None)  # the real clock: a restarted demo clock would start over
    op1 = phone("op1", talk_ms=2000)
    home = home_phone(talk_ms=2500)
    first = await call(*DETENTION, caller="380661112233", hold_ms=6000)
    second = await call(*DETENTION, caller="380671112244", hold_ms=3000)
    ids = []
    for placed, number in ((first, "+380661112233"), (second, "+380671112244")):  # (E.164)
        record = service.record(placed.call_id)
        assert (record["callback_number"], record["outcome"]) == (number, None)
        ids.append(record["id"])
    service.stop(stop)
    service.start(clock=None)
    waiting = service.get("/api/queues")["detention"]["waiting"]
    assert [(w["call"], w["callback"]) for w in waiting] == [(ids[0], True), (ids[1], True)]
    assert waiting[0]["waited"] >= 9  # their place: since they first called
    service.login("op1")
    records = [
        service.record(placed.call_id, until=lambda r: r["outcome"], wait=90)
        for placed in (first, second)
    ]
    for record in records:
        assert (record["outcome"], record["operator"]) == ("called-back", "op1")
        assert len(events(record, "call.ended")) == 1
        assert len(events(record, "callback.restored")) == 1
    assert records[0]["answered"] < records[1]["answered"]  # first come, first called back
    assert op1.answered() == 2 and home.answered() == 2
    assert service.get("/api/queues")["detention"]["waiting"] == []


async def test_callback_retries_keep_their_schedule_across_a_restart(
    service: Service,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
    tmp_path: Path,
) -> None:
    """The caller does not pick up; the next try is due callback_retry (20 s) later, and a
    service killed and started meanwhile keeps that schedule and the count of attempts."""
    raw = base_config()
    raw["queues"]["callback_retry"] = 20
    config = tmp_path / "retry.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    service.start(clock=None, config=config)
    op1 = phone("op1", talk_ms=60_000)
    home_phone(answers=False)  # the caller's phone rings out (30 s)
    placed = await call(*DETENTION, caller="380661112233", hold_ms=4000)
    assert service.record(placed.call_id)["callback_number"] == "+380661112233"
    service.login("op1")
    record = service.record(placed.call_id, until=lambda r: events(r, "callback.failed"), wait=60)
    failed = datetime.fromisoformat(events(record, "callback.failed")[0]["at"])
    service.stop(signal.SIGKILL)
    journal = (service.data_dir / "callbacks.jsonl").read_text().splitlines()
    last = json.loads(journal[-1])
    assert last["pending"]["attempts"] == 1
    assert datetime.fromisoformat(last["pending"]["next_try"]) - failed >= timedelta(seconds=19)
    service.start(clock=None, config=config)
    assert service.agent("op1")["state"] == "available"  # still logged in
    record = service.record(
        placed.call_id, until=lambda r: len(events(r, "callback.failed")) == 2, wait=90
    )
    again = datetime.fromisoformat(events(record, "call.offered")[-1]["at"])
    assert timedelta(seconds=19) <= again - failed <= timedelta(seconds=30)
    assert events(record, "callback.failed")[-1]["data"]["attempt"] == 2
    assert op1.rung() == 2


async def test_operators_stay_logged_in_and_paused_across_a_restart(service: Service) -> None:
    service.start()
    service.login("op1", "op3", wait_reachable=False)
    assert service.post("/api/agents/op3/pause", reason="training").status_code == 200
    service.stop(signal.SIGKILL)
    service.start()
    assert service.agent("op1")["state"] == "available"
    assert (service.agent("op3")["state"], service.agent("op3")["pause_reason"]) == (
        "paused",
        "training",
    )
    assert service.agent("op2")["state"] == "logged_out"


async def test_a_torn_notification_record_is_repaired_without_losing_the_next(
    service: Service,
) -> None:
    """A crash in the middle of writing a notification (never acknowledged to its caller)
    leaves half a line; at start it is set aside, and the next notification is kept whole."""
    store = service.data_dir / "notifications.jsonl"
    store.write_text(json.dumps(NOTIFICATION) + "\n" + '{"ref": "654321", "call": "1.2", "li')
    service.start()
    assert [n["ref"] for n in service.get("/api/notifications")] == ["123456"]
    reply = service.post("/api/notifications/123456/handled", by="op1")
    assert reply.status_code == 200, reply.text
    service.stop()
    lines = store.read_text().splitlines()
    assert [json.loads(line).get("ref") or json.loads(line)["handled"] for line in lines] == [
        "123456",
        "123456",
    ]
    assert (
        (service.data_dir / "notifications.jsonl.torn").read_text().startswith('{"ref": "654321"')
    )
    service.start()
    (item,) = service.get("/api/notifications")
    assert item["ref"] == "123456" and not item["open"]


async def test_a_message_under_way_at_a_stop_is_kept_and_a_person_answers(
    asterisk: Asterisk, service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """A caller is recording their message (key 2 while waiting) when the service is told to
    stop: what they said is stored, and they are handed to a person (the fallback queue)
    instead of being left in silence."""
    service.start()
    op3 = phone("op3", talk_ms=3000)  # in the consultation line's fallback queue
    until_beep = seconds_of(asterisk, "uk/leave-message") + 2
    waits = "w" * (math.ceil(until_beep / GAP) + 4)  # and then they speak, and speak
    caller = asyncio.create_task(
        call("0800213103", f"11www2{waits}", gap_ms=int(GAP * 1000), hold_ms=30_000)
    )
    messages = asterisk.sandbox.root / "var/spool/asterisk/hotline/notifications"
    before = set(messages.glob("*.wav"))
    deadline = time.monotonic() + 60
    while not (recording := set(messages.glob("*.wav")) - before):
        assert time.monotonic() < deadline, "the caller never got to record"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # a second of their message
    service.stop(signal.SIGTERM)
    placed = await caller
    assert op3.answered() == 1  # a person answered them
    service.start()
    (note,) = service.get("/api/notifications")
    assert (note["open"], note["complete"], note["number"]) == (True, False, "+380501234567")
    assert Path(note["recording"]).name == recording.pop().name
    record = service.record(placed.call_id)
    assert record["outcome"] == "handed-over"
    assert [e["data"]["ref"] for e in events(record, "notification.stored")] == [note["ref"]]
