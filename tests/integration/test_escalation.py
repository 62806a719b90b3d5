"""A detention report reaches a duty lawyer, day or night, on the real sandbox: at 03:00 on a
Sunday (the clock set; the consultations' office closed, nobody logged in) a family leaves a
message; the people on duty (SIPp, behind the carrier's address) are rung in the chain's order:
the first duty lawyer passes it on (2), the second does not answer, the supervisor on duty
hears the family's own message and accepts it (1). The whole chain is on the report's history
and in the figures. Then the same with the service killed between two steps, and with a
standby taking over during the first call: it goes on from where it was, nobody rung twice."""

from __future__ import annotations

import asyncio
import json
import math
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from bench.sipcall import free_udp_port
from tests.integration.conftest import Asterisk, Service, call, config_variant, progress
from tests.integration.test_dashboard import login
from tests.integration.test_notifications import GAP, seconds_of
from tests.integration.test_outbound import OUTBOX, wait_for
from tests.integration.test_standby import pair, role  # noqa: F401  (pair: a fixture)
from tests.kannel import Kannel
from tests.mailbox import Mailbox, plain_smtp
from tests.receiver import Receiver

#: 03:00 on Sunday 6 December 2026 in Kyiv.
SUNDAY_NIGHT = "2026-12-06T03:00:00+02:00"
#: The default rota's people on duty then (config/hotline.yaml: duty).
# the duty people's phones (the config's 0671234501, ...) as the carrier and Kannel are given
# them (trunk.dial: international)
KOVALENKO, BONDAR, MELNYK = "380671234501", "380501234502", "380671234504"
FAMILY = "380661112233"
SCENARIO = Path(__file__).parent / "sipp/duty.xml"
GE = "supervisor-ge-escalation-token-2026"  # Georgia's Legal Aid Service's supervisor


