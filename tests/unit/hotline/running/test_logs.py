"""The service's log lines and the command's settings, as an operator of the service meets
them: JSON lines with the call, numbers masked, a bad setting named, .env read by every
command (the real `hotline` command, run as a process)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline import __version__
from hotline.asterisk.render import password_variable
from hotline.config.loading import load
from hotline.running import logs

ROOT = Path(__file__).resolve().parents[4]


def hotline(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def root_logger() -> Iterator[None]:
    """The root logger as it was after the test (pytest's own capture)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_call_being_served(
    capsys: pytest.CaptureFixture[str], root_logger: None
) -> None:
    logs.setup("INFO", "json")
    log = logging.getLogger("hotline.test")
    log.info("outside any call")
    token = logs.CALL.set("1796558524.3")
    try:
        log.warning("routed %s", "consultation")
    finally:
        logs.CALL.reset(token)
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert "call" not in first
    assert second["call"] == "1796558524.3"
    assert (second["level"], second["logger"]) == ("WARNING", "hotline.test")
    assert second["message"] == "routed consultation"
    assert second["time"].endswith("+00:00")


def test_a_json_line_has_the_documented_fields_and_no_others(
    capsys: pytest.CaptureFixture[str], root_logger: None
) -> None:
    """time, level, logger, message, call, exception: what docs/commands.md promises a log
    collector; an extra a library puts on its records (uvicorn's ``color_message``) is left out,
    and a message's letters are kept as they are."""
    logs.setup("INFO", "json")
    log = logging.getLogger("hotline.test")
    log.info("Дзвінок %s", "прийнято", extra={"color_message": "\x1b[1mnoise\x1b[0m"})
    token = logs.CALL.set("1796558524.3")
    try:
        try:
            raise RuntimeError("the database went away")
        except RuntimeError:
            log.exception("could not store")
    finally:
        logs.CALL.reset(token)
    lines = capsys.readouterr().err.splitlines()
    assert "Дзвінок прийнято" in lines[0]  # (not \\u-escaped)
    plain, failed = (json.loads(line) for line in lines)
    assert list(plain) == ["time", "level", "logger", "message"]
    assert plain["message"] == "Дзвінок прийнято" and plain["level"] == "INFO"
    assert list(failed) == ["time", "level", "logger", "message", "call", "exception"]
    assert failed["exception"].startswith("Traceback (most recent call last):")
    assert failed["exception"].endswith("RuntimeError: the database went away")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", failed["time"])


def test_the_access_log_masks_caller_numbers_not_call_ids() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/1.1" %d', None, None
    )
    record.args = ("127.0.0.1:5000", "GET", "/api/calls?caller=380501234567&call=1796558524.3", 200)
    logs.NumbersMasked().filter(record)
    line = record.getMessage()
    assert "380501234567" not in line and "caller=**********67" in line
    assert "call=1796558524.3" in line


def test_version_and_bad_settings_named_with_exit_code_2(tmp_path: Path) -> None:
    shown = hotline("--version", cwd=tmp_path)
    assert (shown.returncode, shown.stdout.strip()) == (0, f"hotline {__version__}")
    bad = hotline(
        "check",
        "--config",
        str(ROOT / "config/hotline.yaml"),
        cwd=tmp_path,
        HOTLINE_LOG_LEVEL="loud",
        HOTLINE_AMI_SECRET="",
        HOTLINE_LEASE_SECONDS="soon",
    )
    assert bad.returncode == 2
    assert "HOTLINE_LOG_LEVEL='LOUD': Input should be 'DEBUG'" in bad.stderr
    assert "HOTLINE_LEASE_SECONDS='soon'" in bad.stderr


def test_hotline_env_makes_an_env_file_that_asterisk_render_reads(tmp_path: Path) -> None:
    """`hotline env > .env`, then `hotline asterisk render` (no secret in the environment):
    the rendered files hold the env file's secrets, every phone's among them."""
    config = str(ROOT / "config/hotline.yaml")
    made = hotline("env", "--config", config, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    secrets = dict(line.split("=", 1) for line in made.stdout.splitlines())
    deployment = load(ROOT / "config/hotline.yaml")
    wanted = {password_variable(p) for p in deployment.endpoints} | {"POSTGRES_PASSWORD"}
    assert wanted <= secrets.keys() and len(set(secrets.values())) == len(secrets)
    (tmp_path / ".env").write_text(made.stdout)
    done = hotline("asterisk", "render", "out", "--config", config, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    assert secrets["HOTLINE_AMI_SECRET"] in (out / "manager_hotline.conf").read_text()
    assert secrets["HOTLINE_AGI_SECRET"] in (out / "extensions_hotline.conf").read_text()
    assert secrets["HOTLINE_SIP_PASSWORD_OP3"] in (out / "pjsip_hotline.conf").read_text()
