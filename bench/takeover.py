"""How long a standby takes to take over: the active instance SIGKILLed N times.

    flock /tmp/asterisk.lock .venv/bin/python -m bench.takeover [--kills 10] [--lease 3]

Two `hotline serve` with HOTLINE_HA on a fresh PostgreSQL database (the machine's, through
its Unix socket) and the sandbox Asterisk. Each round: a caller waits on the information line
(nobody logged in), the active instance is SIGKILLed, and the bench times, from the kill,
when the other says it is active (``/health/live``) and when its queue holds the caller again
(``/api/queues``); the killed one is started again, as the standby of the next round. It
prints a line per round and the p50 and max of both.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.arms import CONFIG, ROOT, WORKING_HOURS, Lab, free_tcp_port
from bench.sipcall import SippCall

POSTGRES = "/var/run/postgresql"
INFORMATION = ("0800213103", "14")


def psql(sql: str) -> None:
    command = ["psql", "-q", "-h", POSTGRES, "-U", "postgres", "-d", "test", "-c", sql]
    subprocess.run(command, check=True)


class Instance:
    def __init__(self, lab: Lab, name: str, database: str, lease: float, agi_port: int) -> None:
        self.name = name
        self.api = free_tcp_port()
        self.data = Path(tempfile.mkdtemp(prefix=f"takeover-{name}-", dir=lab.workdir))
        self.env = {
            **os.environ,
            **lab.secrets,
            "HOTLINE_CONFIG": str(CONFIG),
            "HOTLINE_DATA_DIR": str(self.data),
            "HOTLINE_API_PORT": str(self.api),
            "HOTLINE_AGI_PORT": str(agi_port),
            "HOTLINE_SANDBOX_DIR": str(lab.settings.sandbox_dir),
            "HOTLINE_CLOCK_START": WORKING_HOURS,
            "HOTLINE_HA": "true",
            "HOTLINE_INSTANCE": name,
            "HOTLINE_LEASE_SECONDS": str(lease),
            "HOTLINE_DATABASE_URL": database,
            "HOTLINE_GUARD": "false",
        }
        self.token = lab.secrets["HOTLINE_API_TOKEN"]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.data / "service.log").open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "hotline.cli", "serve"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: self.role() is not None, 30, f"{self.name} did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def role(self) -> str | None:
        try:
            reply = httpx.get(f"http://127.0.0.1:{self.api}/health/live", timeout=1)
            return str(reply.json()["role"])
        except (httpx.HTTPError, KeyError, ValueError):
            return None

    def is_active(self) -> bool:
        return self.role() == "active"

    def has_caller(self) -> bool:
        return self.waiting() == 1

    def waiting(self) -> int:
        reply = httpx.get(
            f"http://127.0.0.1:{self.api}/api/queues",
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=2,
        )
        return len(reply.json()["information"]["waiting"]) if reply.status_code == 200 else 0


def wait_for(check: Callable[[], object], seconds: float, what: str) -> float:
    """When ``check`` held (monotonic), polled every 20 ms."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(what)
        time.sleep(0.02)
    return time.monotonic()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.takeover", description=__doc__)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--lease", type=float, default=3.0, help="HOTLINE_LEASE_SECONDS")
    args = parser.parse_args(argv)
    name = f"hotline_takeover_{uuid.uuid4().hex[:8]}"
    lab = Lab(print, Path(tempfile.mkdtemp(prefix="bench-takeover-")))
    psql(f'CREATE DATABASE "{name}"')
    instances: list[Instance] = []
    try:
        print("sandbox: starting Asterisk")
        lab.up()
        database = f"postgresql+asyncpg://postgres@/{name}?host={POSTGRES}"
        # the first serves at the dialplan's rendered FastAGI port; each sets it on taking over
        instances = [
            Instance(lab, "x", database, args.lease, 4573),
            Instance(lab, "y", database, args.lease, free_tcp_port()),
        ]
        for instance in instances:
            instance.start()
        active, standby = instances
        wait_for(active.is_active, 15, "no instance became active")
        roles, queues = [], []
        for round_ in range(1, args.kills + 1):
            caller = SippCall(*INFORMATION, hold_ms=20_000)
            wait_for(active.has_caller, 30, "the caller is not waiting")
            active.kill()
            killed = time.monotonic()
            roles.append(wait_for(standby.is_active, 30, "no takeover"))
            queues.append(wait_for(standby.has_caller, 30, "the caller was not found"))
            roles[-1] -= killed
            queues[-1] -= killed
            print(f"round {round_}: active after {roles[-1]:.2f} s, caller queued after "
                  f"{queues[-1]:.2f} s")  # fmt: skip
            caller.wait()
            active.start()  # as the standby of the next round
            active, standby = standby, active
        print(f"\n{args.kills} kills, lease {args.lease:g} s: active after p50 "
              f"{statistics.median(roles):.2f} s, max {max(roles):.2f} s; the waiting caller "
              f"queued again after p50 {statistics.median(queues):.2f} s, max "
              f"{max(queues):.2f} s")  # fmt: skip
        return 0
    finally:
        for instance in instances:
            instance.kill()
        lab.down()
        psql(f'DROP DATABASE "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
