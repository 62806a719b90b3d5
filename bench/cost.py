"""`python -m bench.cost`: where a call's cost goes, as counts, at one steady call rate.

Run as root, holding the machine's Asterisk lock:

    flock /tmp/asterisk.lock .venv/bin/python -m bench.cost [--rate 30] [--calls 600]
        [--arms baseline,service] [--perf DIR] [--events]

For each arm, the ceiling's caller (menu to the queue, 1.5 s, hang up) at a steady rate, and
per call: CPU of Asterisk and of the service; Asterisk's taskprocessors' messages (`core show
taskprocessors`, by processor kind); the dialplan's priorities, FastAGI sessions and log lines
(the sandbox's verbose(3) log); the service's AGI commands by verb and the AMI events it read
(its /metrics). With ``--events``, a second AMI login reading everything, unfiltered, counts the
events Asterisk builds per call (their CPU is not comparable then: that login costs too).
With ``--perf DIR``: ``perf record -g`` of Asterisk during the load (DIR/<arm>.data).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.arms import BaselineArm, Lab, ServiceArm, usage
from bench.measure import FIRST_MS, GAP_MS, KEYS
from bench.sipp import caller_xml, run_load

COUNTER = "costcount"


def taskprocessors(lab: Lab) -> dict[str, int]:
    """Messages processed so far, by taskprocessor kind (a name's per-object suffix cut)."""
    out: dict[str, int] = collections.Counter()
    for line in lab.cli("core show taskprocessors").splitlines():
        fields = line.split()
        if len(fields) >= 6 and fields[1].isdigit():
            kind = re.sub(r"[-/:]?[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}.*$", "", fields[0])
            kind = re.sub(r"-[0-9a-f]{8,}$|-\d+$", "", kind)
            out[kind] += int(fields[1])
    return dict(out)


def log_counts(path: Path, offset: int) -> tuple[dict[str, int], int]:
    """What the Asterisk log got since ``offset``: lines, dialplan priorities run, FastAGI
    sessions ended, by application."""
    with path.open("rb") as log:
        log.seek(offset)
        data = log.read()
    counts: dict[str, int] = collections.Counter()
    counts["log_bytes"] = len(data)
    for line in data.decode(errors="replace").splitlines():
        counts["log_lines"] += 1
        if (found := re.search(r"Executing \[[^\]]*\] \S+\(\"[^\"]*\", \"", line)) is not None:
            counts["priorities"] += 1
            app = re.search(r"Executing \[[^\]]*\] (\w+)\(", found.group(0))
            if app:
                counts[f"app {app.group(1)}"] += 1
        elif "AGI Script agi://" in line and " completed" in line:
            counts["agi_sessions"] += 1  # (not "AGI Script Executing Application": an EXEC)
    return dict(counts), offset + len(data)


def syscalls(summary: str, calls: int) -> dict[str, float]:
    """`perf trace -s`'s summary, every thread's syscalls added up, per call."""
    out: collections.Counter[str] = collections.Counter()
    for line in summary.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1].isdigit() and fields[0].isidentifier():
            out[fields[0]] += int(fields[1])
    return {k: round(v / calls, 2) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def service_counts(arm: ServiceArm) -> dict[str, float]:
    metrics = arm.metrics()
    out: dict[str, float] = {}
    for name, labels, value in metrics.get("hotline_agi_command_seconds", []):
        if name.endswith("_count"):
            out[f"agi {labels['command']}"] = value
    for name, labels, value in metrics.get("hotline_ami_events", []):
        if name.endswith("_total"):
            out[f"ami event {labels['event']}"] = value
    for name, labels, value in metrics.get("hotline_ami_action_seconds", []):
        if name.endswith("_count"):
            out[f"ami action {labels.get('action', '')}".strip()] = (
                out.get(f"ami action {labels.get('action', '')}".strip(), 0) + value
            )
    return out


class EventCounter:
    """A second AMI login that reads every event, unfiltered, and counts them by name."""

    def __init__(self, port: int, secret: str) -> None:
        self.counts: dict[str, int] = collections.Counter()
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(
            f"Action: Login\r\nUsername: {COUNTER}\r\nSecret: {secret}\r\n\r\n".encode()
        )
        self.stop = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        buffer = b""
        while not self.stop:
            chunk = self.sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\r\n\r\n")
            for message in messages:
                for line in message.split(b"\r\n"):
                    if line.startswith(b"Event: "):
                        self.counts[line[7:].decode()] += 1
                        break

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)

    def close(self) -> None:
        self.stop = True
        self.sock.close()


def add_counter_login(lab: Lab) -> str:
    secret = "Cost-" + os.urandom(12).hex()
    conf = lab.sandbox.root / "etc/asterisk/manager_hotline.conf"
    text = conf.read_text()
    if f"[{COUNTER}]" in text:
        text = text.split(f"\n[{COUNTER}]")[0]
    conf.write_text(
        text
        + f"\n[{COUNTER}]\nsecret={secret}\npermit=127.0.0.1/255.255.255.255\nread=all\nwrite=\n"
    )
    lab.cli("manager reload")
    return secret


def diff(after: Mapping[str, float], before: Mapping[str, float], calls: int) -> dict[str, float]:
    keys = set(after) | set(before)
    out = {k: round((after.get(k, 0) - before.get(k, 0)) / calls, 3) for k in keys}
    return {k: v for k, v in sorted(out.items(), key=lambda kv: -abs(kv[1])) if v}


