"""The two arms on one Asterisk: the hotline service, and the pure-dialplan + app_queue baseline.

:class:`Lab` owns the sandbox (installed with the bench config, plus the baseline's dialplan
and queue), the operators' phones and every process the bench starts, so that all of them
stop even on Ctrl-C. (Over 400 lines: the lab and the two arms are one protocol, each arm
the lab's client; apart they would import each other.)
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.sipp import Operator
from hotline.config.deployment import Deployment
from hotline.config.loading import load
from hotline.config.settings import Settings
from hotline.running.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
CONFIG = BENCH / "hotline.yaml"
#: A Wednesday 11:00 in Kyiv: every line open.
WORKING_HOURS = "2026-11-25T11:00:00+02:00"
SERVICE_NUMBER = "0800213103"
BASELINE_NUMBER = "0800213199"
BASELINE_QUEUE = "bench-information"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Usage:
    """CPU time (ms) and resident memory (kB) of a process at one moment."""

    cpu_ms: float
    rss_kb: int


def usage(pid: int) -> Usage:
    """utime + stime and VmRSS from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return Usage(ticks * 1000 / os.sysconf("SC_CLK_TCK"), rss)


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AsteriskGone(Exception):
    """Asterisk is no longer running: the run's figures would mean nothing."""


class Arm(Protocol):
    """One way of running the hotline: what callers dial, how operators log in."""

    name: str
    number: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def login(self, operators: list[str]) -> None: ...

    def logout(self, operators: list[str]) -> None: ...

    def pid(self) -> int | None:
        """The arm's own process besides Asterisk (None: Asterisk alone)."""
        ...


def install_baseline(sandbox: Sandbox) -> None:
    """Add the baseline's dialplan (0800213199 from the trunk) and queue (app_queue's
    BASELINE_QUEUE, no members) to a running sandbox; once is enough until its next start
    (the tests' Asterisk, with the service's config, takes them too)."""
    etc = sandbox.root / "etc/asterisk"
    for name in ("extensions_baseline.conf", "queues_baseline.conf"):
        shutil.copy(BENCH / "asterisk" / name, etc / name)
    for generated, include in (
        ("extensions_hotline.conf", "extensions_baseline.conf"),
        ("queues_hotline.conf", "queues_baseline.conf"),
    ):
        conf = etc / generated
        if f"#include {include}" not in conf.read_text():
            with conf.open("a") as out:
                out.write(f"\n#include {include}\n")

    def cli(command: str) -> str:
        return sandbox.cli(command, timeout=30).stdout

    for command in ("dialplan reload", "module reload app_queue.so"):
        cli(command)
    shown = cli(f"dialplan show {BASELINE_NUMBER}@from-trunk")
    if BASELINE_NUMBER not in shown:
        raise RuntimeError(f"the baseline dialplan did not load: {shown[-300:]}")
    if BASELINE_QUEUE not in cli(f"queue show {BASELINE_QUEUE}"):
        raise RuntimeError("the baseline queue did not load")


