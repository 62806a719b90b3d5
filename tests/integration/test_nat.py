"""An operator behind NAT, on one machine: the softphone runs in a network namespace of its own
behind a router namespace that masquerades it, so its Contact and SDP name an address
(10.77.0.2) Asterisk has no route to; only the router's mapping (192.0.2.2) reaches it.

    this process's namespace      router namespace                  phone namespace
    Asterisk, the service,        outside 192.0.2.2  (masquerade)   eth0 10.77.0.2
    the caller (127.0.0.2)  ----  inside  10.77.0.1  -------------  default via 10.77.0.1
    nat-pub 192.0.2.1/24
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from bench.sipcall import CALLER_TONE, OPERATOR_TONE, SoftPhone
from hotline.calls.audio import AudioSegment
from hotline.config.deployment import Deployment
from hotline.config.loading import load
from tests import isolation
from tests.conftest import ukraine
from tests.integration.conftest import Asterisk, Service, base_config, call
from tests.integration.test_recordings import CONSULTATION, wait_for_event

#: Asterisk's side, in this process's namespace (RFC 5737 documentation addresses).
PUBLIC = "192.0.2.1"
#: The router's outside address: all Asterisk ever sees of the phone.
OUTSIDE = "192.0.2.2"
ROUTER_INSIDE, PHONE = "10.77.0.1", "10.77.0.2"
#: The router maps the phone's UDP ports into these, so not even the port in its Via and
#: Contact is right.
NAT_PORTS = range(40000, 50000)
#: Asterisk's RTP ports (asterisk-config/rtp.conf).
RTP_PORTS = "10000-20000"


def run(command: str, stdin: str | None = None) -> str:
    """Run a command line (words split on spaces); its output."""
    done = subprocess.run(command.split(), input=stdin, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class Nat:
    """The router's and the phone's namespaces, and the config Asterisk runs with now."""

    router: str
    phone: str
    config: Path

    def heard(self) -> int:
        """RTP packets from Asterisk that reached the phone (counted in its namespace)."""
        out = run(f"ip netns exec {self.phone} nft -j list counter ip phone heard")
        (packets,) = [
            i["counter"]["packets"] for i in json.loads(out)["nftables"] if "counter" in i
        ]
        return int(packets)


def build(router: str, phone: str) -> None:
    """The router and the phone (the picture above), wired to this process's namespace."""
    for name in (router, phone):
        run(f"ip netns add {name}")
        run(f"ip -n {name} link set lo up")
    # the router's outside end; its peer goes into this process's namespace (that of its
    # main thread, where tests/isolation.py put it and where Asterisk runs)
    run(f"ip -n {router} link add outside type veth peer name nat-pub netns {os.getpid()}")
    run(f"ip -n {router} link add inside type veth peer name eth0 netns {phone}")
    run(f"ip addr add {PUBLIC}/24 dev nat-pub")
    run("ip link set nat-pub up")
    for name, device, address in (
        (router, "outside", f"{OUTSIDE}/24"),
        (router, "inside", f"{ROUTER_INSIDE}/24"),
        (phone, "eth0", f"{PHONE}/24"),
    ):
        run(f"ip -n {name} addr add {address} dev {device}")
        run(f"ip -n {name} link set {device} up")
    run(f"ip -n {phone} route add default via {ROUTER_INSIDE}")
    run(f"ip netns exec {router} sysctl -qw net.ipv4.ip_forward=1")
    ports = f"{NAT_PORTS.start}-{NAT_PORTS.stop - 1}"
    masquerade = f"""
        table ip nat {{
          chain postrouting {{
            type nat hook postrouting priority srcnat; policy accept;
            oifname "outside" meta l4proto udp masquerade to :{ports}
            oifname "outside" masquerade
          }}
        }}
    """
    run(f"ip netns exec {router} nft -f -", stdin=masquerade)
    count = f"""
        table ip phone {{
          counter heard {{}}
          chain input {{
            type filter hook input priority filter; policy accept;
            ip saddr {PUBLIC} udp sport {RTP_PORTS} counter name heard
          }}
        }}
    """
    run(f"ip netns exec {phone} nft -f -", stdin=count)


def nat_config(folder: Path) -> Path:
    """The default deployment with SIP on every interface (the phone comes in on nat-pub, the
    carrier still on 127.0.0.1) and the consultation line recorded."""
    config = base_config()
    config["sip"]["bind"] = "0.0.0.0"
    ukraine(config)["lines"]["consultation"]["recording"] = {"enabled": True}
    path = folder / "nat.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True))
    return path


@pytest.fixture
def nat(asterisk: Asterisk, deployment: Deployment, tmp_path: Path) -> Iterator[Nat]:
    with behind_nat(asterisk, deployment, tmp_path) as found:
        yield found


