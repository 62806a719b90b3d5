"""An operator with nothing but a browser: Debian's Chromium (headless, its fake microphone fed
from a WAV of a known tone) logs in to the desk; the desk's phone registers over secure
WebSocket with the credentials the service handed its session; a SIPp caller (a tone of
their own) is queued and the browser rings with the caller on screen; the operator answers
with a click; each side hears the other (the browser's WebRTC figures; the call's recording
holds the browser's tone); mute sends silence, hold plays the caller music; hang up ends the
call answered, with its talk time; a transfer from the desk; one place rings (tabs,
browsers, a closed tab); behind a NAT that lets nothing but TURN out, the media goes through
coturn. The phone's credentials end with the desk's session. Screenshots of the desk ringing
and in a call in test-artifacts/ (docs/desk.md shows them)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Page, async_playwright, expect
from pydub.generators import Sine

from bench.sipcall import CALLER_TONE, SoftPhone
from hotline.asterisk.desk import DeskPhones
from hotline.config.deployment import Deployment
from tests.integration.conftest import CHROMIUM, Asterisk, Service, call
from tests.integration.test_dashboard import ARTIFACTS
from tests.integration.test_desk import open_desk
from tests.integration.test_nat import PUBLIC, Nat, behind_nat, recorded_levels, run
from tests.integration.test_recordings import CONSULTATION, recorded_config

OP3 = "operator-op3-browser-phone-2026"
#: The browser's microphone (the caller's: bench.sipcall.CALLER_TONE, 1000 Hz).
BROWSER_TONE = 700.0

#: What the browser received and sent on the call's audio, from its RTCPeerConnection.
AUDIO = """
async () => {
  const pc = window.phoneSession && window.phoneSession.connection;
  if (!pc) return null;
  const out = { inbound: 0, level: 0, outbound: 0, sent: 0, codec: "" };
  const codecs = {};
  (await pc.getStats()).forEach((r) => {
    if (r.type === "codec") codecs[r.id] = r.mimeType;
    if (r.type === "inbound-rtp" && r.kind === "audio") {
      out.inbound = r.packetsReceived; out.level = r.audioLevel ?? 0; out.codec = r.codecId;
    }
    if (r.type === "outbound-rtp" && r.kind === "audio") out.outbound = r.packetsSent;
    if (r.type === "media-source" && r.kind === "audio") out.sent = r.audioLevel ?? 0;
  });
  out.codec = codecs[out.codec] ?? "";
  out.ice = pc.iceConnectionState;
  return out;
}
"""


#: The office network of the test's namespace (which has the loopback alone otherwise: ICE
#: offers no loopback candidate, in Asterisk or in Chromium).
LAN = "10.199.0.1/24"


@pytest.fixture
def lan(asterisk: Asterisk) -> Iterator[str]:
    """An interface of the office's network in this test process's namespace, where both the
    browser and Asterisk are: the host candidates ICE pairs."""
    subprocess.run(["ip", "link", "del", "hotline-lan"], capture_output=True, check=False)
    for command in (
        # (a veth pair: this kernel has no dummy interfaces)
        ["ip", "link", "add", "hotline-lan", "type", "veth", "peer", "name", "hotline-lan-1"],
        ["ip", "addr", "add", LAN, "dev", "hotline-lan"],
        ["ip", "link", "set", "hotline-lan-1", "up"],
        ["ip", "link", "set", "hotline-lan", "up"],
    ):
        subprocess.run(command, capture_output=True, check=True)
    yield LAN.partition("/")[0]
    subprocess.run(["ip", "link", "del", "hotline-lan"], capture_output=True, check=False)


@contextlib.asynccontextmanager
async def chromium(
    folder: Path, namespace: str | None = None, secure: str | None = None
) -> AsyncIterator[Browser]:
    """Chromium with a fake microphone playing BROWSER_TONE, granted without a prompt, and
    the sandbox's own certificate authority accepted (an operator's browser trusts the
    deployment's real certificate: docs/operations.md); in network namespace ``namespace``
    (None: this process's). ``secure``: an http:// origin the browser lets use the microphone
    as if it were https:// (what the desk behind the deployment's TLS proxy is)."""
    tone = folder / "microphone.wav"
    sound = Sine(BROWSER_TONE, sample_rate=48_000).to_audio_segment(duration=60_000, volume=-8)
    sound.set_channels(1).set_sample_width(2).export(tone, format="wav").close()
    executable = CHROMIUM
    if namespace is not None:  # (Playwright speaks to it over pipes: any namespace will do)
        wrapper = folder / "chromium-in-namespace"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {namespace} {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        executable = str(wrapper)
    async with async_playwright() as playwright:
        found = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--ignore-certificate-errors",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={tone}",
                "--autoplay-policy=no-user-gesture-required",
                *([f"--unsafely-treat-insecure-origin-as-secure={secure}"] if secure else []),
            ],
        )
        try:
            yield found
        finally:
            await found.close()


