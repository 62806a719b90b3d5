"""What Asterisk's own logs keep in production (asterisk-config/logger.conf, the dialplans):
no caller number, no number a caller types, no FastAGI secret: nothing to outlive the call
log's retention. (The sandbox logs more for its tests, until its next start:
hotline/running/sandbox.py.)"""

from __future__ import annotations

import re

from tests.conftest import ROOT


def channels() -> dict[str, set[str]]:
    found = {}
    for line in (ROOT / "asterisk-config/logger.conf").read_text().splitlines():
        if "=>" in line and not line.lstrip().startswith(";"):
            name, _, levels = line.partition("=>")
            found[name.strip()] = {level.strip() for level in levels.split(",")}
    return found


def test_no_log_file_keeps_the_dialplans_steps_or_the_keys_callers_press() -> None:
    for name, levels in channels().items():
        # verbose(3): every dialplan step (caller ids, FastAGI URLs and their secret)
        assert not any(re.fullmatch(r"verbose(\([2-9]\))?", level) for level in levels), name
        assert "dtmf" not in levels and "debug" not in levels, name


def test_no_dialplan_line_names_the_caller() -> None:
    for conf in (ROOT / "dialplans").glob("*.conf"):
        for line in conf.read_text().splitlines():
            if re.search(r"\b(NoOp|Verbose|Log)\(", line):
                assert "CALLERID" not in line and "HOTLINE_NUMBER" not in line, (conf, line)


def test_asterisks_logs_are_rotated_daily_and_kept_a_week() -> None:
    rules = (ROOT / "asterisk-config/logrotate").read_text()
    assert "/var/log/asterisk/messages" in rules and "/var/log/asterisk/security" in rules
    assert re.search(r"^\s+daily$", rules, re.M) and re.search(r"^\s+rotate 7$", rules, re.M)
