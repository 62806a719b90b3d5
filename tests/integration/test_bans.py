"""An address that keeps failing to log in over SIP is banned for a while (fail2ban on
Asterisk's security log, nftables on every port), while every other address keeps working;
and the attacker's own tools (Debian's sipvicious) learn nothing: svwar cannot tell which
user names exist, svcrack is banned long before it could guess a password."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hotline.config.deployment import Deployment
from hotline.running.firewall import JAIL, Fail2ban
from tests.integration.conftest import Asterisk, call, config_variant, progress
from tests.integration.register import register

#: Each test attacks from an address of its own: bans and counts of failures never mix.
GUESSER, FLOODER, SCANNER, CRACKER = "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"
#: The default's failures, a ban short enough to see it end.
FAILURES, BAN_SECONDS = 5, 15
#: The scanner is never banned: svwar must be answered for every name, or a ban would hide the
#: difference between names rather than show there is none.
BAN = {
    "failures": FAILURES,
    "within": 120,
    "seconds": BAN_SECONDS,
    "ignore": ["127.0.0.1", SCANNER],
}


@pytest.fixture(scope="module")
def bans(
    asterisk: Asterisk, deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Fail2ban]:
    """The sandbox with short bans; the default config again afterwards (and no ban left)."""
    _, short = config_variant(tmp_path_factory.mktemp("bans"), security={"ban": BAN})
    asterisk.sandbox.up(short, progress)
    try:
        yield asterisk.sandbox.fail2ban
    finally:
        asterisk.sandbox.up(deployment, progress)


def wait_until(done: Callable[[], bool], seconds: float, what: str) -> float:
    """Poll ``done`` until it holds; how long that took."""
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < seconds, f"not within {seconds} s: {what}"
        time.sleep(0.1)
    return time.monotonic() - started


def failed_count(fail2ban: Fail2ban) -> int:
    """Failed logins fail2ban has counted since it started (every address)."""
    status = fail2ban.client("status", "hotline-sip").stdout
    found = re.search(r"Total failed:\s*(\d+)", status)
    assert found, status
    return int(found.group(1))


def tls_port_open(source: str) -> bool:
    """Whether a TCP connection from ``source`` reaches Asterisk's SIP over TLS port."""
    try:
        with socket.create_connection(("127.0.0.1", 5061), timeout=1, source_address=(source, 0)):
            return True
    except OSError:
        return False


def test_wrong_passwords_ban_the_address_until_the_ban_ends(
    asterisk: Asterisk, bans: Fail2ban, tmp_path: Path
) -> None:
    password = asterisk.secrets["HOTLINE_SIP_PASSWORD_OP2"]
    mark, counted = asterisk.security_mark(), failed_count(bans)
    for _ in range(FAILURES - 1):
        assert register(tmp_path, "op2", password[::-1], source=GUESSER) == 401
    wait_until(
        lambda: failed_count(bans) == counted + FAILURES - 1, 10, "fail2ban counts the failures"
    )
    # one failure short of a ban: the right password still works from there
    assert GUESSER not in bans.banned()
    assert register(tmp_path, "op2", password, source=GUESSER, expires=0) == 200
    assert register(tmp_path, "op2", password + "x", source=GUESSER) == 401
    # the ban counts from this failure's time in the log, however late fail2ban reads it
    banned = time.monotonic()
    wait_until(lambda: GUESSER in bans.banned(), 10, f"{GUESSER} is banned")
    failures = re.findall(
        rf'SecurityEvent="ChallengeResponseFailed".*AccountID="op2".*/{GUESSER}/',
        asterisk.security_since(mark),
    )
    assert len(failures) == FAILURES  # one line a failure: counted once each
    # now even the right password gets nothing from there, on any port; elsewhere all is well
    assert register(tmp_path, "op2", password, source=GUESSER, wait=3) is None
    assert not tls_port_open(GUESSER)
    assert register(tmp_path, "op2", password) == 200
    assert "op2/sip:op2@127.0.0.1" in asterisk.sandbox.cli("pjsip show contacts").stdout
    assert register(tmp_path, "op2", password, expires=0) == 200
    assert tls_port_open("127.0.0.1")
    # until the ban ends
    wait_until(lambda: GUESSER not in bans.banned(), BAN_SECONDS + 10, "the ban ends")
    # (counted from the last failure's time in the log, in whole seconds, checked each second)
    assert time.monotonic() - banned >= BAN_SECONDS - 2
    assert register(tmp_path, "op2", password, source=GUESSER) == 200
    assert register(tmp_path, "op2", password, source=GUESSER, expires=0) == 200
    assert tls_port_open(GUESSER)


