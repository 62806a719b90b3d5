"""The carrier, tried as an attacker would: calls are taken from the trunk's address only,
whatever user name an INVITE claims, and callbacks dial only the numbers the config allows."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.sipcall import SoftPhone, free_udp_port
from hotline.config.deployment import Deployment
from hotline.config.loading import load
from tests.integration.conftest import Asterisk, Service, base_config, call

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
    placed = await call(*DETENTION, caller="+447400123456", hold_ms=6000)
    record = service.record(placed.call_id)
    assert (record["outcome"], record["callback_number"]) == ("abandoned", None)
    (refused,) = events(record, "callback.refused")
    assert "a number of GB: no callback goes there" in refused["reason"]
    assert not events(record, "callback.requested")
    assert service.get("/api/queues")["detention"]["waiting"] == []


async def test_a_callback_number_outside_the_patterns_is_refused_and_the_caller_waits_on(
    asterisk: Asterisk, service: Service
) -> None:
    """Key 1 while waiting, then a premium-rate number: the caller hears that it is wrong and
    keeps their place; the refusal and its reason are on the call."""
    service.start()
    mark = asterisk.log_mark()
    # consultation; once waiting, 1 (call me back) and 0900 212345 # (Ukraine's premium rate)
    placed = await call("0800213103", ["1", "1", "w", "w", "w", "1", *"0900212345#"], hold_ms=8000)
    record = service.record(placed.call_id)
    assert record["outcome"] == "abandoned"  # they waited on and hung up: never promised
    assert record["callback_number"] is None
    (refused,) = events(record, "callback.refused")
    assert refused["number"] == "+380900212345"  # read in Ukraine, as the log keeps numbers
    assert "a premium_rate number of UA" in refused["reason"]
    assert "hotline/uk/wrong-key" in asterisk.played(record["channel"], mark)
    assert "hotline/uk/callback-registered" not in asterisk.played(record["channel"], mark)


async def test_callbacks_stop_at_the_hourly_cap_and_say_why(
    service: Service,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
    tmp_path: Path,
) -> None:
    """At most per_number_per_hour calls an hour to one number: the next callback waits, and
    the call says why and until when."""
    config = capped_config(tmp_path, per_number=1)
    service.start(config=config)
    phone("op1", talk_ms=1500)
    home = home_phone(talk_ms=3000)
    # two detention callers from one number hang up while nobody is logged in
    first = await call(*DETENTION, caller="380661112233", hold_ms=4000)
    second = await call(*DETENTION, caller="380661112233", hold_ms=4000)
    for placed in (first, second):
        assert service.record(placed.call_id)["callback_number"] == "+380661112233"
    service.login("op1")
    record = service.record(first.call_id, until=lambda r: r["outcome"] == "called-back", wait=60)
    assert record["operator"] == "op1"
    record = service.record(second.call_id, until=lambda r: events(r, "callback.refused"), wait=60)
    (refused,) = events(record, "callback.refused")
    assert "1 callbacks to this number in the last hour" in refused["reason"]
    assert refused["retry_at"]
    assert record["outcome"] is None  # still to be called back, later
    assert home.answered() == 1


def capped_config(tmp_path: Path, per_number: int) -> Path:
    raw = base_config()
    raw["trunk"]["callbacks"]["per_number_per_hour"] = per_number
    path = tmp_path / "capped.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


class Carrier:
    """A carrier played by SIPp on the trunk's address (127.0.0.2:5070) that wants the hotline
    registered and authenticated; it keeps a log of every SIP message."""

    def __init__(self, workdir: Path, user: str, password: str) -> None:
        scenario = workdir / "carrier.xml"
        scenario.write_text(
            (Path(__file__).parent / "sipp/carrier.xml")
            .read_text()
            .replace("[user]", user)
            .replace("[password]", password)
            .replace("[talk]", "2500")
        )
        self.messages = workdir / "carrier-messages.log"
        port = ["-i", "127.0.0.2", "-bind_local", "-p", "5070"]
        log = ["-trace_msg", "-message_file", str(self.messages)]
        self.process = subprocess.Popen(
            [
                "sipp",
                "-sf",
                str(scenario),
                *port,
                "-mp",
                str(free_udp_port("127.0.0.2")),
                *log,
                "-nostdin",
                "-timeout",
                "600s",
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def received(self, method: str) -> list[str]:
        """The requests of ``method`` it received, each as its SIP text."""
        if not self.messages.exists():
            return []
        blocks = self.messages.read_text(errors="replace").split("-----")
        return [
            b.split("\n\n", 1)[-1].strip()
            for b in blocks
            if "message received" in b and f"\n{method} sip:" in f"\n{b.split(chr(10) * 2, 1)[-1]}"
        ]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(5)


@pytest.fixture
def registering_carrier(
    asterisk: Asterisk, deployment: Deployment, tmp_path: Path
) -> Iterator[tuple[Carrier, Path]]:
    """The sandbox's Asterisk configured for a carrier that wants registration and digest
    authentication, with that carrier running; the default config back afterwards."""
    raw = base_config()
    raw["trunk"].update(auth=True, registration=True)
    config = tmp_path / "carrier.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    registering = load(config)
    secrets = asterisk.sandbox.ensure_secrets(registering)
    carrier = Carrier(
        tmp_path, secrets["HOTLINE_TRUNK_USERNAME"], secrets["HOTLINE_TRUNK_PASSWORD"]
    )
    try:
        asterisk.secrets = asterisk.sandbox.up(registering, lambda _: None)
        yield carrier, config
    finally:
        carrier.stop()
        asterisk.secrets = asterisk.sandbox.up(deployment, lambda _: None)


async def test_a_carrier_that_wants_registration_and_authentication(
    asterisk: Asterisk,
    service: Service,
    phone: Callable[..., SoftPhone],
    registering_carrier: tuple[Carrier, Path],
) -> None:
    """The hotline registers to the carrier with the account from the environment, answers
    its challenges on calls out (callbacks), and still takes the carrier's calls by address."""
    carrier, config = registering_carrier
    user = asterisk.secrets["HOTLINE_TRUNK_USERNAME"]
    deadline = time.monotonic() + 20
    while "Registered" not in (shown := asterisk.sandbox.cli("pjsip show registrations").stdout):
        assert time.monotonic() < deadline, shown
        time.sleep(0.3)
    (registered,) = [r for r in carrier.received("REGISTER") if "Authorization:" in r]
    assert f'username="{user}"' in registered
    service.start(config=config)
    op1 = phone("op1", talk_ms=2000)
    # a detention caller hangs up while nobody is free: called back through the carrier
    placed = await call(*DETENTION, caller="380661112233", hold_ms=4000)
    assert service.record(placed.call_id)["callback_number"] == "+380661112233"
    service.login("op1")
    record = service.record(placed.call_id, until=lambda r: r["outcome"], wait=60)
    assert (record["outcome"], record["operator"]) == ("called-back", "op1")
    assert op1.answered() == 1
    invites = carrier.received("INVITE")
    assert invites[0].startswith("INVITE sip:380661112233@")  # challenged...
    assert "Authorization:" not in invites[0]
    assert f'username="{user}"' in invites[1]  # ...and answered with the account
    assert all(f"<sip:{user}@" in i.split("From:")[1].split("\n")[0] for i in invites)