class Lab:
    """The sandboxed Asterisk with both arms installed, the operators and the processes."""

    def __init__(self, progress: Progress, workdir: Path) -> None:
        self.progress = progress
        self.workdir = workdir
        self.settings = Settings(
            config=CONFIG,
            sandbox_dir=ROOT / ".cache/sandbox",
            prompts_dir=ROOT / "recordings/prompts",
            prompts_build_dir=ROOT / "recordings/build",
        )
        self.deployment: Deployment = load(CONFIG)
        self.sandbox = Sandbox(self.settings, ROOT)
        self.secrets: dict[str, str] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.phones: list[Operator] = []

    # -- Asterisk -----------------------------------------------------------------------
    def up(self) -> None:
        """Start Asterisk with the bench config, then add the baseline's dialplan and queue."""
        self.sandbox.build(lambda line: self.progress(f"  {line}"))
        self.secrets = self.sandbox.up(self.deployment, lambda line: self.progress(f"  {line}"))
        install_baseline(self.sandbox)

    def down(self) -> None:
        self.sandbox.down(lambda _: None)

    def cli(self, command: str) -> str:
        return self.sandbox.cli(command, timeout=30).stdout

    def asterisk_pid(self) -> int:
        return int((self.sandbox.root / "run/asterisk/asterisk.pid").read_text().strip())

    def channels(self) -> int:
        match = re.search(r"(\d+) active channel", self.cli("core show channels count"))
        return int(match.group(1)) if match else -1

    def drain(self, timeout: float = 30) -> int:
        """Wait until Asterisk has no channel; hang up what is left after ``timeout``.
        Returns how many channels had to be hung up."""
        deadline = time.monotonic() + timeout
        while (count := self.channels()) and time.monotonic() < deadline:
            if count < 0:
                raise AsteriskGone(
                    "Asterisk stopped during the run (another user of the sandbox without "
                    "/tmp/asterisk.lock?)"
                )
            time.sleep(0.5)
        if count:
            self.progress(f"  ! {count} channel(s) left: hanging them up")
            self.cli("channel request hangup all")
            time.sleep(2)
        return max(count, 0)

    # -- operators ----------------------------------------------------------------------
    def start_phones(
        self, count: int, *, ring_ms: int, talk_ms: int, exponential: bool = False
    ) -> list[Operator]:
        """Register ``count`` operator softphones (op1..), each answering in ``ring_ms``."""
        folder = Path(tempfile.mkdtemp(prefix="phones-", dir=self.workdir))
        phones = []
        for n in range(1, count + 1):
            user = f"op{n}"
            phone = Operator(
                user,
                self.secrets[f"HOTLINE_SIP_PASSWORD_{user.upper()}"],
                workdir=folder,
                ring_ms=ring_ms,
                talk_ms=talk_ms,
                exponential=exponential,
            )
            self.phones.append(phone)
            phones.append(phone.start())
        return phones

    def stop_phones(self) -> None:
        while self.phones:
            phone = self.phones.pop()
            try:
                phone.stop()
            except Exception as exc:  # never leave a SIPp behind for a failed unregister
                self.progress(f"  ! {phone.user}: {exc}")
                if phone.process is not None and phone.process.poll() is None:
                    phone.process.kill()

    def kill_all(self) -> None:
        """Stop every process the bench started (SIPp, phones)."""
        for process in list(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in list(self.processes):
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self.stop_phones()


class BaselineArm:
    """Asterisk alone: the menu in dialplan, app_queue with dynamic members."""

    name = "baseline"
    number = BASELINE_NUMBER

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def start(self) -> None:
        self.lab.cli(f"queue reset stats {BASELINE_QUEUE}")

    def stop(self) -> None:
        self.logout([f"op{n}" for n in range(1, 9)])

    def login(self, operators: list[str]) -> None:
        for op in operators:
            self.lab.cli(f"queue add member PJSIP/{op} to {BASELINE_QUEUE} penalty 0 as {op}")

    def logout(self, operators: list[str]) -> None:
        for op in operators:
            self.lab.cli(f"queue remove member PJSIP/{op} from {BASELINE_QUEUE}")

    def pid(self) -> int | None:
        return None

    def waiting(self) -> int:
        """Callers in the queue now."""
        match = re.search(r"has (\d+) calls", self.lab.cli(f"queue show {BASELINE_QUEUE}"))
        return int(match.group(1)) if match else 0


class ServiceArm:
    """`hotline serve` as its own process (as tests/integration/conftest.py runs it)."""

    name = "service"
    number = SERVICE_NUMBER

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.data: Path | None = None
        #: /metrics of each run of the service, scraped just before it stopped.
        self.scrapes: list[dict[str, list[tuple[str, dict[str, str], float]]]] = []
        #: With a folder: py-spy samples each run of the service into it (collapsed stacks).
        self.profile: Path | None = None
        self._profiler: subprocess.Popen[bytes] | None = None

    @property
    def token(self) -> str:
        return self.lab.secrets["HOTLINE_API_TOKEN"]

    def start(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="service-", dir=self.lab.workdir))
        self.port = free_tcp_port()
        env = {
            **os.environ,
            **self.lab.secrets,
            "HOTLINE_CONFIG": str(CONFIG),
            "HOTLINE_DATA_DIR": str(self.data),
            "HOTLINE_API_PORT": str(self.port),
            "HOTLINE_SANDBOX_DIR": str(self.lab.settings.sandbox_dir),
            "HOTLINE_CLOCK_START": WORKING_HOURS,
        }
        with (self.data / "service.log").open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hotline.cli", "serve"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.lab.processes.append(self.process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited: {self.log()[-2000:]}")
            try:
                if self.get("/health")["ami"]["connected"]:
                    self._start_profiler()
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the service was not healthy in 30 s: {self.log()[-2000:]}")

    def _start_profiler(self) -> None:
        if self.profile is None or self.process is None:
            return
        self.profile.mkdir(parents=True, exist_ok=True)
        out = self.profile / f"service-{len(self.scrapes) + 1}.txt"
        self._profiler = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(self.process.pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.lab.processes.append(self._profiler)

    def log(self) -> str:
        return (self.data / "service.log").read_text(errors="replace") if self.data else ""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> Any:
        reply = httpx.get(
            self.url(path), timeout=10, headers={"Authorization": f"Bearer {self.token}"}
        )
        reply.raise_for_status()
        return reply.json()

    def post(self, path: str) -> None:
        reply = httpx.post(
            self.url(path), timeout=10, headers={"Authorization": f"Bearer {self.token}"}
        )
        if reply.status_code not in (200, 409):  # 409: already in that state
            raise RuntimeError(f"POST {path}: {reply.status_code} {reply.text}")

    def login(self, operators: list[str]) -> None:
        for op in operators:
            self.post(f"/api/agents/{op}/login")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            agents = {a["id"]: a for a in self.get("/api/agents")}
            if all(agents[op]["reachable"] for op in operators):
                return
            time.sleep(0.2)
        raise RuntimeError(f"operators not reachable: {operators}")

    def logout(self, operators: list[str]) -> None:
        for op in operators:
            self.post(f"/api/agents/{op}/logout")

    def waiting(self) -> int:
        return sum(len(line["waiting"]) for line in self.get("/api/queues").values())

    def wait_call_log(self, timeout: float = 60) -> None:
        """Until the call log has written every event it spooled (/health)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.get("/health")["database"]["spooled"]:
                return
            time.sleep(0.2)

    def metrics(self) -> dict[str, list[tuple[str, dict[str, str], float]]]:
        """/metrics, parsed: family name -> [(sample name, labels, value)]."""
        reply = httpx.get(  # (a token of every organisation: the sandbox's supervisor's)
            self.url("/metrics"), timeout=10, headers={"Authorization": f"Bearer {self.token}"}
        )
        reply.raise_for_status()
        return {
            family.name: [(s.name, dict(s.labels), s.value) for s in family.samples]
            for family in text_string_to_metric_families(reply.text)
        }

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            try:
                self.scrapes.append(self.metrics())
            except httpx.HTTPError as exc:
                self.lab.progress(f"  ! /metrics not scraped: {exc}")
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self.lab.processes:
            self.lab.processes.remove(process)
        profiler, self._profiler = self._profiler, None
        if profiler is not None:  # it writes its samples once the service has exited
            try:
                profiler.wait(30)
            except subprocess.TimeoutExpired:
                profiler.kill()
                profiler.wait()
            if profiler in self.lab.processes:
                self.lab.processes.remove(profiler)
        if self.data is not None:
            shutil.rmtree(self.data, ignore_errors=True)
            self.data = None

    def pid(self) -> int | None:
        return self.process.pid if self.process else None
