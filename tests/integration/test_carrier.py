"""The carrier, tried as an attacker would: calls are taken from the trunk's address only,
whatever user name an INVITE claims, and callbacks dial only the numbers the config allows."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from hotline.sipcall import SoftPhone
from tests.integration.conftest import Asterisk, Service, call

DETENTION = ("0800213103", "12")


def events(record: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in record["events"] if e["kind"] == kind]


@pytest.mark.parametrize("user", ["trunk", "op1", "0800213103", "hotline", "380501234567"])
async def test_an_invite_from_another_address_is_no_call_whatever_its_from(
    asterisk: Asterisk, service: Service, user: str
) -> None:
    """PJSIP would take `From: <sip:trunk@...>` from anywhere for the carrier unless the trunk
    is identified by address only: from 127.0.0.3 nothing gets a call, a hotline number or an
    operator's name as From included."""
    service.start()
    mark, security_mark = asterisk.log_mark(), asterisk.security_mark()
    placed = await call("0800213103", "12", caller=user, source="127.0.0.3", hold_ms=1000)
    assert placed.returncode != 0  # no 200 OK: SIPp's call failed
    assert service.get("/api/calls", sip_call_id=placed.call_id) == []
    assert asterisk.channels() == {}
    if user == "op1":  # a phone's name: challenged for op1's password, which it lacks
        security = asterisk.security_since(security_mark)
        assert re.search(
            r'SecurityEvent="ChallengeSent".*AccountID="op1".*'
            r'RemoteAddress="IPV4/UDP/127\.0\.0\.3/',
            security,
        ), security
    else:  # anything else is nobody at all
        log = asterisk.log_since(mark)
        pattern = rf"Request 'INVITE' from '.*{re.escape(user)}@.*' failed for '127\.0\.0\.3:"
        assert re.search(pattern, log), log
        assert "No matching endpoint found" in log
    # and the real carrier's address still gets through
    placed = await call("0800213103", "14", caller=user)
    assert service.record(placed.call_id)["line"] == "information"


async def test_an_abandoned_caller_abroad_is_not_called_back(service: Service) -> None:
    """The detention line calls back who hangs up while waiting, but only to numbers the
    config allows: not an international (or premium-rate) number, however it got there."""
    service.start()
    placed = await call(*DETENTION, caller="+447700900123", hold_ms=6000)
    record = service.record(placed.call_id)
    assert (record["outcome"], record["callback_number"]) == ("abandoned", None)
    (refused,) = events(record, "callback.refused")
    assert "allowed patterns" in refused["reason"]
    assert not events(record, "callback.requested")
    assert service.get("/api/queues")["detention"]["waiting"] == []


async def test_a_callback_number_outside_the_patterns_is_refused_and_the_caller_waits_on(
    asterisk: Asterisk, service: Service
) -> None:
    """Key 1 while waiting, then a premium-rate number: the caller hears that it is wrong and
    keeps their place; the refusal and its reason are on the call."""
    service.start()
    mark = asterisk.log_mark()
    # consultation; once waiting, 1 (call me back) and 0900 123456 #
    placed = await call("0800213103", ["1", "1", "w", "w", "w", "1", *"0900123456#"], hold_ms=8000)
    record = service.record(placed.call_id)
    assert record["outcome"] == "abandoned"  # they waited on and hung up: never promised
    assert record["callback_number"] is None
    (refused,) = events(record, "callback.refused")
    assert refused["number"] == "0900123456"
    assert "hotline/uk/wrong-key" in asterisk.played(record["channel"], mark)
    assert "hotline/uk/callback-registered" not in asterisk.played(record["channel"], mark)


async def test_callbacks_stop_at_the_hourly_cap_and_say_why(
    service: Service,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
    tmp_path: Any,
) -> None:
    """At most per_number_per_hour calls an hour to one number: the next callback waits, and
    the call says why and until when."""
    config = capped_config(tmp_path, per_number=1)
    service.start(config=config)
    phone("op1", talk_ms=1500)
    home = home_phone(talk_ms=3000)
    # two detention callers from one number hang up while nobody is logged in
    first = await call(*DETENTION, caller="380661112233", hold_ms=1000)
    second = await call(*DETENTION, caller="380661112233", hold_ms=1000)
    for placed in (first, second):
        assert service.record(placed.call_id)["callback_number"] == "380661112233"
    service.login("op1")
    record = wait_for(service, first.call_id, lambda r: r["outcome"] == "called-back")
    assert record["operator"] == "op1"
    record = wait_for(service, second.call_id, lambda r: events(r, "callback.refused"))
    (refused,) = events(record, "callback.refused")
    assert "1 callbacks to this number in the last hour" in refused["reason"]
    assert refused["retry_at"]
    assert record["outcome"] is None  # still to be called back, later
    assert home.answered() == 1


def capped_config(tmp_path: Any, per_number: int) -> Any:
    import yaml

    from tests.conftest import ROOT

    raw = yaml.safe_load((ROOT / "config/hotline.yaml").read_text())
    raw["trunk"]["callbacks"]["per_number_per_hour"] = per_number
    path = tmp_path / "capped.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def wait_for(
    service: Service, sip_call_id: str, done: Callable[[dict[str, Any]], Any], seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        calls = service.get("/api/calls", sip_call_id=sip_call_id)
        if calls:
            record: dict[str, Any] = service.get(f"/api/calls/{calls[0]['id']}")
            if done(record):
                return record
        time.sleep(0.5)
    raise AssertionError(f"{sip_call_id} never got there:\n{service.log.read_text()[-3000:]}")