@pytest.fixture
async def browser(tmp_path: Path, lan: str) -> AsyncIterator[Browser]:
    async with chromium(tmp_path) as found:
        yield found


async def audio(page: Page, until: Any, seconds: float = 20) -> dict[str, Any]:
    """The browser's audio figures, once ``until`` holds of them."""
    deadline = time.monotonic() + seconds
    while True:
        found = await page.evaluate(AUDIO)
        if found and until(found):
            return dict(found)
        assert time.monotonic() < deadline, repr(found)
        await asyncio.sleep(0.3)


async def test_an_operator_takes_a_call_in_the_browser_alone(
    service: Service, browser: Browser, asterisk: Asterisk
) -> None:
    service.settings["HOTLINE_API_TOKENS"] = f"operator:op3={OP3}"
    service.start(config=recorded_config(service.data_dir))
    page = await open_desk(browser, service, OP3)
    page.on("console", lambda m: print(f"browser {m.type}: {m.text}"))  # (shown if it fails)
    page.on("pageerror", lambda e: print(f"browser error: {e}"))
    state = page.locator("#phone-state")
    await expect(state).to_have_attribute("data-state", "ready", timeout=20_000)
    contacts = asterisk.sandbox.cli("pjsip show contacts").stdout
    assert "op3.desk/sip:" in contacts and "op3/sip:" not in contacts  # no softphone at all
    service.login("op3")  # reachable: through the desk's phone alone

    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000, speaks=True))
    await expect(page.locator("#phone-state")).to_have_attribute(
        "data-state", "ringing", timeout=60_000
    )
    await expect(page.locator("#call[data-state=ringing]")).to_be_visible()  # the screen pop
    assert service.agent("op3")["state"] == "ringing"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "desk-phone-ringing.png"), full_page=True)

    await page.click("#phone-answer")
    await expect(page.locator("#phone-state")).to_have_attribute("data-state", "talking")
    await expect(page.locator("#call[data-state=talking]")).to_be_visible(timeout=10_000)
    # the caller's voice reaches the browser, decrypted (DTLS-SRTP), with a level
    heard = await audio(page, lambda a: a["inbound"] > 100 and a["level"] > 0.01)
    assert heard["codec"] in ("audio/opus", "audio/PCMU", "audio/PCMA"), heard
    await page.screenshot(path=str(ARTIFACTS / "desk-phone-talking.png"), full_page=True)
    level = await page.locator("#phone-level").evaluate("(m) => m.value")
    assert level > 0, "the level meter shows the microphone"

    # muted: what the browser sends is silence; then the operator speaks again
    await audio(page, lambda a: a["sent"] > 0.01)
    await page.wait_for_timeout(2000)
    await page.click("#phone-mute")
    await expect(page.locator("#phone-mute")).to_have_text("Unmute")
    await audio(page, lambda a: a["sent"] == 0)
    await page.wait_for_timeout(1000)
    await page.click("#phone-mute")
    await audio(page, lambda a: a["sent"] > 0.01)
    # on hold: the caller hears Asterisk's music; resumed: the operator again
    mark = asterisk.log_mark()
    await page.click("#phone-hold")
    await expect(page.locator("#phone-hold")).to_have_text("Resume")
    deadline = time.monotonic() + 10
    music = "Started music on hold, class 'default', on channel 'PJSIP/trunk-"
    while music not in asterisk.log_since(mark):
        assert time.monotonic() < deadline, "the caller heard no music while held"
        await asyncio.sleep(0.3)
    await page.click("#phone-hold")
    await expect(page.locator("#phone-hold")).to_have_text("Hold")
    await page.wait_for_timeout(2000)
    await page.click("#phone-hangup")
    await expect(page.locator("#phone-state")).to_have_attribute("data-state", "ready")

    placed = await caller
    record = service.record(placed.call_id)
    assert record["outcome"] == "answered" and record["operator"] == "op3", record
    assert record["talk"] >= 6, record
    # the browser's tone reached the caller's side: the call's recording holds it
    levels = recorded_levels(service, record["id"], BROWSER_TONE, CALLER_TONE, 2300.0)
    # (the browser's noise suppression takes much of a steady tone, as it would of a fan's
    # hum: what is left is still far above a frequency nobody sent)
    assert levels[CALLER_TONE] > 0.1 and levels[BROWSER_TONE] > 0.02, levels
    assert levels[2300.0] < levels[BROWSER_TONE] / 1000, levels

    # logging out of the desk ends the phone's credentials (and its registration)
    await page.click("#logout")
    phones = DeskPhones(service_spool(service))
    deadline = time.monotonic() + 10
    while phones.holds("op3"):
        assert time.monotonic() < deadline, "the desk's phone kept its credentials"
        await asyncio.sleep(0.2)


