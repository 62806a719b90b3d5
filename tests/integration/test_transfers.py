"""Transfers on the real sandbox: an operator sends their caller to another line, another
operator or a legal aid centre (from the phone with a REFER or the keypad, or through the
API); the caller hears that they are being connected and keeps their place; one record holds
both legs; a transfer that cannot be made leaves the call as it was."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.sipcall import OPERATOR_TONE, SoftPhone
from tests.integration.baresip import Baresip
from tests.integration.conftest import Asterisk, Service, call

#: Ukraine's contact centre: Ukrainian, then information (Chernivtsi: op1, op2).
INFORMATION = ("0800213103", "14")


@pytest.fixture
def op1(asterisk: Asterisk, tmp_path: Path) -> Iterator[Baresip]:
    """op1's softphone: baresip over TLS (plain RTP, as the default config allows)."""
    phone = Baresip(
        "op1",
        asterisk.secrets["HOTLINE_SIP_PASSWORD_OP1"],
        folder=tmp_path,
        ca=asterisk.sandbox.certificate_authority,
        tone_hz=OPERATOR_TONE,
        srtp=False,
    ).start()
    yield phone
    phone.stop()


def kinds(record: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in record["events"]]


def transfer(service: Service, call_id: str, token: str | None = None, **to: str) -> httpx.Response:
    return httpx.post(
        service.url(f"/api/calls/{call_id}/transfer"),
        json=to,
        headers={"Authorization": f"Bearer {token or service.token}"},
        timeout=10,
    )


