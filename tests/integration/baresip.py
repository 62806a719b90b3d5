"""A real softphone for the tests: baresip as Debian 12 ships it (1.0.0), with no sound card.
It says a sine tone (the ausine module), writes what it hears to a WAV file (sndfile), and
takes its keys on a local UDP console (cons), so a test can hang up as an operator would.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from bench.sipcall import free_udp_port

#: The modules it needs, all in Debian's baresip-core.
MODULES = ("g711", "srtp", "ausine", "sndfile", "cons")


class Baresip:
    """An operator's baresip: registers as ``user`` over TLS to ``server`` with SRTP
    mandatory, answers every call at once, sends a ``tone_hz`` tone and keeps what it hears.
    Its log (with the SIP trace) is ``log``; its files live in ``folder``."""

    def __init__(
        self,
        user: str,
        password: str,
        *,
        folder: Path,
        ca: Path,
        tone_hz: float,
        server: str = "127.0.0.1:5061",
        srtp: bool = True,
    ) -> None:
        self.user, self.password, self.server = user, password, server
        self.folder, self.ca, self.tone_hz = folder, ca, tone_hz
        #: SRTP mandatory (a hotline that requires encryption), or plain RTP.
        self.srtp = srtp
        self.log = folder / "baresip.log"
        self.heard_dir = folder / "heard"
        self.console = ("127.0.0.1", free_udp_port("127.0.0.1"))
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        """baresip's `config` (its parser needs a line before the first setting, and takes a
        value up to the first blank: a comment may follow it)."""
        host, port = self.console
        return "\n".join(
            [
                "# written by tests/integration/baresip.py",
                "sip_listen 127.0.0.1:0  # ports of its own (UDP, TCP, TLS)",
                # a test's namespace has only loopback, where baresip finds no address of its
                # own (it looks for the default route's)
                "net_interface 127.0.0.1",
                f"sip_cafile {self.ca}",
                # 1.0.0 loads the CA but its libre (1.1.0) never checks a SIP server against
                # it; from 1.1.0 on this makes baresip refuse a server the CA did not sign
                "sip_verify_server yes",
                f"audio_source ausine,{round(self.tone_hz)}",  # whole Hz
                "ausrc_srate 48000  # ausine makes 48 kHz stereo only; baresip resamples",
                "ausrc_channels 2",
                "rtp_ports 30000-39999  # not Asterisk's (asterisk-config/rtp.conf)",
                "statmode_default off  # no call status line every 100 ms in the log",
                f"snd_path {self.heard_dir}",
                f"cons_listen {host}:{port}",
                "module_path /usr/lib/baresip/modules",
                *(f"module {name}.so" for name in MODULES),
                "module_tmp account.so",
                "module_app menu.so  # the keys: b hangs up",
                "",
            ]
        )

    def account(self) -> str:
        """baresip's `accounts`: one line, the operator's SIP account."""
        return (
            f"<sip:{self.user}@{self.server};transport=tls>"
            f";auth_pass={self.password}{';mediaenc=srtp-mand' if self.srtp else ''}"
            ";answermode=auto\n"
        )

    def start(self) -> Baresip:
        self.heard_dir.mkdir(parents=True, exist_ok=True)
        (self.folder / "config").write_text(self.config())
        (self.folder / "accounts").write_text(self.account())
        with self.log.open("wb") as log:
            # -s: the SIP trace in the log (what the phone received: the SDP offer)
            self.process = subprocess.Popen(
                ["baresip", "-f", str(self.folder), "-s"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
            )
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def received(self, method: str) -> list[str]:
        """The SIP requests of ``method`` the phone received, each with the transport it came
        over (the trace's ``TLS a -> b`` line) and its body."""
        # each message: its colour, "#", "TLS from -> to", the message, the colour's end
        messages = [block.split("\x1b[;m")[0] for block in self.output().split("\x1b[36;1m#\n")[1:]]
        return [
            message
            for message in messages
            if message.split("\n")[1:2] and message.split("\n")[1].startswith(f"{method} sip:")
        ]

    def heard(self) -> Path | None:
        """The WAV file of what the phone heard in its last call (None before any call)."""
        found = sorted(self.heard_dir.glob("dump-*-dec.wav"))
        return found[-1] if found else None

    def send(self, command: str) -> None:
        """Type a key, or a long command (``/sndcode *2``), on the phone's console."""
        line = command + "\n" if command.startswith("/") else command
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as console:
            console.sendto(line.encode(), self.console)

    def hang_up(self) -> str:
        """Press b (hang up), as the operator would; returns baresip's answer, which comes
        once the call is gone from the phone and the file of what it heard is closed."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as console:
            console.settimeout(5)
            console.sendto(b"b", self.console)
            return console.recv(4096).decode(errors="replace")

    def stop(self) -> None:
        """Quit (baresip unregisters on its way out)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
