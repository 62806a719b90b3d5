"""The CLI as its help and docs/security.md say. Exit codes: 1, a failure while running (a database
or a service that does not answer); 2, a usage or config error (a bad option or setting)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import ROOT


def hotline(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run_module("hotline.cli", *args, cwd=cwd, **env)


def run_module(module: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` as a user runs it, with the project's config."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={**os.environ, "HOTLINE_CONFIG": str(ROOT / "config/hotline.yaml"), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", [("db", "status"), ("token", "list")])
def test_a_database_that_does_not_answer_is_a_failure_while_running(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    url = f"postgresql+asyncpg://hotline@127.0.0.1:{closed_port()}/hotline"
    done = hotline(*command, cwd=tmp_path, HOTLINE_DATABASE_URL=url)
    assert done.returncode == 1, done.stderr
    assert "database" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("token", "create", "--role", "root", "--name", "x", "--all-organisations"), "--role"),
        (("forecast", "--week", "last week"), "--week"),
        (("call", "0800213103", "--keys", "12"), "python -m bench.call"),
        (("check", "--config", "/nowhere/hotline.yaml"), "invalid config"),
    ],
)
def test_a_usage_or_config_error_exits_2(args: tuple[str, ...], said: str, tmp_path: Path) -> None:
    done = hotline(*args, cwd=ROOT, HOTLINE_DATA_DIR=str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr


def test_a_bad_setting_exits_2(tmp_path: Path) -> None:
    done = hotline("db", "status", cwd=tmp_path, HOTLINE_API_PORT="eighty")
    assert done.returncode == 2, done.stderr
    assert "HOTLINE_API_PORT" in done.stderr


def test_the_call_log_a_command_creates_is_the_service_users_alone(tmp_path: Path) -> None:
    """`hotline db status` in an empty folder: data/ 0700, data/hotline.db 0600 (docs/security.md);
    an older database readable by others is made 0600."""
    done = hotline("db", "status", cwd=tmp_path)
    assert "schema out of date" in done.stdout, done.stderr  # (exit 1: not migrated yet)
    data = tmp_path / "data"
    assert (data.stat().st_mode & 0o777, (data / "hotline.db").stat().st_mode & 0o777) == (
        0o700,
        0o600,
    )
    (data / "hotline.db").chmod(0o644)
    assert hotline("db", "upgrade", cwd=tmp_path).returncode == 0
    for file in data.glob("hotline.db*"):
        assert file.stat().st_mode & 0o077 == 0, file


def test_every_listing_speaks_json(tmp_path: Path) -> None:
    """`--json` on check, db status, token list, forecast, report and sandbox status (and
    `bench.call`'s): what a script reads without parsing sentences; roles and a report's
    languages are choices the help lists."""
    checked = json.loads(hotline("check", "--json", cwd=ROOT).stdout)
    assert checked["ok"] is True and checked["organisations"] == 3, checked
    assert isinstance(checked["warnings"], list)
    assert hotline("db", "upgrade", cwd=tmp_path).returncode == 0
    assert json.loads(hotline("db", "status", "--json", cwd=tmp_path).stdout) == {
        "reachable": True,
        "current": True,
    }
    made = hotline("token", "create", "--role", "viewer", "--name", "wall",
                   "--organisation", "ge-legal-aid", cwd=tmp_path)  # fmt: skip
    assert made.returncode == 0, made.stderr
    (listed,) = json.loads(hotline("token", "list", "--json", cwd=tmp_path).stdout)
    assert (listed["role"], listed["organisation"], listed["name"]) == (
        "viewer",
        "ge-legal-aid",
        "wall",
    )
    assert made.stdout.strip() not in json.dumps(listed)  # (never the token itself)
    helped = hotline("token", "create", "--help", cwd=tmp_path).stdout
    assert all(role in helped for role in ("supervisor", "operator", "viewer", "metrics"))
    weeks = json.loads(hotline("forecast", "--json", "--week", "2026-11-18", cwd=tmp_path).stdout)
    assert weeks == []  # (no call in the log: no hour to size)
    reported = hotline("report", "2026-11", "-g", "ua-legal-aid", "--json", cwd=tmp_path)
    assert reported.returncode == 0, reported.stderr
    figures = json.loads(reported.stdout)  # (its progress on stderr, never in the JSON)
    assert (figures["organisation"], figures["period"], figures["timezone"]) == (
        "ua-legal-aid",
        "2026-11",
        "Europe/Kyiv",
    )
    assert figures["total"]["offered"] == 0 and len(figures["hours"]) == 24
    assert "\x1b[" not in reported.stderr  # (no terminal: plain lines, no bar)
    assert not list(tmp_path.glob("*.pdf")) and not list(tmp_path.glob("*.csv"))
    sandbox = json.loads(
        hotline(
            "sandbox", "status", "--json", cwd=tmp_path, HOTLINE_SANDBOX_DIR=str(tmp_path)
        ).stdout
    )
    assert sandbox["built"] is False and sandbox["running"] is False
    helped = hotline("report", "--help", cwd=tmp_path).stdout
    assert "--json" in helped and "<en|uk|ka|ru>" in helped


def test_asterisk_render_lists_what_it_wrote_as_json(tmp_path: Path) -> None:
    made = hotline("env", cwd=tmp_path)
    (tmp_path / ".env").write_text(made.stdout)
    done = hotline("asterisk", "render", "out", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)
    assert (written["sounds"], written["prompts_built"]) == (None, None)
    names = {Path(file).name for file in written["files"]}
    assert {"pjsip_hotline.conf", "fail2ban-hotline.conf", "nftables-hotline.nft"} <= names
    assert all((tmp_path / file).is_file() for file in written["files"])


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("forecast", "--line", "consultatoin"), "--line 'consultatoin': one of consultation,"),
        (("forecast", "--organisation", "ua"), "--organisation 'ua': one of ua-legal-aid, "),
        (("report", "2026", "-g", "ua", "--json"), "--organisation 'ua': one of ua-legal-aid, "),
        (("token", "create", "--role", "operator", "--name", "x", "--operator", "op99"),
         "--operator 'op99': one of op1, op2,"),
        (("token", "create", "--role", "viewer", "--name", "x", "--organisation", "ua"),
         "--organisation 'ua': one of ua-legal-aid, "),
    ],
)  # fmt: skip
def test_a_value_the_config_does_not_have_is_named_with_those_it_has(
    args: tuple[str, ...], said: str, tmp_path: Path
) -> None:
    done = hotline(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("line", "offered"),
    [
        ("hotline forecast --organisation ", {"ua-legal-aid", "ge-legal-aid", "ge-rehabilitation"}),
        ("hotline forecast --line cons", {"consultation"}),
        ("hotline token create --operator op", {f"op{n}" for n in range(1, 7)}),
        ("hotline report 2026 --language ", {"en", "uk", "ka", "ru"}),
        ("hotline report 2026 -c /nowhere.yaml -g ", set()),  # (a config it cannot read: nothing)
    ],
)
def test_the_shell_completes_the_configs_ids(line: str, offered: set[str], tmp_path: Path) -> None:
    """Tab after --organisation, --line, --operator: the config's ids (`hotline
    --install-completion` puts this in the shell)."""
    words = line.split()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "hotline")],
        cwd=tmp_path,
        env={
            **os.environ,
            "HOTLINE_CONFIG": str(ROOT / "config/hotline.yaml"),
            "_HOTLINE_COMPLETE": "complete_bash",
            "COMP_WORDS": line,
            "COMP_CWORD": str(len(words) if line.endswith(" ") else len(words) - 1),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == offered


def test_a_token_expires_unless_told_never(tmp_path: Path) -> None:
    """`token create`: 365 days by default, `--days N`, or `--never-expires`; `token list`
    says when each expires and was last used."""
    assert hotline("db", "upgrade", cwd=tmp_path).returncode == 0
    for extra in ([], ["--days", "7"], ["--never-expires"]):
        made = hotline("token", "create", "--role", "metrics", "--name", f"prom{len(extra)}",
                       "--all-organisations", *extra, cwd=tmp_path)  # fmt: skip
        assert made.returncode == 0, made.stderr
    listed = json.loads(hotline("token", "list", "--json", cwd=tmp_path).stdout)
    created = [datetime.fromisoformat(row["created_at"]) for row in listed]
    expires = [row["expires_at"] and datetime.fromisoformat(row["expires_at"]) for row in listed]
    assert [e - c if e else None for e, c in zip(expires, created, strict=True)] == [
        timedelta(days=365),
        timedelta(days=7),
        None,
    ]
    assert [row["last_used_at"] for row in listed] == [None] * 3
    shown = hotline("token", "list", cwd=tmp_path).stdout
    assert "never expires" in shown and "never used" in shown, shown
    assert hotline("token", "create", "--role", "viewer", "--name", "x", "--all-organisations",
                   "--days", "0", cwd=tmp_path).returncode == 2  # fmt: skip
