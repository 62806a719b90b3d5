"""SIPp for the bench: callers (one load generator, or one process per call) and operators,
all pinned to one core, with their SIP message logs parsed into timestamped records.

SIPp's ``-trace_msg`` log stamps every message with the wall clock to the microsecond, so a
caller's log and an operator's log can be compared on the same clock.
"""

from __future__ import annotations

import os
import re
import subprocess
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bench.sipcall import SoftPhone, free_udp_port, scenario

#: SIPp runs on this core only, so that it never takes CPU from Asterisk or the service.
SIPP = ["taskset", "-c", "1", "sipp"]
TARGET = "127.0.0.1:5060"
TRUNK = "127.0.0.2"  # the carrier's address: calls from it need no password
OPERATOR_SCENARIO = Path(__file__).parent / "sipp/operator.xml"


@dataclass(frozen=True)
class Message:
    """One SIP message in a SIPp log: when, which way, its first line and its Call-ID."""

    at: float  # seconds since the epoch (local wall clock)
    sent: bool
    first_line: str
    call_id: str
    cseq: str
    from_user: str = ""  # the user part of From: (a caller's number, passed on to operators)

    @property
    def request(self) -> str:
        """The method of a request ("" for a response)."""
        word = self.first_line.split(" ", 1)[0]
        return "" if word.startswith("SIP/") else word


_HEADER = re.compile(
    r"^-{20,} (\d{4}-\d\d-\d\d)\s+(\d\d:\d\d:\d\d\.\d+)\s*$\n"
    r"^.*message (sent|received)[^\n]*\n\n",
    re.MULTILINE,
)


_USER = re.compile(r"sips?:([^@>;:]+)@")


def parse_messages(text: str) -> list[Message]:
    """The messages of a SIPp ``-trace_msg`` log, in order."""
    heads = list(_HEADER.finditer(text))
    out = []
    for n, head in enumerate(heads):
        after = heads[n + 1] if n + 1 < len(heads) else None
        body = text[head.end() : after.start() if after else len(text)]
        lines = body.lstrip("\r\n").splitlines()
        if not lines:
            continue
        call_id = cseq = from_user = ""
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() in ("call-id", "i"):
                call_id = value.strip()
            elif name.strip().lower() == "cseq":
                cseq = value.strip()
            elif name.strip().lower() in ("from", "f") and (user := _USER.search(value)):
                from_user = user[1]
        stamp = datetime.strptime(f"{head[1]} {head[2]}", "%Y-%m-%d %H:%M:%S.%f")
        out.append(
            Message(
                stamp.timestamp(), head[3] == "sent", lines[0].strip(), call_id, cseq, from_user
            )
        )
    return out


def read_messages(paths: Iterable[Path]) -> list[Message]:
    """Every message of these logs, oldest first."""
    found: list[Message] = []
    for path in paths:
        if path.exists():
            found += parse_messages(path.read_text(errors="replace"))
    return sorted(found, key=lambda m: m.at)


def caller_xml(
    workdir: Path,
    number: str,
    keys: str,
    *,
    first_ms: int,
    gap_ms: int,
    hold_ms: int,
    caller: str = "380501234567",
) -> Path:
    """The caller scenario of `python -m bench.call`: INVITE, keys as SIP INFO, stay, BYE.
    ``caller`` may be a SIPp keyword (``[caller]``, given with ``-key``)."""
    path = workdir / f"caller-{number}-{keys}-{hold_ms}.xml"
    path.write_text(
        scenario(number, keys, caller, first_delay_ms=first_ms, gap_ms=gap_ms, hold_ms=hold_ms)
    )
    return path


@dataclass
class LoadResult:
    """What one SIPp load run gave."""

    calls: int
    succeeded: int
    failed: int
    rtts_ms: list[float]  # INVITE -> 200 of each call
    returncode: int


def _stat_counts(stat_file: Path) -> tuple[int, int] | None:
    """(successful, failed) calls from the last row of SIPp's -trace_stat CSV."""
    if not stat_file.exists():
        return None
    rows = [r.split(";") for r in stat_file.read_text(errors="replace").splitlines() if r]
    if len(rows) < 2:
        return None
    head, last = rows[0], rows[-1]
    try:
        return (
            int(last[head.index("SuccessfulCall(C)")]),
            int(last[head.index("FailedCall(C)")]),
        )
    except (ValueError, IndexError):
        return None


def _rtts(workdir: Path, scenario_file: Path) -> list[float]:
    values: list[float] = []
    for path in workdir.glob(f"{scenario_file.stem}_*_rtt.csv"):
        for row in path.read_text(errors="replace").splitlines():
            fields = row.split(";")
            if len(fields) >= 2:
                try:
                    values.append(float(fields[1]))
                except ValueError:
                    continue  # the header
    return values


