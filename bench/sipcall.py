"""A real SIP call into the sandbox with SIPp, keys sent as SIP INFO DTMF (`python -m bench.call`).

SIPp plays the carrier: it calls from the trunk's address, so Asterisk treats it as a
caller from the telephone network. The operators' softphones are SIPp too (:class:`SoftPhone`).
Over 400 lines: the scenarios are written here, as the calls that use them.
"""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

_INVITE = """\
INVITE sip:{number}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "{name}" <sip:{from_user}{from_host}>;tag=[pid]SIPpTag00[call_number]
To: <sip:{number}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:{from_user}[local_ip]:[local_port]>
{authentication}Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

v=0
o=caller 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
"""

_IN_DIALOG = """\
{method} sip:{number}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:{from_user}[local_ip]:[local_port]>
Max-Forwards: 70
{extra}Content-Length: [len]
{body}"""

_ACK = """\
ACK sip:{number}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
Call-ID: [call_id]
CSeq: {cseq} ACK
Contact: <sip:{from_user}[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

"""

_OK = """\
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

"""


def _cdata(text: str) -> str:
    return f"<![CDATA[\n{text}\n]]>"


def _speak(tone: Path) -> str:
    """A SIPp step that streams ``tone`` (raw PCMU) as RTP, looped until the call ends."""
    return f'<nop><action><exec rtp_stream="{tone},-1,0"/></action></nop>'


@dataclass(frozen=True)
class Info:
    """A SIP INFO sent as it is, for keys no keypad has: ``Info.signal("Z")``, an empty
    signal, ``Signal=16`` (a flash), or a body of any ``content_type``. Asterisk answers 200
    to what it understands and 500 to the rest; the caller goes on either way."""

    body: str
    content_type: str = "application/dtmf-relay"

    @classmethod
    def signal(cls, value: str, duration: str = "160") -> Info:
        return cls(f"Signal={value}\r\nDuration={duration}\r\n")


def scenario(
    number: str,
    keys: str | Sequence[str | Info],
    caller: str = "380501234567",
    name: str = "Caller",
    first_delay_ms: int = 1500,
    gap_ms: int = 2500,
    hold_ms: int = 3000,
    from_host: str | None = None,
    tone: Path | None = None,
    auth: bool = False,
) -> str:
    """A SIPp UAC scenario: call ``number``, press ``keys`` (``w``: wait one gap more; an
    :class:`Info`: that INFO as it is), stay ``hold_ms`` after the last key (or until Asterisk
    hangs up), then hang up. ``caller`` is the user of the From URI (empty: a URI without
    one); ``from_host`` its host (default: SIPp's own address, e.g. ``anonymous.invalid``).
    With ``tone`` (raw PCMU) the caller speaks: it is streamed from the answer on. With
    ``auth`` it answers the 401 with SIPp's ``-au``/``-ap`` (a registered phone dialling)."""
    fill = {
        "number": number,
        "name": name,
        "from_user": f"{caller}@" if caller else "",
        "from_host": from_host or "[local_ip]:[local_port]",
    }
    challenged = [
        f'<send retrans="500">{_cdata(_INVITE.format(cseq=1, authentication="", **fill))}</send>',
        '<recv response="100" optional="true"/>',
        '<recv response="401" auth="true"/>',
        f"<send>{_cdata(_ACK.format(cseq=1, **fill))}</send>",
    ]
    cseq = 2 if auth else 1
    authentication = "[authentication]\n" if auth else ""
    invite = _INVITE.format(cseq=cseq, authentication=authentication, **fill)
    steps = [
        *(challenged if auth else []),
        f'<send retrans="500">{_cdata(invite)}</send>',
        '<recv response="100" optional="true"/>',
        '<recv response="180" optional="true"/>',
        '<recv response="183" optional="true"/>',
        '<recv response="200" rtd="true"/>',
        f"<send>{_cdata(_ACK.format(cseq=cseq, **fill))}</send>",
        *([_speak(tone)] if tone else []),
        f'<pause milliseconds="{first_delay_ms}"/>',
    ]
    cseq += 1
    for key in keys:
        if key == "w":
            steps.append(f'<pause milliseconds="{gap_ms}"/>')
            continue
        raw = key if isinstance(key, Info) else Info.signal(key)
        info = _IN_DIALOG.format(
            method="INFO",
            cseq=cseq,
            body="\n" + raw.body,
            extra=f"Content-Type: {raw.content_type}\n",
            **fill,
        )
        steps += [
            f"<send>{_cdata(info)}</send>",
            *(
                # 200 (understood) or 500 (not a DTMF signal), and the call goes on
                [
                    f'<recv response="200" optional="true" next="info{cseq}"/>',
                    '<recv response="500"/>',
                    f'<label id="info{cseq}"/>',
                ]
                if isinstance(key, Info)
                else ['<recv response="200"/>']
            ),
            f'<pause milliseconds="{gap_ms}"/>',
        ]
        cseq += 1
    bye = _IN_DIALOG.format(method="BYE", cseq=cseq, body="\n", extra="", **fill)
    steps += [
        f'<recv request="BYE" timeout="{hold_ms}" ontimeout="hangup"/>',
        f"<send>{_cdata(_OK)}</send>",
        '<nop next="done"/>',
        '<label id="hangup"/>',
        f"<send>{_cdata(bye)}</send>",
        '<recv response="200"/>',
        '<label id="done"/>',
    ]
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="hotline caller">\n'
        + "\n".join(steps)
        + "\n</scenario>\n"
    )