async def talking(service: Service, operator: str, wait: float = 30) -> str:
    """The service's id of the call ``operator`` is talking on, once they are."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        agent = service.agent(operator)
        if agent["state"] == "on_call" and agent.get("call"):
            return str(agent["call"])
        await asyncio.sleep(0.2)
    seen = (service.agent(operator), service.get("/api/queues"), service.get("/api/calls"))
    raise AssertionError(
        f"{operator} is not talking: {seen}; Asterisk's channels: "
        f"{service.asterisk.active_channels()}\n{service.log.read_text()[-4000:]}"
        f"\nAsterisk's log:\n{service.asterisk.log.read_text(errors='replace')[-8000:]}"
    )


async def test_a_refer_sends_the_caller_to_another_line_answered_by_another_operator(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """op1 (Chernivtsi, information) answers and, 3 s in, REFERs the caller to the
    consultation line, which only Sumy's lawyers serve: op3 answers them there. The record
    holds both legs, the transfer on its timeline and in the statistics."""
    service.start()
    op1 = phone("op1", talk_ms=3000, refer_to="consultation")
    op3 = phone("op3", talk_ms=3000)
    service.login("op1", "op3")
    placed = await call(*INFORMATION, hold_ms=30_000)
    record = service.record(placed.call_id, wait=30)

    assert (record["outcome"], record["line"], record["operator"]) == (
        "answered",
        "consultation",
        "op3",
    ), record
    (leg,) = record["transfers"]
    assert {k: leg[k] for k in ("operator", "line", "target", "to", "mode", "by", "outcome")} == {
        "operator": "op1",
        "line": "information",
        "target": "line",
        "to": "consultation",
        "mode": "blind",
        "by": "op1",
        "outcome": "answered",
    }
    assert leg["talk"] >= 2.5 and leg["answered_by"] == "op3"
    order = kinds(record)
    assert order.index("call.transferred") < order.index("call.ended")
    assert [e["data"]["operator"] for e in record["events"] if e["kind"] == "call.answered"] == [
        "op1",
        "op3",
    ]
    # op1's phone was told the transfer went through (202, then a NOTIFY of 200 OK)
    received = "\n".join(op1.messages_of(sent=False))
    assert "SIP/2.0 202 Accepted" in received and "SIP/2.0 200 OK" in received
    assert op3.answered() == 1
    figures = service.get("/api/stats")
    assert figures["lines"]["information"]["transferred"] == 1
    assert figures["operators"]["op1"]["transferred"] == 1
    assert figures["operators"]["op3"]["answered"] == 1
    assert service.asterisk.active_channels() == 0


async def test_an_operator_who_does_not_answer_a_transfer_sends_the_caller_back_to_the_head(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """Through the API, op1 transfers caller A to op6, whose phone rings unanswered: A goes
    back to the head of the information queue, ahead of C who came later, and op1 answers A
    again before C."""
    service.start()
    phone("op1", talk_ms=6000)
    op6 = phone("op6", answers=False)  # a Sumy lawyer: not on the information line
    service.login("op1", "op6")
    a = asyncio.create_task(call(*INFORMATION, caller="380501110001", hold_ms=90_000))
    in_a = await talking(service, "op1")
    b = asyncio.create_task(call(*INFORMATION, caller="380501110002", hold_ms=90_000))
    await asyncio.sleep(2)
    reply = transfer(service, in_a, operator="op6")
    assert reply.status_code == 202, reply.text
    assert reply.json() == {"call": in_a, "from": "op1", "target": "operator", "to": "op6"}
    await asyncio.sleep(5)
    c = asyncio.create_task(call(*INFORMATION, caller="380501110003", hold_ms=90_000))
    records = [service.record((await p).call_id, wait=120) for p in (a, b, c)]
    first, _, third = records

    assert [r["outcome"] for r in records] == ["answered"] * 3, records
    assert first["operator"] == "op1" and op6.rung() == 1 and op6.answered() == 0
    (leg,) = first["transfers"]
    assert (leg["to"], leg["target"], leg["outcome"], leg["status"]) == (
        "op6",
        "operator",
        "failed",
        "NOANSWER",
    )
    assert first["events"][-1]["data"]["operator"] == "op1"
    answers = [e["at"] for e in first["events"] if e["kind"] == "call.answered"]
    assert len(answers) == 2 and answers[1] < third["answered"]  # A before C, who came later
    assert service.agent("op6")["misses"] == 1


async def test_a_transfer_to_a_legal_aid_centre_reaches_it_through_the_carrier(
    service: Service, phone: Callable[..., SoftPhone], home_phone: Callable[..., SoftPhone]
) -> None:
    """op1 transfers the caller to the Kyiv centre (API, by name): Asterisk dials its number
    through the trunk, where a SIPp 'centre' answers; the record ends as transferred."""
    service.start()
    phone("op1", talk_ms=60_000)
    centre = home_phone(talk_ms=3000)
    service.login("op1")
    placed = asyncio.create_task(call(*INFORMATION, hold_ms=60_000))
    in_call = await talking(service, "op1")
    kyiv = next(c for c in service.get("/api/centres") if c["id"] == "kyiv")
    # (the directory's 0440000103, kept in E.164)
    assert (kyiv["region"], kyiv["number"], kyiv["code"]) == ("Kyiv", "+380440000103", "53")
    reply = transfer(service, in_call, centre="kyiv")
    assert reply.status_code == 202, reply.text
    record = service.record((await placed).call_id, wait=60)

    assert (record["outcome"], record["operator"]) == ("transferred", "op1"), record
    (leg,) = record["transfers"]
    assert (leg["target"], leg["to"], leg["outcome"]) == ("centre", "kyiv", "answered")
    assert "call.centre_answered" in kinds(record)
    invite = next(m for m in centre.messages_of(sent=False) if "INVITE sip:" in m)
    # the centre's number, from the directory, as the carrier is given numbers (trunk.dial)
    assert "INVITE sip:380440000103@" in invite
    assert centre.answered() == 1
    assert service.agent("op1")["state"] in ("wrap_up", "available")
    assert service.asterisk.active_channels() == 0


async def test_the_information_menu_connects_a_caller_to_their_regions_centre(
    service: Service, home_phone: Callable[..., SoftPhone]
) -> None:
    """Menu 5 (centres), 3 (Kyiv): the caller hears its address and hours, then 1 connects
    them: no operator on the way."""
    service.start()
    centre = home_phone(talk_ms=2000)
    mark = service.asterisk.log_mark()
    placed = await call("0800213103", "1531", hold_ms=60_000, gap_ms=3000)
    record = service.record(placed.call_id, wait=30)

    assert record["outcome"] == "transferred" and record["operator"] is None, record
    assert record["path"][-3:] == ["main:5", "centres:3", "centre-kyiv:1"]
    (leg,) = record["transfers"]
    assert (leg["target"], leg["to"], leg["mode"], leg["by"], leg["outcome"]) == (
        "centre",
        "kyiv",
        "menu",
        "caller",
        "answered",
    )
    assert centre.answered() == 1
    played = service.asterisk.log_since(mark)
    assert "hotline/uk/centre-kyiv" in played and "hotline/uk/connecting" in played


async def test_a_transfer_that_cannot_be_made_is_refused_and_the_call_goes_on(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """Unknown targets, another organisation's line, a busy colleague, a wrong token, a
    REFER to a name the organisation does not have: each refused with a clear answer, and
    the caller stays with op1 until op1 hangs up."""
    service.settings["HOTLINE_API_TOKENS"] = (
        "operator:op2=op2-token-of-the-tests-2026,supervisor@ge-legal-aid=georgian-sup-2026,"
        "viewer@ua-legal-aid=ukrainian-viewer-2026"
    )
    service.start()
    op1 = phone("op1", talk_ms=12_000, refer_to="ge-consultation")
    phone("op2", talk_ms=60_000)
    service.login("op1")
    placed = asyncio.create_task(call(*INFORMATION, hold_ms=60_000))
    in_call = await talking(service, "op1")

    unknown = transfer(service, in_call, line="no-such-line")
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["body", "line"]
    assert "no-such-line" in unknown.json()["errors"][0]["msg"]
    assert "no-such-line" in unknown.json()["detail"]
    assert transfer(service, in_call, line="ge-consultation").status_code == 422  # Georgia's
    assert transfer(service, in_call, line="x", operator="op2").status_code == 422  # two
    assert transfer(service, in_call).status_code == 422  # none
    busy = transfer(service, in_call, operator="op2")  # logged out
    assert busy.status_code == 409 and "op2 cannot take a call now" in busy.json()["detail"]
    assert transfer(service, in_call, operator="op1").status_code == 409  # themselves
    assert transfer(service, "no-such-call", line="detention").status_code == 404
    # each organisation's directory is its own
    georgian = service.get_as("georgian-sup-2026", "/api/centres").json()
    assert [c["id"] for c in georgian] == ["kutaisi-bureau", "tbilisi-bureau"]
    assert transfer(service, in_call, centre="tbilisi-bureau").status_code == 422
    # another operator's token, another organisation's supervisor: not their call
    assert (
        transfer(service, in_call, "op2-token-of-the-tests-2026", line="detention").status_code
        == 404
    )
    assert transfer(service, in_call, "georgian-sup-2026", line="detention").status_code == 404
    assert transfer(service, in_call, "ukrainian-viewer-2026", line="detention").status_code == 403

    record = service.record((await placed).call_id, wait=60)
    # op1's phone also REFERred the caller to Georgia's line: not in Ukraine's transfer
    # context, so Asterisk refused it (NOTIFY 404) and the call went on
    assert "SIP/2.0 404" in "\n".join(op1.messages_of(sent=False))
    assert (record["outcome"], record["operator"], record["transfers"]) == ("answered", "op1", [])
    assert record["talk"] >= 10
    assert "call.transferred" not in kinds(record)


async def test_an_attended_transfer_from_a_real_softphone(
    service: Service, phone: Callable[..., SoftPhone], asterisk: Asterisk, op1: Baresip
) -> None:
    """op1 on baresip answers a caller, keys *2 and op6's code (96): Asterisk holds the
    caller and rings op6 (a Sumy lawyer, on a SIPp phone) for op1 to speak to first; op1
    hangs up, which joins the caller to op6. One record: op1's leg, then op6's, the transfer
    attended."""
    service.start()
    lawyer = phone("op6", talk_ms=8000)
    service.login("op1", "op6")  # op6 is free, but not on the information line
    placed = asyncio.create_task(call(*INFORMATION, hold_ms=60_000))
    await talking(service, "op1")
    await asyncio.sleep(1)
    op1.send("/sndcode *2")
    await asyncio.sleep(1.5)
    op1.send("/sndcode 96")
    deadline = time.monotonic() + 20
    while lawyer.answered() == 0:  # the consultation: op6 picked up op1's second call
        assert time.monotonic() < deadline, op1.output()[-3000:]
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)
    op1.hang_up()  # completes the transfer: the caller now talks to op6
    record = service.record((await placed).call_id, wait=60)

    assert (record["outcome"], record["operator"]) == ("answered", "op6"), record
    (leg,) = record["transfers"]
    assert (leg["operator"], leg["target"], leg["to"], leg["mode"], leg["by"]) == (
        "op1",
        "operator",
        "op6",
        "attended",
        "op1",
    )
    assert [e["data"]["operator"] for e in record["events"] if e["kind"] == "call.answered"] == [
        "op1",
        "op6",
    ]
    assert service.agent("op6")["state"] in ("wrap_up", "available")
    assert asterisk.active_channels() == 0


async def test_a_blind_transfer_keyed_on_a_real_softphone(
    service: Service, phone: Callable[..., SoftPhone], asterisk: Asterisk, op1: Baresip
) -> None:
    """op1 on baresip keys ## and 1 (the consultation line's code): the caller hears that
    they are being connected and a Sumy lawyer (op3) answers them."""
    service.start()
    lawyer = phone("op3", talk_ms=3000)
    service.login("op1", "op3")
    mark = asterisk.log_mark()
    placed = asyncio.create_task(call(*INFORMATION, hold_ms=60_000))
    await talking(service, "op1")
    await asyncio.sleep(1)
    op1.send("/sndcode ##")
    await asyncio.sleep(1.5)
    op1.send("/sndcode 1")
    record = service.record((await placed).call_id, wait=60)

    assert (record["outcome"], record["line"], record["operator"]) == (
        "answered",
        "consultation",
        "op3",
    ), record
    (leg,) = record["transfers"]
    assert (leg["operator"], leg["to"], leg["mode"], leg["answered_by"]) == (
        "op1",
        "consultation",
        "blind",
        "op3",
    )
    assert lawyer.answered() == 1
    channel = record["channel"]
    assert "hotline/uk/connecting" in asterisk.played(channel, mark)