def load_command(
    scenario_file: Path,
    *,
    rate: float,
    calls: int,
    limit: int,
    timeout_s: int,
    messages: Path | None = None,
) -> list[str]:
    """A SIPp caller load from the trunk's address: ``calls`` calls at ``rate`` per second."""
    stem = scenario_file.stem
    command = [
        *SIPP,
        TARGET,
        "-sf",
        str(scenario_file),
        "-i",
        TRUNK,
        "-bind_local",
        "-p",
        str(free_udp_port(TRUNK)),
        "-mp",
        str(free_udp_port(TRUNK)),
        "-r",
        f"{rate:g}",
        "-rp",
        "1000",
        "-m",
        str(calls),
        "-l",
        str(limit),
        "-nostdin",
        "-recv_timeout",
        "20000",  # a lost reply fails the call instead of keeping it forever
        "-timeout",
        f"{timeout_s}s",
        "-trace_rtt",
        "-rtt_freq",
        "1",
        "-trace_stat",
        "-stf",
        f"{stem}.stat.csv",
        "-fd",
        "1",
        "-trace_err",
        "-error_file",
        f"{stem}.errors.log",
    ]
    if messages is not None:
        command += ["-trace_msg", "-message_file", str(messages)]
    return command


def run_load(
    workdir: Path,
    scenario_file: Path,
    *,
    rate: float,
    calls: int,
    limit: int = 5000,
    timeout_s: int = 300,
    messages: Path | None = None,
    processes: list[subprocess.Popen[bytes]],
) -> LoadResult:
    """Run one SIPp load to its end (``processes`` tracks it, for a clean Ctrl-C)."""
    for old in workdir.glob(f"{scenario_file.stem}_*_rtt.csv"):
        old.unlink()
    (workdir / f"{scenario_file.stem}.stat.csv").unlink(missing_ok=True)
    command = load_command(
        scenario_file,
        rate=rate,
        calls=calls,
        limit=limit,
        timeout_s=timeout_s,
        messages=messages,
    )
    with (workdir / f"{scenario_file.stem}.out").open("w") as out:
        process = subprocess.Popen(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    processes.append(process)
    try:
        returncode = process.wait(timeout_s + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        processes.remove(process)
    counts = _stat_counts(workdir / f"{scenario_file.stem}.stat.csv")
    rtts = _rtts(workdir, scenario_file)
    succeeded, failed = counts if counts else (len(rtts), calls - len(rtts))
    # calls SIPp never finished (a global timeout) count as failed too
    failed = max(failed, calls - succeeded)
    return LoadResult(calls, succeeded, failed, rtts, returncode)


def start_caller(
    workdir: Path, scenario_file: Path, name: str, timeout_s: int, caller: str = ""
) -> subprocess.Popen[bytes]:
    """One caller as its own SIPp process (the bench starts them at Poisson times)."""
    return subprocess.Popen(
        [
            *SIPP,
            TARGET,
            "-sf",
            str(scenario_file),
            "-i",
            TRUNK,
            "-bind_local",
            "-p",
            str(free_udp_port(TRUNK)),
            "-mp",
            str(free_udp_port(TRUNK)),
            "-m",
            "1",
            "-nostdin",
            "-recv_timeout",
            f"{timeout_s * 1000}",
            "-timeout",
            f"{timeout_s}s",
            "-timeout_error",
            "-trace_msg",
            "-message_file",
            str(workdir / f"{name}.messages.log"),
            *(["-key", "caller", caller] if caller else []),
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


class Operator(SoftPhone):
    """An operator's SIPp softphone for the bench: answers after ``ring_ms``, talks a fixed
    ``talk_ms`` (or, with ``exponential``, an exponential time of that mean), hangs up."""

    def __init__(
        self,
        user: str,
        password: str,
        *,
        workdir: Path,
        ring_ms: int,
        talk_ms: int,
        exponential: bool = False,
    ) -> None:
        super().__init__(user, password, workdir=workdir, ring_ms=ring_ms, talk_ms=talk_ms)
        self.exponential = exponential

    def _talk_step(self) -> str:
        if self.exponential:
            # SIPp draws from GSL's generator; start() seeds it per phone (GSL_RNG_SEED), or
            # every phone would talk the same sequence of times. (An injection file is not
            # read for calls a phone answers out of its scenario, -oocsf.)
            return (
                f'<pause distribution="exponential" mean="{self.talk_ms}"/>\n  <nop next="hangup"/>'
            )
        return f'<recv request="BYE" timeout="{self.talk_ms}" ontimeout="hangup"/>'

    def _answering(self) -> Path:
        scenario_file = self.workdir / f"{self.user}-{self.port}-operator.xml"
        scenario_file.write_text(
            OPERATOR_SCENARIO.read_text()
            .replace("[ring]", str(self.ring_ms))
            .replace("[talk-step]", self._talk_step())
        )
        return scenario_file

    def start(self, *extra: str) -> Operator:
        """Start answering (pinned, with a message log) and register."""
        self.process = subprocess.Popen(
            [
                *SIPP[: SIPP.index("sipp")],
                *self.command(self._answering(), *extra),
            ],
            env={**os.environ, "GSL_RNG_SEED": str(zlib.crc32(self.user.encode()))},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=self.workdir,
        )
        if not self._wait_registered():
            self.stop()
            raise RuntimeError(f"{self.user} could not register from {self.address}:{self.port}")
        return self

    def log(self) -> list[Message]:
        return read_messages([self.messages])
