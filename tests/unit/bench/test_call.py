"""`python -m bench.call`, the test call tool: its exit codes are `hotline`'s (1, a failure
while running; 2, a usage error), and it says what to start when the service is away."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import ROOT
from tests.unit.hotline.test_exit_codes import closed_port, run_module


def bench_call(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_module("bench.call", *args, cwd=ROOT, **env)


def test_a_service_that_does_not_answer_is_a_failure_while_running() -> None:
    done = bench_call("0800213103", "--keys", "1", HOTLINE_API_PORT=str(closed_port()))
    assert done.returncode == 1, done.stderr
    assert "does not answer" in done.stderr and "`hotline up`" in done.stderr


def test_keys_a_phone_cannot_press_are_a_usage_error(tmp_path: Path) -> None:
    done = bench_call("0800213103", "--keys", "1x", HOTLINE_DATA_DIR=str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert "--keys" in done.stderr and "Traceback" not in done.stderr