def service_spool(service: Service) -> Path:
    return service.asterisk.sandbox.settings.spool_of_asterisk() / "hotline"


#: What ICE chose: the browser's side of the pair (host, srflx, prflx or relay).
PAIR = """
async () => {
  const pc = window.phoneSession && window.phoneSession.connection;
  if (!pc) return null;
  const stats = await pc.getStats();
  const byId = {};
  stats.forEach((r) => { byId[r.id] = r; });
  let pair = null;
  stats.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) pair = byId[r.selectedCandidatePairId];
  });
  if (!pair) return null;
  const local = byId[pair.localCandidateId] || {};
  return { local: local.candidateType, address: local.address, received: pair.bytesReceived };
}
"""

TURN_SECRET = "Qv7rT2mZp9kXw4Ls-office-relay"


@pytest.fixture
def nat(asterisk: Asterisk, deployment: Deployment, tmp_path: Path) -> Iterator[Nat]:
    """The office behind its router (tests/integration/test_nat.py), Asterisk on every
    interface."""
    with behind_nat(asterisk, deployment, tmp_path) as found:
        yield found


@pytest.fixture
def coturn(nat: Nat, tmp_path: Path) -> Iterator[Path]:
    """Debian's coturn on Asterisk's public address, with the shared secret the service makes
    the desk phones' credentials with (its log's path)."""
    log = tmp_path / "coturn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["turnserver", "-n", f"--listening-ip={PUBLIC}", f"--relay-ip={PUBLIC}",
             "--listening-port=3478", "--use-auth-secret", f"--static-auth-secret={TURN_SECRET}",
             "--realm=hotline", "--no-tls", "--no-dtls", "--no-cli", "--fingerprint",
             "--min-port=30000", "--max-port=30200", "--log-file=stdout", "--simple-log",
             "--verbose"],  # (it logs each allocation's user name)
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while f"{PUBLIC}:3478" not in run("ss -Huln"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield log
    finally:
        process.terminate()
        process.wait(10)


async def test_behind_a_nat_that_passes_nothing_but_turn_the_media_goes_through_the_relay(
    service: Service, asterisk: Asterisk, nat: Nat, coturn: Path, tmp_path: Path
) -> None:
    """The operator's browser in a namespace of its own behind a masquerading router that
    lets out the desk (HTTP, WSS) and the TURN server and no other UDP: the phone relays its
    media through coturn with the credentials the service handed its session, and each side
    hears the other."""
    config = yaml.safe_load(nat.config.read_text())
    config["phones"]["turn"] = {"urls": [f"turn:{PUBLIC}:3478?transport=udp"]}
    turned = tmp_path / "turn.yaml"
    turned.write_text(yaml.safe_dump(config, allow_unicode=True))
    office = """
        table inet office {
          counter direct {}
          chain forward {
            type filter hook forward priority filter; policy accept;
            iifname "inside" udp dport 3478 accept
            iifname "inside" meta l4proto udp counter name direct drop
          }
        }
    """
    run(f"ip netns exec {nat.router} nft -f -", stdin=office)
    service.settings |= {
        "HOTLINE_API_TOKENS": f"operator:op3={OP3}",
        "HOTLINE_API_HOST": "0.0.0.0",  # (the office reaches the desk at the public address)
        "HOTLINE_TURN_SECRET": TURN_SECRET,
    }
    service.start(config=turned)
    desk = f"http://{PUBLIC}:{service.api_port}"
    async with chromium(tmp_path, nat.phone, secure=desk) as browser:
        page = await browser.new_page(locale="en-GB", viewport={"width": 1200, "height": 1000})
        page.on("console", lambda m: print(f"browser {m.type}: {m.text}"))  # (shown if it fails)
        await page.goto(f"{desk}/desk")
        await page.fill("#token", OP3)
        await page.click("#login-form button[type=submit]")
        state = page.locator("#phone-state")
        await expect(state).to_have_attribute("data-state", "ready", timeout=20_000)
        service.login("op3")
        caller = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000, speaks=True))
        await expect(state).to_have_attribute("data-state", "ringing", timeout=60_000)
        await page.click("#phone-answer")
        # both ways: the caller's voice heard, the operator's sent
        await audio(page, lambda a: min(a["inbound"], a["outbound"]) > 100 and a["level"] > 0.01)
        pair = await page.evaluate(PAIR)
        assert pair and pair["local"] == "relay" and pair["address"] == PUBLIC, pair
        await page.wait_for_timeout(3000)
        await page.click("#phone-hangup")
        await expect(state).to_have_attribute("data-state", "ready")
    placed = await caller
    record = service.record(placed.call_id)
    assert record["outcome"] == "answered" and record["operator"] == "op3", record
    # the browser tried the direct way too: the router let none of it out
    counters = run(f"ip netns exec {nat.router} nft list counter inet office direct")
    assert int(counters.split("packets ")[1].split()[0]) > 0, counters
    # coturn relayed for the session's credentials: "<expiry>:op3"
    assert ":op3" in coturn.read_text(), coturn.read_text()[-3000:]


