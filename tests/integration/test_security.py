"""What docs/security.md promises, against the real Asterisk: phones authenticate with their own
password, operators and supervisors dial nothing but their codes, AMI is the service's alone
and cannot stop or read Asterisk, weak secrets stop the service before it opens anything, and
the service's log never holds a caller's number.

(An INVITE from an unknown address, and the API's token: test_asterisk_link.)"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.sipcall import SoftPhone
from tests.conftest import ROOT
from tests.integration.conftest import Asterisk, Service, call, free_tcp_port
from tests.integration.register import register


def test_register_with_a_wrong_password_or_as_an_unknown_user_is_refused(
    asterisk: Asterisk, tmp_path: Path
) -> None:
    mark = asterisk.log_mark()
    password = asterisk.secrets["HOTLINE_SIP_PASSWORD_OP1"]
    assert register(tmp_path, "op1", password + "x") in (401, 403)
    assert register(tmp_path, "op1", "") in (401, 403)
    assert register(tmp_path, "intruder", password) in (401, 403)
    assert register(tmp_path, "op1", asterisk.secrets["HOTLINE_SIP_PASSWORD_OP2"]) in (401, 403)
    contacts = asterisk.sandbox.cli("pjsip show contacts").stdout
    assert "op1/" not in contacts and "intruder" not in contacts, contacts
    log = asterisk.log_since(mark)
    assert "Failed to authenticate" in log, log[-3000:]
    assert "'<sip:intruder@127.0.0.1>' failed" in log and "No matching endpoint found" in log
    # the same scenario with op1's own password registers: the refusals were the passwords
    assert register(tmp_path, "op1", password) == 200
    assert "op1/" in asterisk.sandbox.cli("pjsip show contacts").stdout
    assert register(tmp_path, "op1", password, expires=0) == 200


async def test_phones_dial_nothing_but_their_codes(
    asterisk: Asterisk, service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    op1 = phone("op1")
    sup1 = phone("sup1")
    # an operator's phone is no way out to the hotline, another phone or the trunk
    for number in ("0800213103", "op2", "380501234567"):
        assert op1.dial(number) != 0, number
    # a supervisor's phone dials nothing, not even the operators' codes
    assert sup1.dial("*11") != 0
    assert service.agent("op1")["state"] == "logged_out"
    assert service.get("/api/calls") == []
    # while an operator's own code works
    assert op1.dial("*11") == 0 and service.agent("op1")["state"] == "available"


# -- AMI ------------------------------------------------------------------------------------
def ami(source: str, secret: str, *actions: dict[str, str]) -> list[dict[str, str]]:
    """Log in to AMI from ``source`` as the service's user, send ``actions``; every reply
    (the login's first)."""

    def send(sock: socket.socket, fields: dict[str, str]) -> None:
        sock.sendall(("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode())

    def reply(reader: socket.SocketIO) -> dict[str, str]:
        fields: dict[str, str] = {}
        while True:
            raw = reader.readline()
            assert raw, f"AMI closed the connection (so far: {fields})"
            line = raw.decode(errors="replace").rstrip("\r\n")
            if not line:
                if fields:
                    return fields
                continue
            key, _, value = line.partition(": ")
            fields.setdefault(key, value)

    with socket.socket() as sock:
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", 5038))
        reader = socket.SocketIO(sock, "rb")
        assert reader.readline().startswith(b"Asterisk Call Manager")
        replies = []
        for number, fields in enumerate(
            [
                {"Action": "Login", "Username": "hotline", "Secret": secret, "Events": "off"},
                *actions,
            ]
        ):
            send(sock, {**fields, "ActionID": f"t{number}"})
            found = reply(reader)
            while found.get("ActionID") != f"t{number}":  # an event, not the reply
                found = reply(reader)
            replies.append(found)
            if found.get("Response") != "Success" and number == 0:
                break
        return replies


def test_ami_is_the_services_alone_and_cannot_stop_or_read_asterisk(asterisk: Asterisk) -> None:
    # every TCP port Asterisk listens on (AMI, SIP over TLS, the desk phone's secure WebSocket
    # and the plain HTTP port Asterisk always opens beside it) and its SIP port are on the
    # loopback address (its other UDP sockets are clients: pjsip's DNS resolver, a call's RTP)
    listening = subprocess.run(
        ["ss", "-Hltunp"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    tcp = [line.split()[4] for line in listening if '"asterisk"' in line and "tcp" in line]
    sip = [line.split()[4] for line in listening if '"asterisk"' in line and ":5060 " in line]
    assert sorted(tcp) == [
        "127.0.0.1:5038",
        "127.0.0.1:5061",
        "127.0.0.1:8088",
        "127.0.0.1:8089",
    ], listening
    assert sip == ["127.0.0.1:5060"], listening
    installed = asterisk.sandbox.root / "etc/asterisk/manager.conf"
    assert re.search(r"^bindaddr\s*=\s*127\.0\.0\.1$", installed.read_text(), re.M)
    settings = asterisk.sandbox.cli("manager show settings").stdout
    assert re.search(r"TCP Bindaddress:\s+127\.0\.0\.1:5038", settings), settings

    secret = asterisk.secrets["HOTLINE_AMI_SECRET"]
    login, *refused = ami(
        "127.0.0.1",
        secret,
        {"Action": "Command", "Command": "core stop now"},
        {"Action": "GetConfig", "Filename": "manager_hotline.conf"},
        {"Action": "UpdateConfig", "SrcFilename": "pjsip.conf", "DstFilename": "pjsip.conf"},
        {"Action": "Reload"},
        {"Action": "Ping"},
    )
    assert login["Response"] == "Success", login
    *system, ping = refused
    for answer in system:
        assert (answer["Response"], answer["Message"]) == ("Error", "Permission denied"), answer
    assert ping["Response"] == "Success"  # the session itself was fine
    assert asterisk.sandbox.running()
    assert "System uptime" in asterisk.sandbox.cli("core show uptime").stdout

    # the right secret from another address, or a wrong secret: no session at all
    (other_address,) = ami("127.0.0.2", secret, {"Action": "Ping"})
    assert (other_address["Response"], other_address["Message"]) == (
        "Error",
        "Authentication failed",
    )
    (wrong,) = ami("127.0.0.1", secret[::-1], {"Action": "Ping"})
    assert (wrong["Response"], wrong["Message"]) == ("Error", "Authentication failed")


# -- secrets --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("HOTLINE_AMI_SECRET", "password123", "11 characters, at least 12"),
        ("HOTLINE_AMI_SECRET", "Asterisk-2026-prod", "a well-known default"),
        ("HOTLINE_AMI_SECRET", "abcabcabcabcabc", "too few different characters"),
        ("HOTLINE_API_TOKEN", "changeme-Changeme-1", "a well-known default"),
    ],
)
def test_a_weak_secret_stops_the_service_before_it_opens_anything(
    tmp_path: Path, variable: str, value: str, why: str
) -> None:
    # outside the sandbox: a folder with no .cache/sandbox/secrets.env to fall back on
    port = free_tcp_port()
    env = {
        "PATH": "/usr/bin:/bin",
        # this tree's code, not whichever one the virtualenv's editable install points to
        "PYTHONPATH": str(ROOT),
        "HOTLINE_CONFIG": str(ROOT / "config/hotline.yaml"),
        "HOTLINE_DATA_DIR": str(tmp_path / "data"),
        "HOTLINE_API_PORT": str(port),
        "HOTLINE_AMI_SECRET": "Zq7x-4kLp-9wRt-ami",
        "HOTLINE_API_TOKEN": "Vb3n-8sQe-2yUo-api",
        variable: value,
    }
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "serve"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert f"{variable} is too weak" in done.stderr and why in done.stderr, done.stderr
    assert value not in done.stderr + done.stdout  # named, never printed
    assert time.monotonic() - started < 30
    assert not (tmp_path / "data/hotline.db").exists()  # nothing was opened


# -- the service's log ----------------------------------------------------------------------
async def test_the_service_log_never_holds_a_caller_number(
    asterisk: Asterisk, service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.start()
    op1 = phone("op1", talk_ms=2000)
    service.login("op1")
    callers = {
        "answered": "380671239876",
        "abandoned": "380931234019",  # consultations: op1 does not serve them
        "unknown number": "380661112284",
        "callback": "380501119907",
    }
    placed = await asyncio.gather(
        call("0800213103", "12", caller=callers["answered"], hold_ms=30_000),
        call("0800213103", "11", caller=callers["abandoned"], hold_ms=8000),
        # (the apology is said in each of the four languages: about 11 s)
        call("0999999999", "", caller=callers["unknown number"], hold_ms=20_000),
        # Georgian consultations: op1 does not serve them; 1 and # asks to be called back
        # on the number calling
        call("0322920055", "2www1w#", caller=callers["callback"], hold_ms=20_000),
    )
    records = [service.record(done.call_id, wait=30) for done in placed]
    assert (records[0]["outcome"], records[0]["operator"]) == ("answered", "op1")
    assert op1.answered() == 1
    assert records[1]["outcome"] == "abandoned"
    assert records[2]["outcome"] == "unknown-number"
    assert records[3]["callback_number"] == "+" + callers["callback"]  # (E.164, as logged)
    log = service.log.read_text()
    for kind, number in callers.items():
        # the record has it whole; the log at most its last two digits
        assert number not in log and number[-7:] not in log, (kind, number)
    for number in (callers["answered"], callers["abandoned"]):
        logged = "+" + number  # (kept in E.164, masked as it is kept)
        assert (
            f"from {'*' * (len(logged) - 2)}{logged[-2:]}:" in log
        )  # the log does tell of the call