@contextlib.contextmanager
def behind_nat(asterisk: Asterisk, deployment: Deployment, tmp_path: Path) -> Iterator[Nat]:
    """The router and the phone's namespaces, and this process's Asterisk restarted to listen
    on every interface; afterwards the namespaces are gone (with what ran in them and the
    veth pairs) and Asterisk runs the default config again."""
    router, phone = (f"{isolation.PREFIX}{os.getpid()}-{role}" for role in ("router", "phone"))
    try:
        build(router, phone)
        config = nat_config(tmp_path)
        asterisk.sandbox.up(load(config), lambda _: None)
        try:
            yield Nat(router, phone, config)
        finally:
            asterisk.sandbox.up(deployment, lambda _: None)
    finally:
        for name in (phone, router):
            isolation.remove_namespace(name)


def registered_at(asterisk: Asterisk, aor: str) -> tuple[str, int]:
    """The host and port of the contact Asterisk keeps for ``aor``."""
    out = asterisk.sandbox.cli(f"pjsip show aor {aor}").stdout
    match = re.search(rf"^\s*contact\s*:\s*sip:{aor}@([^:;>\s]+):(\d+)", out, re.MULTILINE)
    assert match, out
    return match[1], int(match[2])


def recorded_levels(service: Service, call_id: str, *hertz: float) -> dict[float, float]:
    """Each frequency's share of the power of the call's recording (:func:`tone_level`), once
    it is stored, as a supervisor downloads it."""
    wait_for_event(service, call_id, "recording.stored")
    got = service.get_as(service.token, f"/api/calls/{call_id}/recording")
    assert got.status_code == 200, got.text
    kind = "mp3" if got.headers["content-type"] == "audio/mpeg" else "wav"
    audio = AudioSegment.from_file(io.BytesIO(got.content), format=kind)
    return {h: tone_level(audio, h) for h in hertz}


def tone_level(audio: AudioSegment, hertz: float) -> float:
    """The share of the audio's power at ``hertz`` (0 to 1), averaged over its non-silent
    50 ms blocks (a Goertzel filter; a block holds whole cycles of any tone on a 20 Hz grid,
    so a pure tone there scores 1 and two equal ones 0.5 each)."""
    block = audio.frame_rate // 20
    samples = audio.set_channels(1).get_array_of_samples()
    coefficient = 2 * math.cos(2 * math.pi * hertz / audio.frame_rate)
    shares = []
    for start in range(0, len(samples) - block + 1, block):
        s1 = s2 = energy = 0.0
        for x in samples[start : start + block]:
            s1, s2 = x + coefficient * s1 - s2, s1
            energy += x * x
        if energy:
            shares.append((s1 * s1 + s2 * s2 - coefficient * s1 * s2) / (energy * block / 2))
    assert shares, "the recording is silent"
    return float(sum(shares) / len(shares))


async def test_a_phone_behind_nat_answers_and_talks_both_ways(
    nat: Nat, service: Service, phone: Callable[..., SoftPhone], asterisk: Asterisk
) -> None:
    """An operator working from behind a home router is rung, answers, hears the caller and
    is heard (the call's recording holds both voices), and the call ends as answered."""
    service.start(config=nat.config)
    op3 = phone(
        "op3",
        address=PHONE,
        port=5060,
        target=f"{PUBLIC}:5060",
        netns=nat.phone,
        talk_ms=6000,
        speaks=True,
    )
    # Asterisk keeps where the REGISTER came from (rewrite_contact), not what it said
    host, port = registered_at(asterisk, "op3")
    assert host == OUTSIDE and port in NAT_PORTS, (host, port)
    service.login("op3")  # reachable: Asterisk's qualify pings cross the NAT and are answered

    heard = nat.heard()
    placed = await call(*CONSULTATION, hold_ms=60_000, speaks=True)
    assert op3.answered() == 1, placed.output
    record = service.record(placed.call_id)
    assert record["outcome"] == "answered" and record["operator"] == "op3", record
    assert record["talk"] >= 5, record  # until the operator hung up (a BYE through the NAT)
    # the caller's voice reached the phone through the NAT (rtp_symmetric): 2 s of 20 ms
    # packets at least, of the 6 s talk
    assert nat.heard() - heard >= 100
    # and the operator's reached Asterisk: the recording holds both tones, half and half
    levels = recorded_levels(service, record["id"], OPERATOR_TONE, CALLER_TONE, 2300)
    assert levels[OPERATOR_TONE] > 0.25 and levels[CALLER_TONE] > 0.25, levels
    assert levels[2300] < 0.01, levels  # and no tone where nobody spoke