async def test_one_place_rings_and_a_closed_desk_leaves_no_phone_behind(
    service: Service, browser: Browser, asterisk: Asterisk
) -> None:
    """A second tab of the same browser takes the phone over (the first says so); a second
    browser gets new credentials and the first's stop working; a closed tab's registration
    goes with its connection, and the operator shows as unreachable."""
    service.settings["HOTLINE_API_TOKENS"] = f"operator:op3={OP3}"
    service.start()
    tabs = await browser.new_context(locale="en-GB")
    first = await tabs.new_page()
    await first.goto(service.url("/desk"))
    await first.fill("#token", OP3)
    await first.click("#login-form button[type=submit]")
    await expect(first.locator("#phone-state")).to_have_attribute("data-state", "ready")
    service.login("op3")
    second = await tabs.new_page()
    await second.goto(service.url("/desk"))  # (the same session: its cookie)
    await expect(second.locator("#phone-state")).to_have_attribute("data-state", "ready")
    await expect(first.locator("#phone-state")).to_have_attribute("data-state", "elsewhere")

    def contacts() -> list[str]:
        shown = asterisk.sandbox.cli("pjsip show contacts").stdout
        return [line for line in shown.splitlines() if "op3.desk/sip:" in line]

    deadline = time.monotonic() + 10
    while len(contacts()) != 1:  # the first tab's registration is gone, the second's holds
        assert time.monotonic() < deadline, contacts()
        await asyncio.sleep(0.2)

    # another browser (another session): new credentials; the second tab's are refused at
    # its next registration, and it is not rung meanwhile
    other = await open_desk(browser, service, OP3)
    await expect(other.locator("#phone-state")).to_have_attribute("data-state", "ready")
    await second.evaluate("() => phone.ua.register()")
    await expect(second.locator("#phone-state")).to_have_attribute("data-state", "failed")
    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=8000))
    await expect(other.locator("#phone-state")).to_have_attribute(
        "data-state", "ringing", timeout=60_000
    )
    assert await second.locator("#phone-state").get_attribute("data-state") == "failed"
    await other.click("#phone-hangup")  # (declined: the caller waits again, then leaves)
    await caller

    # the tab closed: its connection, and the registration with it, are gone
    await other.close()
    deadline = time.monotonic() + 20
    while contacts() or service.agent("op3")["reachable"]:
        assert time.monotonic() < deadline, (contacts(), service.agent("op3"))
        await asyncio.sleep(0.3)


