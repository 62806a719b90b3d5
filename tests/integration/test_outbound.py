"""What leaves the hotline, proven with the real parts: a detention report reaches the
organisation's case registry (a real HTTP receiver that checks the Standard Webhooks signature)
once, in order, after the receiver was down for a while, on SQLite and on PostgreSQL; with a
standby, the outbox is sent once across the instances and goes on after a takeover; a caller in
a centre's menu presses 2 and the centre's address reaches their phone through a real Kannel."""

from __future__ import annotations

import asyncio
import math
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Asterisk, Service, call, config_variant
from tests.integration.test_notifications import GAP, seconds_of
from tests.integration.test_standby import pair, role  # noqa: F401  (pair: a fixture)
from tests.kannel import SENDER, Kannel, Sms
from tests.receiver import SECRET, Receiver

#: Retries a second or so apart (a day of them in production), and the receiver's secret.
OUTBOX = {
    "HOTLINE_WEBHOOK_SECRET_UA_LEGAL_AID": SECRET,
    "HOTLINE_OUTBOX_RETRY_FIRST": "0.5",
    "HOTLINE_OUTBOX_RETRY_MAX": "1",
}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.stop()


def with_webhooks(folder: Path, receiver: Receiver, **ukraine: Any) -> Path:
    """The default config, Ukraine's organisation sending its reports and calls to
    ``receiver`` (the number left to call back with them, no other personal field)."""
    hook = {"url": receiver.url, "events": ["reports", "calls"], "personal": ["number"]}
    path, _ = config_variant(
        folder, organisations={"ua-legal-aid": {"webhooks": [hook], **ukraine}}
    )
    return path


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.3)
    return found


async def test_a_detention_report_reaches_the_case_registry_once_in_order(
    asterisk: Asterisk, service: Service, receiver: Receiver, database_url: str, tmp_path: Path
) -> None:
    """A caller leaves a detention message while the registry answers 503; it is handled;
    the registry then stops listening, and comes back: it gets the report's stored and
    handled events once each, in that order, signed, without the caller's number, the
    recording's path or the handler's note."""
    receiver.start().status = 503
    config = with_webhooks(tmp_path, receiver, lines={"detention": {"take_message_after": 5}})
    service.settings |= OUTBOX | {"HOTLINE_DATABASE_URL": database_url}
    service.start(config=config)
    until_beep = 1.5 + 2 * GAP + 4 + 5 + seconds_of(asterisk, "uk/detention-message") + 2
    waits = "w" * math.ceil((until_beep - 1.5 - 2 * GAP) / GAP)
    placed = await call(
        "0800213103", f"12{waits}#w#", caller="380661112233", gap_ms=int(GAP * 1000),
        hold_ms=40_000,
    )  # fmt: skip
    assert placed.returncode == 0, placed.output
    record = service.get("/api/calls", sip_call_id=placed.call_id)[0]
    (report,) = [n for n in service.get("/api/notifications") if n["call"] == record["id"]]

    # the registry refuses: the outbox keeps the report's event, and says why
    outbox = wait_for(
        lambda: (o := service.health()["outbox"])["pending"]["webhook"] and o["last_error"] and o,
        30,
        "the webhook was never tried",
    )
    assert (
        "webhook to http://127.0.0.1" in outbox["last_error"] and "HTTP 503" in outbox["last_error"]
    )
    assert "t0ken" not in outbox["last_error"]  # (a URL's query may hold a token)
    handled = httpx.post(
        service.url(f"/api/notifications/{report['ref']}/handled"),
        params={"by": "op1"},
        json={"outcome": "lawyer-appointed", "note": "The mother was called back."},
        headers={"Authorization": f"Bearer {service.token}"},
        timeout=5,
    )
    assert handled.status_code == 200, handled.text
    receiver.stop()  # not even listening now
    await asyncio.sleep(3)
    receiver.start().status = 200
    wait_for(
        lambda: len(receiver.types(ref=report["ref"])) >= 2, 30, "the report's events not sent"
    )
    assert receiver.types(ref=report["ref"]) == ["notification.stored", "notification.handled"]
    stored, closed = [d for d in receiver.got if d.data.get("ref") == report["ref"]]
    assert stored.data == {
        "call": record["id"],
        "ref": report["ref"],
        "line": "detention",
        "number": "+380661112233",  # the number left to call back: this receiver asked for it
        "complete": True,
        "language": "uk",
    }
    assert closed.data == {
        "call": record["id"],
        "ref": report["ref"],
        "by": "op1",
        "outcome": "lawyer-appointed",
    }
    assert receiver.forged == [] and receiver.again == 0 and receiver.refused >= 1
    wait_for(lambda: service.health()["outbox"]["pending"]["webhook"] == 0, 10, "still pending")
    metrics = service.metrics()
    delivered = (
        "hotline_outbox_delivered_total",
        frozenset({("organisation", "ua-legal-aid"), ("channel", "webhook")}),
    )
    assert metrics[delivered] >= 2