def measure_arm(lab: Lab, arm: Any, args: argparse.Namespace, secret: str | None) -> dict[str, Any]:
    scenario = caller_xml(
        lab.workdir, arm.number, KEYS, first_ms=FIRST_MS, gap_ms=GAP_MS, hold_ms=1500
    )
    log = lab.sandbox.root / "var/log/asterisk/messages"
    # warm-up: the first calls load prompts, fill caches
    run_load(lab.workdir, scenario, rate=10, calls=20, timeout_s=60, processes=lab.processes)
    lab.drain()
    if isinstance(arm, ServiceArm):
        arm.wait_call_log()
    time.sleep(1)
    counter = EventCounter(lab.settings.ami_port, secret) if secret else None
    offset = log.stat().st_size
    tasks0 = taskprocessors(lab)
    svc0 = service_counts(arm) if isinstance(arm, ServiceArm) else {}
    ev0 = counter.snapshot() if counter else {}
    use0 = (usage(lab.asterisk_pid()), usage(arm.pid()) if arm.pid() else None)
    perf = None
    stat = lab.workdir / f"{arm.name}.stat"
    if args.stat:
        perf = subprocess.Popen(
            [
                "perf", "stat", "-x", ",", "-o", str(stat), "-p", str(lab.asterisk_pid()),
                "-e", "task-clock,context-switches,raw_syscalls:sys_enter",
                "-e", "syscalls:sys_enter_tgkill",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    elif args.trace:
        perf = subprocess.Popen(
            ["perf", "trace", "-s", "-o", str(stat), "-p", str(lab.asterisk_pid())],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    elif args.perf is not None:
        args.perf.mkdir(parents=True, exist_ok=True)
        perf = subprocess.Popen(
            [
                "perf", "record", "-g", "-p", str(lab.asterisk_pid()),
                *(["-e", args.perf_event] if args.perf_event else ["-F", "499"]),
                "-o", str(args.perf / f"{arm.name}.data"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
    result = run_load(
        lab.workdir,
        scenario,
        rate=args.rate,
        calls=args.calls,
        timeout_s=int(args.calls / args.rate) + 60,
        processes=lab.processes,
    )
    left = lab.drain()
    if isinstance(arm, ServiceArm):
        arm.wait_call_log()
    if perf is not None:
        perf.send_signal(2)
        perf.wait(60)
    use1 = (usage(lab.asterisk_pid()), usage(arm.pid()) if arm.pid() else None)
    tasks1 = taskprocessors(lab)
    svc1 = service_counts(arm) if isinstance(arm, ServiceArm) else {}
    ev1 = counter.snapshot() if counter else {}
    if counter:
        counter.close()
    logs, _ = log_counts(log, offset)
    calls = args.calls
    counted = {}
    if args.trace:
        counted = syscalls(stat.read_text(), calls)
    if args.stat:
        for line in stat.read_text().splitlines():
            fields = line.split(",")
            if len(fields) > 3 and fields[0] and not line.startswith("#"):
                try:
                    counted[fields[2]] = round(float(fields[0]) / calls, 3)
                except ValueError:
                    pass
    out = {
        "rate": args.rate,
        "calls": calls,
        "failed": result.failed + left,
        "asterisk_cpu_ms": round((use1[0].cpu_ms - use0[0].cpu_ms) / calls, 3),
        "service_cpu_ms": (
            round((use1[1].cpu_ms - use0[1].cpu_ms) / calls, 3) if use1[1] and use0[1] else None
        ),
        "perf_stat": counted,
        "log": {k: round(v / calls, 3) for k, v in sorted(logs.items())},
        "taskprocessors": diff(tasks1, tasks0, calls),
        "service": diff(svc1, svc0, calls),
        "ami_built": diff(ev1, ev0, calls),
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__)
    parser.add_argument("--rate", type=float, default=30)
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--arms", default="baseline,service")
    parser.add_argument("--perf", type=Path, default=None)
    parser.add_argument("--events", action="store_true")
    parser.add_argument("--perf-event", default=None, help="with --perf: this event, not cycles")
    parser.add_argument("--stat", action="store_true", help="perf stat of Asterisk: syscalls...")
    parser.add_argument("--trace", action="store_true", help="perf trace -s: syscalls by name")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy of the service here")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="JSON of the figures")
    args = parser.parse_args(argv)
    lab = Lab(lambda line: print(line, flush=True), Path(tempfile.mkdtemp(prefix="cost-")))
    results: dict[str, Any] = {}
    service = ServiceArm(lab)
    service.profile = args.profile
    arms = [a for a in (BaselineArm(lab), service) if a.name in args.arms.split(",")]
    try:
        lab.up()
        secret = add_counter_login(lab) if args.events else None
        settings = lab.cli("manager show settings")
        print("\n".join(line for line in settings.splitlines() if "isabled" in line), flush=True)
        for arm in arms:
            arm.start()
            try:
                for _ in range(args.repeat):
                    figures = measure_arm(lab, arm, args, secret)
                    results.setdefault(arm.name, []).append(figures)
                    print(arm.name, json.dumps(figures, indent=1), flush=True)
            finally:
                arm.stop()
                lab.kill_all()
                lab.drain()
    finally:
        service.stop()
        lab.kill_all()
        try:
            lab.drain(timeout=10)
        finally:
            lab.down()
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