async def test_a_flood_of_invites_from_a_stranger_bans_it(
    asterisk: Asterisk, bans: Fail2ban, tmp_path: Path
) -> None:
    """A scanner calling the hotline from an address that is no carrier's: each INVITE is
    refused (no matching endpoint), and soon the address gets no answer at all."""
    mark = asterisk.security_mark()
    for _ in range(FAILURES):
        placed = await call("0800213103", "", source=FLOODER, hold_ms=1000)
        assert placed.returncode != 0
    wait_until(lambda: FLOODER in bans.banned(), 10, f"{FLOODER} is banned")
    refused = re.findall(rf'"InvalidAccountID".*/{FLOODER}/', asterisk.security_since(mark))
    assert len(refused) == FAILURES  # one line an INVITE: counted once each
    mark = asterisk.security_mark()
    password = asterisk.secrets["HOTLINE_SIP_PASSWORD_OP2"]
    assert register(tmp_path, "op2", password, source=FLOODER, wait=3) is None
    assert FLOODER not in asterisk.security_since(mark)  # not even seen
    assert register(tmp_path, "op2", password, expires=0) == 200


#: Runs a sipvicious tool (argv: source address, tool, its options) from that source address:
#: sipvicious 0.3.3 reads -b/--bindingip but never uses it, binding to every address, so
#: without this its packets to 127.0.0.1 would come from 127.0.0.1 (never banned here).
FROM_SOURCE = """
import os, runpy, shutil, socket, sys
source, tool = sys.argv[1:3]
bind = socket.socket.bind
socket.socket.bind = lambda sock, address: bind(sock, (source, *address[1:]))
script = os.path.realpath(shutil.which(tool))  # beside its package, as when run itself
sys.path.insert(0, os.path.dirname(script))
sys.argv = [tool, *sys.argv[3:]]
runpy.run_path(script, run_name="__main__")
"""