async def test_a_call_answered_in_the_browser_is_transferred_from_the_desk(
    service: Service, browser: Browser, phone: Callable[..., SoftPhone]
) -> None:
    """op3 answers in the browser and transfers the caller to the detention line from the
    desk; op1 (a SIPp softphone) answers them there; the browser's call ends. The next caller
    op3 transfers with the page's keypad (## and the line's code, as on any phone)."""
    service.settings["HOTLINE_API_TOKENS"] = f"operator:op3={OP3}"
    service.start()
    phone("op1", talk_ms=3000)  # Chernivtsi: detention
    page = await open_desk(browser, service, OP3)
    await expect(page.locator("#phone-state")).to_have_attribute("data-state", "ready")
    service.login("op3", "op1")
    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000))
    await expect(page.locator("#phone-state")).to_have_attribute(
        "data-state", "ringing", timeout=60_000
    )
    await page.click("#phone-answer")
    await expect(page.locator("#call[data-state=talking]")).to_be_visible(timeout=10_000)
    await page.select_option("#transfer-to", "line:detention")
    await page.click("#transfer")
    await expect(page.locator("#transfer-result")).to_have_attribute("data-ok", "true")
    await expect(page.locator("#phone-state")).to_have_attribute("data-state", "ready")
    moved = service.record((await caller).call_id, wait=60)
    assert (moved["line"], moved["operator"], moved["transfers"][0]["by"]) == (
        "detention",
        "op1",
        "op3",
    )

    # the next caller, transferred with the page's keypad (DTMF from the browser): ## and 2,
    # the detention line's code
    caller = asyncio.create_task(call(*CONSULTATION, hold_ms=60_000))
    await expect(page.locator("#phone-state")).to_have_attribute(
        "data-state", "ringing", timeout=60_000
    )
    await page.click("#phone-answer")
    await expect(page.locator("#phone-keypad")).to_be_visible()
    await page.wait_for_timeout(1000)
    for key, then in (("#", 150), ("#", 1500), ("2", 0)):  # (## within a second: a feature)
        await page.click(f"#phone-keypad button[data-key='{key}']")
        await page.wait_for_timeout(then)
    keyed = service.record((await caller).call_id, wait=60)
    assert (keyed["line"], keyed["operator"]) == ("detention", "op1"), keyed
    (leg,) = keyed["transfers"]
    assert (leg["operator"], leg["to"], leg["mode"]) == ("op3", "detention", "blind"), leg
