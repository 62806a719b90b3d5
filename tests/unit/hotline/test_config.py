"""A broken config fails with the file, the path inside it and what is wrong."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.config import ConfigError, load, parse
from tests.conftest import ROOT

DEFAULT = yaml.safe_load((ROOT / "config/hotline.yaml").read_text())


def broken(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    change(raw)
    return raw


CASES = [
    (
        lambda c: c["menus"]["main"]["options"].update({"7": {"line": "consultaton"}}),
        "menus.main.options.7.line: unknown line 'consultaton' (did you mean 'consultation'?)",
    ),
    (
        lambda c: c["menus"]["main"]["options"].update({"x": {"line": "consultation"}}),
        "menus.main.options.x.[key]: 'x' does not match",
    ),
    (
        lambda c: c["menus"]["main"].update(timeout=0),
        "menus.main.timeout: Input should be greater than 0",
    ),
    (
        lambda c: c["menus"]["main"]["options"]["1"].update(menu="main"),
        "menus.main.options.1: needs exactly one of: menu, line, repeat, hangup",
    ),
    (
        lambda c: c["numbers"]["0800213103"].update(start={"menu": "languages"}),
        "numbers.0800213103.start.menu: unknown menu 'languages' (did you mean 'language'?)",
    ),
    (
        lambda c: c["offices"]["sumy"].update(hours=["weekdays 9-6"]),
        "offices.sumy.hours: 'weekdays 9-6' is not opening hours",
    ),
    (
        lambda c: c["offices"]["sumy"].update(timezone="Europe/Sumy"),
        "offices.sumy.timezone: unknown time zone 'Europe/Sumy'",
    ),
    (
        lambda c: c["operators"]["op1"].update(lines=["information", "legal"]),
        "operators.op1.lines.1: unknown line 'legal'",
    ),
    (
        lambda c: c["operators"]["op1"].update(languages=["de"]),
        "operators.op1.languages.0: unknown language 'de'",
    ),
    (
        lambda c: c["lines"]["consultation"].update(offices=["kyiv"]),
        "lines.consultation.offices.0: unknown office 'kyiv'",
    ),
    (
        lambda c: c["lines"]["consultation"].update(colour="red"),
        "lines.consultation.colour: unknown setting",
    ),
    (lambda c: c.pop("trunk"), "trunk: is required"),
    (lambda c: c["trunk"].update(addresses=["not-an-ip"]), "trunk.addresses.0"),
    (
        lambda c: c["lines"]["consultation"]["after_hours"].update(callback=True),
        "lines.consultation.after_hours: choose one: another line, or a callback offer",
    ),
    (
        lambda c: c["menus"]["main"].update(no_input={"repeat": True}),
        "menus.main.no_input: 'repeat' here would ask the caller forever",
    ),
    (
        lambda c: c["security"]["ban"].update(failures=0),
        "security.ban.failures: Input should be greater than or equal to 1",
    ),
    (
        lambda c: c["security"]["ban"].update(ignore=["the office"]),
        "security.ban.ignore.0",
    ),
    (lambda c: c["security"]["ban"].update(forever=True), "security.ban.forever: unknown setting"),
    (
        lambda c: c["trunk"].pop("callbacks"),
        "trunk: with 'outbound', say which numbers callbacks may dial in 'callbacks.allowed'",
    ),
    (
        lambda c: c["trunk"]["callbacks"].update(allowed=["(0[0-9]{9}"]),
        "trunk.callbacks.allowed.0: not a regular expression",
    ),
    (
        lambda c: c["trunk"].pop("outbound") and c["trunk"].update(registration=True),
        "trunk: auth and registration need the carrier's address in 'outbound'",
    ),
    (
        lambda c: c["phones"].update(encryption="required"),
        "phones: encryption: required means tls: true and udp: false",
    ),
    (
        lambda c: c["phones"].update(udp=False, tls=False),
        "phones: phones need a transport: udp, tls or both",
    ),
    (lambda c: c["sip"].update(bind="localhost"), "sip.bind"),
    (
        lambda c: c["offices"]["sumy"].update(country="XX"),
        "offices.sumy: no public holidays are known for country 'XX'",
    ),
    (
        lambda c: c["offices"]["sumy"].update(country="GE", subdivision="ZZ"),
        "offices.sumy: GE has no subdivision 'ZZ' (it has: none)",
    ),
    (
        lambda c: (
            c["offices"]["sumy"].pop("country") and c["offices"]["sumy"].update(subdivision="TB")
        ),
        "offices.sumy: a subdivision needs its country",
    ),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_problem_is_named(change: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(broken(change), "config/hotline.yaml")
    assert f"config/hotline.yaml: {message}" in str(caught.value)


def test_all_problems_reported_at_once() -> None:
    def two(c: dict[str, Any]) -> None:
        c["operators"]["op1"]["office"] = "nowhere"
        c["lines"]["detention"]["after_hours"]["line"] = "nowhere"

    with pytest.raises(ConfigError) as caught:
        parse(broken(two))
    assert len(caught.value.problems) == 2


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("languages: [uk, en\nnumbers: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+, column \d+: not valid YAML"):
        load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "nope.yaml")


def test_default_deployment_reproduces_the_seeds() -> None:
    deployment = parse(DEFAULT)
    assert set(deployment.flow.entries) == {"0800213103", "0322920055", "2145145"}
    assert set(deployment.lines) == {"consultation", "detention", "rehabilitation", "information"}
    assert deployment.lines["detention"].priority > deployment.lines["consultation"].priority
    assert sorted(deployment.operators) == [f"op{i}" for i in range(1, 7)]
    main = deployment.flow.menus["main"]
    assert {
        k: (a.line or a.menu or ("repeat" if a.repeat else "")) for k, a in main.options.items()
    } == {
        "1": "consultation",
        "2": "detention",
        "3": "rehabilitation",
        "4": "information",
        "0": "information",
        "*": "repeat",
    }
    assert deployment.offices["chernivtsi"].schedule.always_open
    ban = deployment.security.ban
    assert (ban.failures, ban.within, ban.seconds) == (5, 600, 900)
    assert [str(net) for net in ban.ignore] == ["127.0.0.1/32"]


def test_without_a_security_section_addresses_are_still_banned() -> None:
    ban = parse(broken(lambda c: c.pop("security"))).security.ban
    assert (ban.failures, ban.within, ban.seconds, ban.ignore) == (5, 600, 900, [])


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_command_ok() -> None:
    done = run_cli("check")
    assert done.returncode == 0, done.stderr
    assert "OK - 3 numbers" in done.stdout


def test_check_command_on_broken_config_gives_no_traceback(tmp_path: Path) -> None:
    raw = broken(CASES[0][0])
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    done = run_cli("check", "--config", str(path))
    assert done.returncode == 2
    assert "menus.main.options.7.line: unknown line 'consultaton'" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_reports_a_missing_prompt(tmp_path: Path) -> None:
    raw = broken(lambda c: c["menus"]["main"].update(prompt="main-menu-2027"))
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    done = run_cli("check", "--config", str(path))
    assert done.returncode == 2
    assert "en/main-menu-2027" in done.stderr and "ka/main-menu-2027" in done.stderr