def sipvicious(tool: str, source: str, *options: str, workdir: Path) -> subprocess.Popen[str]:
    """Start ``tool`` (svwar, svcrack) against the sandbox from ``source``; its output is
    stdout and stderr together."""
    command = ["/usr/bin/python3", "-c", FROM_SOURCE, source, tool, "-x", source, *options]
    return subprocess.Popen(
        [*command, "127.0.0.1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=workdir,
    )


def output(process: subprocess.Popen[str]) -> str:
    out, _ = process.communicate(timeout=60)
    return out


#: svcrack's dictionary: so many wrong passwords, then the right one. It tries ~100 a second
#: here, and fail2ban bans it 0.2 to 1 s after the fifth (its actions wake at most every
#: 0.8 s): 15 to 120 guesses were seen, never the thousandth.
WRONG_GUESSES = 1000

OPERATORS = ["op1", "op2", "op3", "op4", "op5", "op6", "sup1"]
#: What svwar tries: every phone of the config, the trunk's endpoint name (matched by address
#: only, so nobody's from here), and names that are nobody's.
NAMES = [*OPERATORS, "trunk", "admin", "intruder", "100", "1001", "hotline", "operator"]


@pytest.mark.parametrize("method", ["REGISTER", "INVITE", "OPTIONS"])
def test_svwar_cannot_tell_which_names_exist(
    asterisk: Asterisk, bans: Fail2ban, tmp_path: Path, method: str
) -> None:
    words = tmp_path / "names.txt"
    words.write_text("\n".join(NAMES) + "\n")
    scan = ["-m", method, "-d", str(words)]
    # svwar first asks for a random name: answered as a real one is, it gives up at once
    out = output(sipvicious("svwar", SCANNER, *scan, workdir=tmp_path))
    assert "authentication request for an unknown extension" in out, out
    assert "found nothing" in out, out
    # forced on, it stops at the first name answered as the random one was (--debug prints
    # the answers): so one name at a time, every name (in parallel: each waits 3 s at its end)
    scans = {}
    for name in NAMES:
        (tmp_path / name).write_text(f"{name}\n")
        each = ["-m", method, "-d", str(tmp_path / name), "--force", "--debug"]
        scans[name] = sipvicious("svwar", SCANNER, *each, workdir=tmp_path)
    for name, scan_one in scans.items():
        out = output(scan_one)
        answers = re.findall(r"SIP/2\.0 (\d{3}) .*?\\r\\nTo: [^\\]*<sip:([^@]+)@", out)
        assert {to for _, to in answers} >= {name}, out  # the name was answered...
        assert {status for status, _ in answers} == {"401"}, out  # ...as any other
        assert "found nothing" in out, out
        assert f"'{name}' exists" not in out, out
    assert SCANNER not in bans.banned()


def test_svcrack_is_banned_long_before_it_finds_the_password(
    asterisk: Asterisk, bans: Fail2ban, tmp_path: Path
) -> None:
    password = asterisk.secrets["HOTLINE_SIP_PASSWORD_OP3"]
    guesses = [f"{password[:4]}-guess-{n}" for n in range(WRONG_GUESSES)] + [password]
    dictionary = tmp_path / "passwords.txt"
    dictionary.write_text("\n".join(guesses) + "\n")
    mark = asterisk.security_mark()
    started = time.monotonic()
    cracking = sipvicious("svcrack", CRACKER, "-u", "op3", "-d", str(dictionary), workdir=tmp_path)
    wait_until(lambda: CRACKER in bans.banned(), 20, f"{CRACKER} is banned")
    banned = time.monotonic() - started
    # (what was in Asterisk's socket and queues when the ban came is still read and logged:
    # on a busy machine, a second's worth)
    time.sleep(1.5)
    after_ban = asterisk.security_mark()
    # nothing reaches Asterisk from it any more: it would wait for answers in vain, and is
    # given up as an attacker would (^C, after which it prints what it found)
    cracking.send_signal(signal.SIGINT)
    out = output(cracking)
    assert "found nothing" in out and password not in out, out
    assert CRACKER not in asterisk.security_since(after_ban)
    log = asterisk.security_since(mark)
    tried = re.findall(rf'"ChallengeResponseFailed".*AccountID="op3".*/{CRACKER}/', log)
    assert not re.search(rf'"SuccessfulAuth".*/{CRACKER}/', log)
    # fail2ban acts within a second: a fast tool gets tens of guesses in, not a thousand
    print(f"svcrack: {len(tried)} wrong guesses, banned {banned:.2f} s after it started")
    assert FAILURES <= len(tried) < WRONG_GUESSES
    assert "op3/" not in asterisk.sandbox.cli("pjsip show contacts").stdout


def test_a_fail2ban_server_in_a_relative_folder_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a checkout the sandbox's folder is relative (.cache/sandbox); fail2ban's daemon
    works from /, so every path its config names must be absolute (it once waited 30 s for a
    socket under / and `hotline sandbox up` failed)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "security").touch()
    server = Fail2ban(Path("f2b"))
    jail = f"[{JAIL}]\nenabled = true\nfilter = asterisk\nlogpath = {tmp_path}/security\naction =\n"
    server.start(jail, timeout=20)
    try:
        status = server.client("status", JAIL).stdout
        assert f"File list:\t{tmp_path}/security" in status
        assert (tmp_path / "f2b/fail2ban.sock").is_socket()
    finally:
        server.stop()
    assert not server.running()
