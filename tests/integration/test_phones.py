"""Operators' phones on a hotline that requires encryption (`phones: {encryption: required}`:
SIP over TLS, media over SRTP): a real softphone (baresip, as Debian ships it) registers,
is rung for a queued caller, answers, and each side hears the other; a phone on plain UDP is
not let in."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bench.sipcall import CALLER_TONE, OPERATOR_TONE, SoftPhone
from hotline.calls.audio import AudioSegment
from hotline.config.deployment import Deployment
from hotline.config.loading import load
from tests.conftest import ukraine
from tests.integration.baresip import Baresip
from tests.integration.conftest import Asterisk, Service, base_config, call, progress
from tests.integration.test_nat import tone_level
from tests.integration.test_recordings import CONSULTATION, wait_for_event

#: A frequency nobody sends (the caller's and the operator's tones: bench.sipcall).
NEITHER = 2300


def contacts(asterisk: Asterisk, endpoint: str) -> list[str]:
    """The contacts Asterisk's registrar keeps for ``endpoint``, in full: their URIs name the
    transport the phone registered over (rewrite_contact writes the real one in)."""
    found = []
    for line in asterisk.sandbox.cli("database show registrar").stdout.splitlines():
        if match := re.match(r"/registrar/contact/\S+\s*: (\{.*\})\s*$", line):
            contact = json.loads(match.group(1))
            if contact["endpoint"] == endpoint:
                found.append(contact["uri"])
    return found


@pytest.fixture(scope="module")
def encrypted(
    asterisk: Asterisk, deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """This process's Asterisk restarted with phones on TLS and SRTP only and the
    consultation line recorded (that config's path); the default config back afterwards."""
    config = base_config()
    config["phones"].update(udp=False, tls=True, encryption="required")
    ukraine(config)["lines"]["consultation"]["recording"] = {"enabled": True}
    path = tmp_path_factory.mktemp("phones") / "encrypted.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    try:
        asterisk.sandbox.up(load(path), progress)
        yield path
    finally:
        asterisk.sandbox.up(deployment, progress)


@pytest.fixture
def baresip(encrypted: Path, asterisk: Asterisk, tmp_path: Path) -> Iterator[Baresip]:
    """op3's softphone: baresip, registered (it quits, and so unregisters, at the end)."""
    folder = tmp_path / "baresip"
    folder.mkdir()
    phone = Baresip(
        "op3",
        asterisk.secrets["HOTLINE_SIP_PASSWORD_OP3"],
        folder=folder,
        ca=asterisk.sandbox.certificate_authority,
        tone_hz=OPERATOR_TONE,
    ).start()
    try:
        deadline = time.monotonic() + 10
        while not contacts(asterisk, "op3"):
            assert phone.running and time.monotonic() < deadline, phone.output()[-3000:]
            time.sleep(0.2)
        yield phone
    finally:
        phone.stop()


async def test_a_real_softphone_registers_over_tls_and_talks_srtp(
    service: Service, baresip: Baresip, asterisk: Asterisk, encrypted: Path
) -> None:
    """An operator on baresip, on a hotline that requires encryption: the phone registers
    over TLS and is rung for a queued caller with SRTP only; it answers, each side hears the
    other (a tone each) through SRTP, and the call's recording holds both voices."""
    found = contacts(asterisk, "op3")
    # as Asterisk saw it, not as the phone claimed
    assert len(found) == 1 and found[0].endswith(";transport=TLS"), found
    service.start(config=encrypted)
    service.login("op3")
    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000, speaks=True))
    # the operator hangs up once their phone has heard 3 s of the caller (8 kHz, 16 bit)
    deadline = time.monotonic() + 60
    while (heard := baresip.heard()) is None or heard.stat().st_size < 44 + 3 * 8000 * 2:
        assert time.monotonic() < deadline and not caller.done(), (
            f"{baresip.output()[-2000:]}\n--- the caller: "
            f"{caller.result().output[-1500:] if caller.done() else 'on the line'}"
            f"\n--- Asterisk:\n{asterisk.log.read_text(errors='replace')[-4000:]}"
        )
        await asyncio.sleep(0.3)
    assert "terminate call" in (answer := baresip.hang_up()), answer
    placed = await caller
    record = service.record(placed.call_id)
    assert record["line"] == "consultation" and record["queued"], record
    assert record["outcome"] == "answered" and record["operator"] == "op3", record

    # rung once, over TLS, offered SRTP only (RTP/SAVP, with an SDES key)
    (invite,) = baresip.received("INVITE")
    assert invite.startswith("TLS 127.0.0.1:5061 -> "), invite
    assert re.search(r"^m=audio \d+ RTP/SAVP ", invite, re.MULTILINE), invite
    assert re.search(r"^a=crypto:\d+ AES_CM_128_HMAC_SHA1_\d+ inline:", invite, re.MULTILINE)
    # the phone decrypted the caller's voice...
    voice = AudioSegment.from_file(io.BytesIO(heard.read_bytes()), format="wav")
    assert len(voice) >= 3000
    assert tone_level(voice, CALLER_TONE) > 0.9 and tone_level(voice, NEITHER) < 0.01
    # ...and Asterisk the phone's: the recording holds both voices
    wait_for_event(service, record["id"], "recording.stored")
    got = service.get_as(service.token, f"/api/calls/{record['id']}/recording")
    assert got.status_code == 200, got.text
    kind = "mp3" if got.headers["content-type"] == "audio/mpeg" else "wav"
    recording = AudioSegment.from_file(io.BytesIO(got.content), format=kind)
    levels = {hertz: tone_level(recording, hertz) for hertz in (CALLER_TONE, OPERATOR_TONE)}
    # baresip says its tone at half of full scale, SIPp at 0.3: the caller has about a third
    # of the power (under load a recording once lost most of a second of one side: a margin)
    assert levels[CALLER_TONE] > 0.1 and levels[OPERATOR_TONE] > 0.1, levels
    assert tone_level(recording, NEITHER) < 0.01


async def test_registration_over_udp_is_refused_when_encryption_is_required(
    encrypted: Path, phone: Callable[..., SoftPhone], asterisk: Asterisk, service: Service
) -> None:
    """On a hotline that requires encryption, a phone that registers over plain UDP is not
    let in, even with the right password: only the carrier may use UDP. (Asterisk cannot
    refuse a phone by transport: the rendered nftables table drops it before Asterisk sees
    it.) The carrier's calls still come in over UDP."""
    service.start(config=encrypted)
    mark = asterisk.log_mark()
    with pytest.raises(RuntimeError, match="could not register"):
        phone("op3")  # SIPp, over UDP to 127.0.0.1:5060
    assert contacts(asterisk, "op3") == []
    assert "op3@" not in asterisk.log_since(mark)  # dropped before Asterisk saw it
    ruleset = subprocess.run(
        ["nft", "list", "table", "inet", "hotline"], capture_output=True, text=True, check=True
    ).stdout
    assert "udp dport 5060 drop" in ruleset, ruleset
    placed = await call("0800213103", "14", hold_ms=2000)  # the carrier, over UDP
    assert service.record(placed.call_id)["line"] == "information"