#: Binds port 0 on the address in argv[1] and prints the port the kernel chose.
_PORT_PROBE = (
    "import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
    "s.bind((sys.argv[1], 0)); print(s.getsockname()[1])"
)


def free_udp_port(host: str, netns: str | None = None) -> int:
    """A UDP port free on ``host`` now; in the network namespace ``netns`` if given."""
    if netns is not None:
        done = subprocess.run(
            ["ip", "netns", "exec", netns, sys.executable, "-c", _PORT_PROBE, host],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return int(done.stdout)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Placed:
    """A finished SIPp call: the SIP Call-ID to find it by, and how SIPp ended."""

    call_id: str
    returncode: int
    output: str


def sipp_command(
    scenario_file: Path,
    call_id: str,
    source: str,
    target: str,
    timeout_s: int,
    auth: tuple[str, str] | None = None,
) -> list[str]:
    return [
        "sipp",
        target,
        "-sf",
        str(scenario_file),
        "-i",
        source,
        "-bind_local",
        "-p",
        str(free_udp_port(source)),
        "-mp",
        str(free_udp_port(source)),
        "-m",
        "1",
        "-l",
        "1",
        "-nostdin",
        "-timeout",
        f"{timeout_s}s",
        "-timeout_error",
        "-cid_str",
        call_id,
        "-trace_err",
        "-error_file",
        "/dev/null",
        *(["-au", auth[0], "-ap", auth[1]] if auth else []),
    ]


class SippCall:
    """One caller played by SIPp from the trunk's address, running in the background; with
    ``auth`` (user, password) a registered phone dialling from ``source`` (a supervisor
    recording an announcement)."""

    def __init__(
        self,
        number: str,
        keys: str | Sequence[str | Info],
        *,
        caller: str = "380501234567",
        source: str = "127.0.0.2",
        target: str = "127.0.0.1:5060",
        gap_ms: int = 2500,
        hold_ms: int = 3000,
        timeout_s: int = 300,
        name: str = "Caller",
        from_host: str | None = None,
        speaks: bool = False,
        auth: tuple[str, str] | None = None,
    ) -> None:
        if shutil.which("sipp") is None:
            raise RuntimeError("SIPp is not installed: apt-get install -y sip-tester")
        self.call_id = f"hotline-call-{uuid.uuid4().hex[:12]}"
        self.timeout_s = timeout_s
        self._tmp = tempfile.TemporaryDirectory(prefix="hotline-sipp-")
        xml = Path(self._tmp.name) / "caller.xml"
        tone = Path(self._tmp.name) / "tone.ulaw" if speaks else None
        if tone:
            tone.write_bytes(ulaw_tone(CALLER_TONE))
        xml.write_text(
            scenario(
                number,
                keys,
                caller,
                name=name,
                gap_ms=gap_ms,
                hold_ms=hold_ms,
                from_host=from_host,
                tone=tone,
                auth=auth is not None,
            )
        )
        # SIPp redraws its screen every second: into a file, so that a reader who is late
        # can never block it on a full pipe
        self._out = Path(self._tmp.name) / "sipp.out"
        self._command: Callable[[], list[str]] = lambda: sipp_command(
            xml, self.call_id, source, target, timeout_s, auth
        )
        self._starts = 0
        self._start()

    def _start(self) -> None:
        self._starts += 1
        with self._out.open("w") as out:
            self.process = subprocess.Popen(
                self._command(), stdout=out, stderr=subprocess.STDOUT, cwd=self._tmp.name
            )

    def _started_again(self) -> bool:
        """SIPp ended at once because a port it was given was taken meanwhile (another
        process bound it between our look and its bind): started again on others."""
        if self._starts >= 3 or "Unable to bind" not in self._out.read_text(errors="replace"):
            return False
        self._start()
        return True

    @property
    def running(self) -> bool:
        return self.process.poll() is None or self._started_again()

    def wait(self) -> Placed:
        """Wait for the call to end."""
        try:
            while self.process.wait(timeout=self.timeout_s + 30) and self._started_again():
                pass
            out = self._out.read_text(errors="replace")
        finally:
            self._tmp.cleanup()
        return Placed(self.call_id, self.process.returncode, out[-3000:])

    def abandon(self) -> None:
        """Stop SIPp now (its call is no longer wanted: a failed test's caller)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._tmp.cleanup()


SCENARIOS = Path(__file__).parent / "sipp"


#: What a speaking operator's softphone and a speaking caller send (Hz): apart in a recording.
OPERATOR_TONE, CALLER_TONE = 440.0, 1000.0


def ulaw_tone(hertz: float = OPERATOR_TONE, seconds: float = 1.0, level: float = 0.3) -> bytes:
    """A sine tone as raw G.711 mu-law at 8 kHz (what SIPp's rtp_stream sends as PCMU)."""

    def ulaw(sample: int) -> int:
        sign = 0x80 if sample < 0 else 0
        biased = min(abs(sample), 32635) + 0x84
        exponent = min(7, max(0, biased.bit_length() - 8))
        mantissa = (biased >> (exponent + 3)) & 0x0F
        return ~(sign | exponent << 4 | mantissa) & 0xFF

    count = int(8000 * seconds)
    return bytes(
        ulaw(int(level * 32767 * math.sin(2 * math.pi * hertz * n / 8000))) for n in range(count)
    )


def _call_id(message: str) -> str:
    """The Call-ID of a SIP message as SIPp logged it."""
    for line in message.splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() in ("call-id", "i"):
            return value.strip()
    return message  # (none: counted on its own)


class SoftPhone:
    """An operator's softphone played by SIPp: registers with its password, answers OPTIONS
    (qualify) and every call after ``ring_ms``, talks ``talk_ms`` and hangs up (or, with
    ``answers=False``, lets it ring). With ``register=False`` on the trunk's address it plays
    a caller's own phone, called back through the trunk.

    One SIPp process, as a real phone is one socket: its main scenario registers (and then
    waits), and calls and qualify pings from Asterisk run its out-of-call scenario. (Asterisk
    takes a phone's address from the packets, not from its Contact, so a phone must receive
    where it registers from.) With ``netns`` it runs in that network namespace (``ip netns
    exec``): a phone behind a NAT of its own.
    """

    def __init__(
        self,
        user: str,
        password: str,
        *,
        address: str = "127.0.0.1",
        target: str = "127.0.0.1:5060",
        ring_ms: int = 500,
        talk_ms: int = 3000,
        answers: bool = True,
        register: bool = True,
        port: int | None = None,
        speaks: bool = False,
        netns: str | None = None,
        refer_to: str | None = None,
        workdir: Path,
    ) -> None:
        self.user, self.password = user, password
        #: Transfers each call it answers, after ``talk_ms``, by REFER to this extension.
        self.refer_to = refer_to
        self.address, self.target = address, target
        self.ring_ms, self.talk_ms = ring_ms, talk_ms
        self.answers = answers
        self.speaks = speaks
        self.workdir = workdir
        self.register = register
        self.netns = netns
        self.port = port or self._free_port()
        self.messages = workdir / f"{user}-{self.port}-messages.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _sipp(self, *args: str) -> list[str]:
        """A SIPp command line, run in the phone's network namespace if it has one."""
        return [*(["ip", "netns", "exec", self.netns] if self.netns else []), "sipp", *args]

    def _free_port(self) -> int:
        return free_udp_port(self.address, self.netns)

    def _media(self) -> str:
        """With ``speaks``: the softphone sends a tone (RTP, PCMU) all through the call."""
        if not self.speaks:
            return ""
        tone = self.workdir / "tone.ulaw"
        tone.write_bytes(ulaw_tone(OPERATOR_TONE))
        return _speak(tone)

    def _answering(self) -> Path:
        """The scenario that answers Asterisk's requests, filled in (SIPp reads pause and
        timeout lengths before keyword substitution)."""
        scenario_file = self.workdir / f"{self.user}-{self.port}-answer.xml"
        name = "refer.xml" if self.refer_to else "answer.xml" if self.answers else "ignore.xml"
        scenario_file.write_text(
            (SCENARIOS / name)
            .read_text()
            .replace("[ring]", str(self.ring_ms))
            .replace("[talk]", str(self.talk_ms))
            .replace("[pause]", str(self.talk_ms))
            .replace("[linger]", "1000")
            .replace("[target]", self.refer_to or "")
            .replace("<!--[media]-->", self._media())
        )
        return scenario_file

    def command(self, answering: Path, *extra: str) -> list[str]:
        """SIPp's command line: registering (main scenario) and answering (out of call), or,
        without registration, answering only."""
        common = [
            "-i",
            self.address,
            "-bind_local",
            "-p",
            str(self.port),
            "-mp",
            str(self._free_port()),
            "-nostdin",
            "-trace_msg",
            "-message_file",
            str(self.messages),
            "-timeout",
            "3600s",
            *extra,
        ]
        if not self.register:
            return self._sipp("-sf", str(answering), *common)
        return self._sipp(
            self.target,
            "-sf",
            str(SCENARIOS / "phone.xml"),
            "-oocsf",
            str(answering),
            "-m",
            "1",
            "-key",
            "user",
            self.user,
            "-au",
            self.user,
            "-ap",
            self.password,
            *common,
        )

    def start(self, *extra: str) -> SoftPhone:
        """Start the phone; once this returns, it is registered (RuntimeError if it cannot).
        A SIPp that exits at once (its port taken meanwhile by another process) is started
        again on another port, twice at most."""
        for attempt in range(3):
            errors = self.workdir / f"{self.user}-{self.port}-sipp.err"
            with errors.open("w") as err:
                self.process = subprocess.Popen(
                    self.command(self._answering(), *extra),
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    cwd=self.workdir,
                )
            if not self.register or self._wait_registered():
                return self
            exited = self.process.poll()
            if exited is None or attempt == 2:
                self.stop()
                said = errors.read_text(errors="replace")[-500:]
                raise RuntimeError(
                    f"{self.user} could not register from {self.address}:{self.port} "
                    f"(SIPp {'running' if exited is None else f'exited {exited}'}: {said!r}; "
                    f"last received: {self.messages_of(sent=False)[-1:]!r})"
                )
            self.port = self._free_port()
            self.messages = self.workdir / f"{self.user}-{self.port}-messages.log"
        return self

    def _wait_registered(self, seconds: float = 20) -> bool:
        """Whether Asterisk accepted the phone's REGISTER within ``seconds`` (False at once
        if SIPp exited)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(
                block.split("\n\n", 1)[-1].lstrip().startswith("SIP/2.0 200")
                and "REGISTER" in block.split("CSeq:")[-1][:20]
                for block in self.messages_of(sent=False)
            ):
                return True
            if self.process is not None and self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def _unregister(self) -> None:
        """Remove every contact of this phone's AOR (``Contact: *``, Expires: 0)."""
        subprocess.run(
            self._sipp(
                self.target,
                "-sf",
                str(SCENARIOS / "unregister.xml"),
                "-i",
                self.address,
                "-p",
                str(self._free_port()),
                "-m",
                "1",
                "-nostdin",
                "-key",
                "user",
                self.user,
                "-au",
                self.user,
                "-ap",
                self.password,
                "-timeout",
                "10s",
                "-timeout_error",
            ),
            capture_output=True,
            cwd=self.workdir,
            check=False,
            timeout=30,
        )

    def dial(self, number: str) -> int:
        """Dial ``number`` (a feature code) from this phone; SIPp's exit status."""
        done = subprocess.run(
            self._sipp(
                self.target,
                "-sf",
                str(SCENARIOS / "dial.xml"),
                "-i",
                self.address,
                "-p",
                str(self._free_port()),
                "-mp",
                str(self._free_port()),
                "-m",
                "1",
                "-nostdin",
                "-s",
                number,
                "-key",
                "user",
                self.user,
                "-au",
                self.user,
                "-ap",
                self.password,
                "-timeout",
                "30s",
                "-timeout_error",
            ),
            capture_output=True,
            text=True,
            cwd=self.workdir,
            check=False,
            timeout=60,
        )
        return done.returncode

    def messages_of(self, sent: bool) -> list[str]:
        """The SIP messages this phone sent (or received), from SIPp's message log."""
        if not self.messages.exists():
            return []
        word = "message sent" if sent else "message received"
        return [
            block
            for block in self.messages.read_text(errors="replace").split("-----")
            if word in block
        ]

    def answered(self) -> int:
        """How many calls this phone has answered (a 200 OK sent to an INVITE; its
        retransmissions, when the ACK is slow, are the same call)."""
        return len(
            {
                _call_id(block)
                for block in self.messages_of(sent=True)
                if "SIP/2.0 200 OK" in block and "INVITE" in block.split("CSeq:")[-1][:20]
            }
        )

    def rung(self) -> int:
        """How many calls reached this phone (INVITEs, retransmissions counted once)."""
        return len(
            {_call_id(block) for block in self.messages_of(sent=False) if "\nINVITE sip:" in block}
        )

    def stop(self) -> None:
        """Stop answering and unregister."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.register:
            self._unregister()