async def test_with_a_standby_the_outbox_is_sent_once_and_goes_on_after_a_takeover(
    pair: tuple[Service, Service],  # noqa: F811  (the fixture, imported)
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    """Two instances on one PostgreSQL: a call's end reaches the registry once while a is
    active (b, standby, sends nothing); one that ends while the registry is down is sent by b
    once a was SIGKILLed and b took over; and b's own calls follow."""
    a, b = pair
    config = with_webhooks(tmp_path, receiver)
    for instance in pair:
        instance.settings |= OUTBOX
    receiver.start()
    a.start(config=config)
    wait_for(lambda: role(a) == "active", 10, "a never became active")
    b.start(config=config)
    assert role(b) == "standby"

    async def short_call() -> str:
        placed = await call("0800213103", "14", hold_ms=2000)
        return str((await asyncio.to_thread(a_or_b().record, placed.call_id))["id"])

    def a_or_b() -> Service:
        return a if a.process is not None else b

    first = await short_call()
    wait_for(lambda: receiver.types(call=first) == ["call.ended"], 20, "first call's end not sent")
    receiver.stop()
    second = await short_call()
    wait_for(lambda: a.health()["outbox"]["pending"]["webhook"], 20, "second call's end not kept")
    a.stop(signal.SIGKILL)
    wait_for(lambda: role(b) == "active", 20, "b never took over")
    receiver.start()
    wait_for(lambda: receiver.types(call=second) == ["call.ended"], 30, "b did not send it")
    third = await short_call()
    wait_for(lambda: receiver.types(call=third) == ["call.ended"], 20, "b's own call not sent")
    assert [d.data["call"] for d in receiver.got] == [first, second, third]
    assert receiver.again == 0 and receiver.forged == []


@pytest.fixture
def kannel(tmp_path: Path) -> Iterator[Kannel]:
    folder = tmp_path / "kannel"
    folder.mkdir()
    gateway = Kannel(folder).start()
    yield gateway
    gateway.stop()


async def test_a_caller_gets_a_centres_address_by_sms(
    asterisk: Asterisk, service: Service, kannel: Kannel
) -> None:
    """1 (Ukrainian), 5 (the centres), 3 (Kyiv), 2 (its address by SMS): the caller hears
    that it was sent, and the operator's SMS centre (fakesmsc, behind a real Kannel) gets it,
    in Ukrainian, to the number they call from. A caller from a number that may not be
    called (abroad) hears that it is not possible, and nothing is sent."""
    service.settings |= kannel.settings
    service.start()
    mark = asterisk.log_mark()
    placed = await call("0800213103", "1532", hold_ms=6000, gap_ms=2000)
    record = service.record(placed.call_id)
    assert record["path"] == ["language:1", "main:5", "centres:3", "centre-kyiv:2"]
    assert "hotline/uk/sms-sent" in asterisk.played(record["channel"], mark)
    sms = await asyncio.to_thread(
        wait_for, lambda: [m for m in kannel.messages() if m.to == "380501234567"], 30, "no SMS"
    )
    assert sms == [
        Sms(
            SENDER,
            "380501234567",
            "Київський місцевий центр з надання безоплатної правової допомоги. Працює з "
            "понеділка по п'ятницю, з дев'ятої до вісімнадцятої.\nKyiv (example address)\n"
            "0440000103",
        )
    ]
    events = [e["kind"] for e in service.get(f"/api/calls/{record['id']}")["events"]]
    assert "call.centre_sms" in events

    mark = asterisk.log_mark()
    abroad = await call("0800213103", "2532", caller="442071234567", hold_ms=6000, gap_ms=2000)
    record = service.record(abroad.call_id)
    assert "hotline/en/sms-not-possible" in asterisk.played(record["channel"], mark)
    await asyncio.sleep(2)
    assert [m.to for m in kannel.messages()] == ["380501234567"]
