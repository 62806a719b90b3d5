"""The sandbox as a developer meets it: a second checkout's sandbox on the same host is
refused while the first one's Asterisk holds the ports (it would start, fail to bind, and let
its calls reach the other Asterisk), and `hotline up` stops the Asterisk it started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.config.deployment import Deployment
from hotline.running.sandbox import Sandbox, SandboxError
from tests import isolation
from tests.conftest import ROOT
from tests.integration.conftest import SHARED_SANDBOX, Asterisk, progress, sandbox_settings


@pytest.fixture
def second() -> Iterator[Path]:
    """Another checkout's sandbox folder: the built sandbox through an overlay of its own
    (a short path: fail2ban's socket in it must fit a Unix socket's 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="hl-", dir="/tmp"))
    isolation.mount_overlay(SHARED_SANDBOX / "root", folder)
    try:
        yield folder
    finally:
        isolation.remove_overlay(folder)


def run_by(root: Path) -> list[int]:
    """The processes running in ``root`` (a chroot)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "root") == str(root):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_second_sandbox_is_refused_naming_the_asterisk_that_holds_the_ports(
    asterisk: Asterisk, deployment: Deployment, second: Path
) -> None:
    first = asterisk.sandbox
    pid = (first.root / "run/asterisk/asterisk.pid").read_text().strip()
    other = Sandbox(sandbox_settings(second), ROOT)
    with pytest.raises(SandboxError) as refused:
        other.up(deployment, progress)
    said = str(refused.value)
    assert f"127.0.0.1:5060/udp is taken by asterisk (pid {pid}, root {first.root})" in said
    assert f"127.0.0.1:5038/tcp is taken by asterisk (pid {pid}" in said
    assert "hotline sandbox down" in said
    assert not run_by(other.root)  # nothing started
    assert first.running()  # and the first one untouched
    for folder, running in ((first.dir, True), (second, False)):
        said = subprocess.run(
            [str(Path(sys.executable).parent / "hotline"), "sandbox", "status", "--json"],
            cwd=ROOT,
            env={**os.environ, "HOTLINE_SANDBOX_DIR": str(folder)},
            capture_output=True,
            text=True,
            check=True,
        )
        facts = json.loads(said.stdout)
        assert (facts["built"], facts["running"]) == (True, running), facts
        assert "Asterisk 22" in facts["version"], facts


def test_hotline_up_stops_the_asterisk_it_started(second: Path, tmp_path: Path) -> None:
    """`hotline up` on a host of its own (a network namespace): the sandbox and the service
    come up; Ctrl-C stops both, and no Asterisk is left in its root."""
    namespace = f"{isolation.PREFIX}{os.getpid()}-up"
    isolation.remove_namespace(namespace)
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
    env = {
        **os.environ,
        "HOTLINE_SANDBOX_DIR": str(second),
        "HOTLINE_DATA_DIR": str(tmp_path / "data"),
        "HOTLINE_CONFIG": str(ROOT / "config/hotline.yaml"),
    }
    lines: list[str] = []
    up = subprocess.Popen(
        ["ip", "netns", "exec", namespace, str(Path(sys.executable).parent / "hotline"), "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert up.stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(up.stderr or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        while not any("API on http://" in line for line in lines):
            assert up.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.3)
        root = second / "root"
        assert run_by(root), "no Asterisk in the sandbox's root"
        up.send_signal(signal.SIGINT)  # Ctrl-C
        up.wait(60)
        reader.join(10)
        said = "".join(lines)
        assert "stopping the sandbox's Asterisk" in said and "Asterisk stopped" in said, said
        deadline = time.monotonic() + 15
        while run_by(root):
            assert time.monotonic() < deadline, f"left running in {root}: {run_by(root)}"
            time.sleep(0.3)
    finally:
        if up.poll() is None:
            up.kill()
        up.wait()
        up.stderr.close()
        isolation.remove_namespace(namespace)
