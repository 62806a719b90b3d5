"""A real SMS gateway for the tests: Debian's Kannel (bearerbox and smsbox) with its fakesmsc
(kannel-extras) as the operator's SMS centre, on free ports of this test's 127.0.0.1, with a
config written here. What the SMS centre received is read back from fakesmsc's output, long
texts put back together from their parts and UCS-2 decoded (as a phone would show them)."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
USERNAME = "hotline"
PASSWORD = "sendsms-Pass-7341"
SENDER = "LegalAid"
ADMIN_PASSWORD = "admin-Pass-7341"

#: fakesmsc's line for a message it received: "Got message N: <from to type ...>".
GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listens(port: int) -> bool:
    """Whether a TCP socket listens on ``port`` here, seen without connecting to it."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(f":{port:04X}" == f[1][-5:] and f[3] == "0A" for f in (ln.split() for ln in lines))


@dataclass(frozen=True)
class Sms:
    """An SMS as the SMS centre got it."""

    sender: str
    to: str
    text: str


class Kannel:
    """bearerbox, smsbox and fakesmsc, started in ``folder``; ``url`` is smsbox's sendsms."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.smsc_port, self.box_port, self.sendsms_port = free_port(), free_port(), free_port()
        self.admin_port = free_port()
        self.config = folder / "kannel.conf"
        self.received = folder / "fakesmsc.log"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sendsms_port}/cgi-bin/sendsms"

    @property
    def settings(self) -> dict[str, str]:
        """The service's settings for this gateway."""
        return {
            "HOTLINE_SMS_URL": self.url,
            "HOTLINE_SMS_USERNAME": USERNAME,
            "HOTLINE_SMS_PASSWORD": PASSWORD,
            "HOTLINE_SMS_SENDER": SENDER,
        }

    def write_config(self) -> None:
        self.config.write_text(
            f"""group = core
admin-port = {self.admin_port}
admin-password = {ADMIN_PASSWORD}
admin-allow-ip = 127.0.0.1
smsbox-port = {self.box_port}
box-allow-ip = 127.0.0.1
log-level = 1

group = smsc
smsc = fake
smsc-id = fake
port = {self.smsc_port}
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {self.box_port}
sendsms-port = {self.sendsms_port}
sendsms-interface = 127.0.0.1
log-level = 1

group = sendsms-user
username = {USERNAME}
password = {PASSWORD}
max-messages = 6
concatenation = true

# what fakesmsc sends at its start (an MO message) is answered with nothing
group = sms-service
keyword = default
text = ""
max-messages = 0
catch-all = true
"""
        )

    def start(self) -> Kannel:
        self.write_config()
        self._start("bearerbox", [BEARERBOX, "-v", "1", str(self.config)])
        # (its admin port, not the SMSC's: the fake SMSC takes the first connection to its port
        # as its SMS centre, and a probe there would leave fakesmsc's waiting)
        self._listening(self.admin_port, "bearerbox")
        deadline = time.monotonic() + 15
        while not _listens(self.smsc_port):
            assert time.monotonic() < deadline, f"bearerbox's SMSC port:\n{self.log('bearerbox')}"
            time.sleep(0.1)
        # fakesmsc connects to the bearerbox's fake SMSC port and prints what it is sent;
        # it must send something (one message, ignored), and -i keeps it from sending more
        self._start(
            "fakesmsc",
            [
                FAKESMSC,
                "-H",
                "127.0.0.1",
                "-r",
                str(self.smsc_port),
                "-i",
                "86400",
                "-m",
                "1",
                "0 0 text hello",
            ],
            self.received,
        )
        self._online()
        self.start_smsbox()
        return self

    def _online(self, seconds: float = 30) -> None:
        """Wait until bearerbox says its link to fakesmsc is up (else a message sent meanwhile
        waits for its reconnection, which may come after a test gave up)."""
        url = f"http://127.0.0.1:{self.admin_port}/status.txt?password={ADMIN_PASSWORD}"
        deadline, status = time.monotonic() + seconds, ""
        while time.monotonic() < deadline:
            assert self.processes["fakesmsc"].poll() is None, self.log("fakesmsc")
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                status = answer.read().decode(errors="replace")
                if "(online" in status:
                    return
            time.sleep(0.1)
        raise AssertionError(f"bearerbox's link to fakesmsc is not up:\n{status}")

    def start_smsbox(self) -> None:
        self._start("smsbox", [SMSBOX, "-v", "1", str(self.config)])
        self._listening(self.sendsms_port, "smsbox")

    def stop_smsbox(self) -> None:
        """The gateway down (its HTTP interface gone), as in an outage."""
        self._stop("smsbox")

    def _start(self, name: str, command: list[str], output: Path | None = None) -> None:
        with (output or self.folder / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _listening(self, port: int, name: str, seconds: float = 15) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.processes[name].poll() is None, self.log(name)
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} does not listen on {port}:\n{self.log(name)}")

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def _stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:  # (bearerbox may take its time over a clean stop)
            process.kill()
            process.wait(5)

    def stop(self) -> None:
        for name in ("smsbox", "fakesmsc", "bearerbox"):
            self._stop(name)

    def messages(self) -> list[Sms]:
        """What the SMS centre received, in order, each long text whole."""
        found: list[Sms] = []
        parts: dict[tuple[str, str, int], dict[int, bytes]] = {}
        lines = (
            self.received.read_text(errors="replace").splitlines() if self.received.exists() else []
        )
        for line in lines:
            match = GOT.search(line)
            if match is None:
                continue
            sender, to, kind, rest = match.groups()
            if kind == "text":
                found.append(Sms(sender, to, rest))
            elif kind == "ucs-2":
                found.append(Sms(sender, to, _bytes(rest).decode("utf-16-be")))
            elif kind == "udh":  # a part of a long text: "UDH data BYTES" (8-bit reference)
                udh, _, data = rest.partition(" data ")
                header = _bytes(udh)  # (the hotline sends long texts as UCS-2 only)
                reference, total, number = header[3], header[4], header[5]
                got = parts.setdefault((sender, to, reference), {})
                got[number] = _bytes(data)
                if len(got) == total:
                    whole = b"".join(got[i] for i in range(1, total + 1))
                    found.append(Sms(sender, to, whole.decode("utf-16-be")))
                    del parts[sender, to, reference]
        return found


def _bytes(encoded: str) -> bytes:
    return urllib.parse.unquote_to_bytes(encoded.replace("+", " "))