class DutyPhones:
    """The phones of the people on duty, reached through the carrier (127.0.0.2:5070): one
    SIPp answering every call the hotline makes there, told apart by number; the RTP that
    reaches them counted (nftables, in this test's network namespace)."""

    def __init__(self, folder: Path, accept: str, decline: str, listen_ms: int = 25_000) -> None:
        self.folder = folder
        self.media = free_udp_port("127.0.0.2")
        self.messages = folder / "duty-messages.log"
        scenario = folder / "duty.xml"
        scenario.write_text(
            SCENARIO.read_text()
            .replace("[accept]", accept)
            .replace("[decline]", decline)
            .replace("[listen]", str(listen_ms))
            .replace("[glance]", "2000")
        )
        self.table = f"duty{self.media}"
        count = f"""
            table ip {self.table} {{
              counter heard {{}}
              chain input {{
                type filter hook input priority filter; policy accept;
                ip daddr 127.0.0.2 udp dport {self.media} counter name heard
              }}
            }}
        """
        subprocess.run(["nft", "-f", "-"], input=count, text=True, check=True)
        address = ["-i", "127.0.0.2", "-p", "5070", "-mp", str(self.media), "-bind_local"]
        log = ["-trace_msg", "-message_file", str(self.messages)]
        self.process = subprocess.Popen(
            ["sipp", "-sf", str(scenario), *address, *log, "-nostdin", "-timeout", "600s"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=folder,
        )

    def rung(self) -> list[str]:
        """The numbers the hotline called, in order (retransmissions counted once)."""
        if not self.messages.exists():
            return []
        seen: dict[str, str] = {}
        for block in self.messages.read_text(errors="replace").split("-----"):
            if "message received" in block and "\nINVITE sip:" in block:
                number = block.split("\nINVITE sip:")[1].split("@")[0]
                call_id = next(
                    (
                        line.split(":", 1)[1].strip()
                        for line in block.splitlines()
                        if line.lower().startswith("call-id:")
                    ),
                    block,
                )
                seen.setdefault(call_id, number)
        return list(seen.values())

    def first_invite_at(self) -> float:
        """When the first call reached them (seconds since the epoch, SIPp's own stamp)."""
        text = self.messages.read_text(errors="replace")
        for block in text.split("-----"):
            if "message received" in block and "\nINVITE sip:" in block:
                stamp = re.search(r"(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2}\.\d+)", block)
                assert stamp, block[:200]
                return datetime.fromisoformat(f"{stamp[1]} {stamp[2]}").timestamp()
        raise AssertionError("no INVITE")

    def heard(self) -> int:
        """RTP packets that reached them so far."""
        out = subprocess.run(
            ["nft", "-j", "list", "counter", "ip", self.table, "heard"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (packets,) = [
            i["counter"]["packets"] for i in json.loads(out)["nftables"] if "counter" in i
        ]
        return int(packets)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        subprocess.run(["nft", "delete", "table", "ip", self.table], check=False)


@pytest.fixture
def duty_phones(tmp_path: Path) -> Iterator[DutyPhones]:
    phones = DutyPhones(tmp_path, accept=MELNYK, decline=KOVALENKO)
    yield phones
    phones.stop()


@dataclass
class Outside:
    """The world beside the calls: the SMS centre (behind a real Kannel), the mail server and
    the case registry's webhook receiver, and the service's settings for them."""

    kannel: Kannel
    mailbox: Mailbox
    registry: Receiver
    settings: dict[str, str]


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Outside]:
    folder = tmp_path / "kannel"
    folder.mkdir()
    kannel = Kannel(folder).start()
    registry = Receiver().start()
    try:
        with plain_smtp() as (mailbox, smtp):
            yield Outside(kannel, mailbox, registry, OUTBOX | kannel.settings | smtp)
    finally:
        registry.stop()
        kannel.stop()


def night_config(folder: Path, registry: Receiver | None = None) -> Path:
    """The default deployment with its escalations (rings of 10 s), Ukraine's reports sent to
    ``registry``."""
    ukraine: dict[str, Any] = {"lines": {"detention": {"escalation": {"ring_timeout": 10}}}}
    if registry is not None:
        ukraine["webhooks"] = [{"url": registry.url, "events": ["reports"]}]
    path, _ = config_variant(folder, escalations=True, organisations={"ua-legal-aid": ukraine})
    return path


async def leave_a_message(asterisk: Asterisk) -> str:
    """A family on the detention line presses 2 (a message), speaks after the beep, and
    leaves the number they call from; the SIPp call's id."""
    until_beep = seconds_of(asterisk, "uk/detention-message") + 2
    waits = "w" * (math.ceil(until_beep / GAP) + 2)  # (and a few seconds of their voice)
    placed = await call(
        "0800213103",
        f"12ww2{waits}#w#",
        caller=FAMILY,
        gap_ms=int(GAP * 1000),
        hold_ms=40_000,
        speaks=True,
    )
    assert placed.returncode == 0, placed.output
    return placed.call_id


async def report_of(service: Service, sip_call_id: str) -> dict[str, Any]:
    record = service.get("/api/calls", sip_call_id=sip_call_id)[0]
    (found,) = [n for n in service.get("/api/notifications") if n["call"] == record["id"]]
    return dict(found)


async def until_accepted(service: Service, ref: str, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        report: dict[str, Any] = service.get(f"/api/notifications/{ref}")
        if report["escalation"] and report["escalation"]["accepted"]:
            return report
        await asyncio.sleep(0.5)
    raise AssertionError(f"not accepted: {report}\n{service.log.read_text()[-5000:]}")


async def test_a_report_at_night_is_rung_through_to_the_people_on_duty_until_one_accepts(
    asterisk: Asterisk,
    service: Service,
    duty_phones: DutyPhones,
    outside: Outside,
    browser: Browser,
    tmp_path: Path,
) -> None:
    service.settings |= outside.settings | {"HOTLINE_API_TOKENS": f"supervisor@ge-legal-aid={GE}"}
    service.start(SUNDAY_NIGHT, config=night_config(tmp_path, outside.registry))
    mark = asterisk.log_mark()
    report = await report_of(service, await leave_a_message(asterisk))
    ref = report["ref"]
    assert report["escalation"]["calls"][0]["person"] == "kovalenko", report
    # another organisation's supervisor cannot touch it; nor can anyone be named who is not
    # on Ukraine's duty list
    act = f"/api/notifications/{ref}/escalation"
    assert service.post_json(GE, act, {"action": "skip"}).status_code == 404
    wrong = service.post_json(service.token, act, {"action": "accept", "person": "beridze"})
    assert wrong.status_code == 422 and "duty people" in wrong.text
    report = await until_accepted(service, ref)
    accepted_at = time.time()
    assert service.post_json(service.token, act, {"action": "restart"}).status_code == 409
    # the figure docs/calls.md quotes: from the report stored to the first duty lawyer's phone
    stored = next(
        line
        for line in service.log.read_text().splitlines()
        if f"notification {ref} stored" in line
    )
    stored_at = datetime.strptime(stored[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
    progress(
        f"escalation: report {ref} stored -> the first duty lawyer's phone rings: "
        f"{(duty_phones.first_invite_at() - stored_at) * 1000:.0f} ms; accepted after "
        f"{accepted_at - stored_at:.0f} s"
    )

    escalation = report["escalation"]
    assert [(c["person"], c["outcome"]) for c in escalation["calls"]] == [
        ("kovalenko", "declined"),
        ("bondar", "NOANSWER"),
        ("melnyk", "accepted"),
    ]
    assert escalation["accepted"]["person"] == "melnyk" and escalation["state"] == "accepted"
    assert duty_phones.rung() == [KOVALENKO, BONDAR, MELNYK]  # each once, in the chain's order
    # the family's own message was played to the supervisor, and its audio reached the phone
    # (opened from the vault for each call, and deleted after it)
    played = asterisk.log_since(mark)
    assert played.count("Playing '/var/spool/asterisk/hotline/playing/") >= 1, played[-2000:]
    assert not list((asterisk.sandbox.root / "var/spool/asterisk/hotline/playing").glob("*"))
    assert duty_phones.heard() > 50 * seconds_of(asterisk, "uk/escalation-report"), (
        duty_phones.heard()
    )
    # the whole chain on the report's history (the call log's, a moment behind)
    history = await asyncio.to_thread(
        wait_for,
        lambda: (
            (h := service.get(f"/api/notifications/{ref}")["history"])
            and h[-1]["kind"] == "escalation.stopped"
            and h
        ),
        10,
        "the history lacks the end of the chain",
    )
    kinds = [h["kind"] for h in history]
    for kind in (
        "escalation.started",
        "escalation.ringing",
        "escalation.declined",
        "escalation.unanswered",
        "escalation.accepted",
        "escalation.stopped",
    ):
        assert kind in kinds, kinds
    # and in the figures: accepted within the 15 minutes' target
    figures = service.get("/api/stats", **{"from": "2026-12-06T00:00:00+02:00"})["reports"]
    assert (figures["reports"], figures["accepted"], figures["within_target"]) == (1, 1, 1.0)
    assert figures["calls"]["max"] == 3
    line = frozenset({("organisation", "ua-legal-aid"), ("line", "detention")})
    assert service.metrics()["hotline_report_acceptance_seconds_count", line] == 1

    # beside the calls: the family's SMS with their reference; each person rung, an SMS and
    # an e-mail with the reference and the report's link (no recording, no caller's number)
    kannel, mailbox = outside.kannel, outside.mailbox
    family = await asyncio.to_thread(
        wait_for, lambda: [m for m in kannel.messages() if m.to == FAMILY], 30, "no family SMS"
    )
    assert len(family) == 1 and ref in family[0].text and "адвокат" in family[0].text
    for number, address in (
        (KOVALENKO, "o.kovalenko@example.org"),
        (BONDAR, "t.bondar@example.org"),
        (MELNYK, "a.melnyk@example.org"),
    ):
        (sms,) = await asyncio.to_thread(
            wait_for, lambda n=number: [m for m in kannel.messages() if m.to == n], 30, number
        )
        (mail,) = await asyncio.to_thread(
            wait_for, lambda a=address: mailbox.to(a), 30, f"no e-mail to {address}"
        )
        body = mail.get_content()
        for text in (sms.text, body):
            assert ref in text and f"/desk#report-{ref}" in text, text
            assert FAMILY not in text and "notifications/" not in text and ".wav" not in text
        assert ref in str(mail["Subject"])
    # the case registry: every step of the report, once, in order, signed, no number
    registry = outside.registry
    told = await asyncio.to_thread(
        wait_for,
        lambda: (t := registry.types(ref=ref)) and t[-1] == "escalation.stopped" and t,
        30,
        "the registry was not told the whole chain",
    )
    assert told[:3] == ["notification.stored", "escalation.started", "escalation.notified"]
    assert told.count("escalation.ringing") == 3 and "escalation.accepted" in told
    assert registry.forged == [] and registry.again == 0
    assert not any("number" in d.data or "to" in d.data for d in registry.got)
    # the wallboard: the report with its delivery, and today's figures
    page = await browser.new_page(locale="en-GB")
    await login(page, service)
    delivery = page.locator(f'#notifications tr[data-ref="{ref}"] .escalation')
    await expect(delivery).to_contain_text("accepted by melnyk")
    await expect(delivery).to_contain_text("kovalenko: passed it on")
    await expect(page.locator("#reports-today .accepted")).to_have_text("1")


def chain_of(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(c["person"], c["outcome"]) for c in report["escalation"]["calls"]]


async def until_rung(phones: DutyPhones, numbers: list[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while phones.rung() != numbers:
        assert time.monotonic() < deadline, f"rung: {phones.rung()}, not {numbers}"
        await asyncio.sleep(0.2)


async def test_a_service_killed_between_two_steps_goes_on_from_where_it_was(
    asterisk: Asterisk, service: Service, duty_phones: DutyPhones, tmp_path: Path
) -> None:
    """SIGKILL while the second duty lawyer's phone rings: the new process reads the chain
    from its file, the ring it did not see end is counted, the supervisor is rung next and
    accepts; nobody is rung twice."""
    config = night_config(tmp_path)
    service.start(SUNDAY_NIGHT, config=config)
    started = time.monotonic()
    family = asyncio.create_task(leave_a_message(asterisk))  # (the chain starts meanwhile)
    await until_rung(duty_phones, [KOVALENKO, BONDAR], 120)
    service.stop(signal.SIGKILL)
    later = datetime.fromisoformat(SUNDAY_NIGHT).timestamp() + time.monotonic() - started
    service.start(datetime.fromtimestamp(later).astimezone().isoformat(), config=config)
    report = await until_accepted(service, (await report_of(service, await family))["ref"])
    assert chain_of(report)[0] == ("kovalenko", "declined")
    assert chain_of(report)[1][0] == "bondar" and chain_of(report)[1][1] in ("NOANSWER", "UNKNOWN")
    assert chain_of(report)[2] == ("melnyk", "accepted")
    assert duty_phones.rung() == [KOVALENKO, BONDAR, MELNYK]


async def test_a_standby_taking_over_during_the_first_call_goes_on_with_it(
    asterisk: Asterisk,
    pair: tuple[Service, Service],  # noqa: F811  (the fixture, imported)
    duty_phones: DutyPhones,
    tmp_path: Path,
) -> None:
    """The active instance is killed while the first duty lawyer listens to the report: the
    standby takes over, tells it to them again (they pass it on), then rings the next people
    on duty; nobody is rung twice, and the chain is on the report whole."""
    a, b = pair
    config = night_config(tmp_path)
    a.start(SUNDAY_NIGHT, config=config)
    await asyncio.to_thread(wait_for, lambda: role(a) == "active", 10, "a never active")
    b.start(SUNDAY_NIGHT, config=config)
    family = asyncio.create_task(leave_a_message(asterisk))  # (the chain starts meanwhile)
    await until_rung(duty_phones, [KOVALENKO], 120)
    await asyncio.sleep(1.5)  # kovalenko picks up after a second, and listens
    a.stop(signal.SIGKILL)
    await asyncio.to_thread(wait_for, lambda: role(b) == "active", 20, "b never took over")
    report = await until_accepted(b, (await report_of(b, await family))["ref"])
    assert chain_of(report) == [
        ("kovalenko", "declined"),
        ("bondar", "NOANSWER"),
        ("melnyk", "accepted"),
    ]
    assert duty_phones.rung() == [KOVALENKO, BONDAR, MELNYK]
