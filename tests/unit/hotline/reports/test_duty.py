"""Who is on duty in the service (hotline/reports/duty.py): the escalation's question, the gaps in
words, the gauges, a calendar changed on disk, and `hotline check` naming every gap of the
next 14 days as warnings (exit 0)."""

from __future__ import annotations

import copy
import dataclasses
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from agents.rota import DutyRole, localize
from hotline.config.deployment import Deployment
from hotline.config.loading import parse
from hotline.reports.calendars import CalendarError
from hotline.reports.duty import Duty, DutyGauges, Gap, UnknownRota
from tests.conftest import ROOT
from tests.unit.hotline.config.test_duty_config import DEFAULT, national
from tests.unit.hotline.reports.test_calendars import ONE, ics

KYIV = "Europe/Kyiv"
#: Monday 7 December 2026, 10:00 in Kyiv.
MONDAY = "2026-12-07T10:00:00+02:00"
#: The brief's night pattern alone: Monday to Friday's days and Monday's early hours empty.
NIGHTS_ONLY = [{"who": ["kovalenko", "bondar"], "when": ["mon-fri 18:00-09:00", "sat-sun always"]}]


def kyiv(text: str) -> datetime:
    return localize(datetime.fromisoformat(text), ZoneInfo(KYIV))


def deployment_with(change: Any) -> Deployment:
    raw = copy.deepcopy(DEFAULT)
    change(raw)
    return parse(raw)


def fixed(at: datetime) -> Any:
    return lambda: at


def test_the_escalation_asks_who_is_on_duty() -> None:
    duty = Duty(parse(DEFAULT), fixed(kyiv("2026-12-12 03:00")))
    saturday_night = kyiv("2026-12-13 03:00")
    for rota in (None, "national"):
        found = duty.on_duty("ua-legal-aid", rota, saturday_night, DutyRole.LAWYER)
        assert [(p.id, p.phone, p.language) for p in found] == [
            # (the config's 0671234501, read in Ukraine: every number is kept in E.164)
            ("kovalenko", "+380671234501", "uk"),
            ("bondar", "+380501234502", "uk"),
        ]
    assert [
        p.id for p in duty.on_duty("ge-legal-aid", None, saturday_night, DutyRole.SUPERVISOR)
    ] == ["lomidze"]
    with pytest.raises(UnknownRota, match=r"ua-legal-aid has no rota 'kyiv' \(it has: national\)"):
        duty.on_duty("ua-legal-aid", "kyiv", saturday_night, DutyRole.LAWYER)
    with pytest.raises(UnknownRota, match="no organisation 'pl-legal-aid'"):
        duty.on_duty("pl-legal-aid", None, saturday_night, DutyRole.LAWYER)


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-12-12 02:00", "2026-12-12 08:00", "Saturday 2026-12-12 02:00-08:00"),
        ("2026-12-12 18:00", "2026-12-13 00:00", "Saturday 2026-12-12 18:00-24:00"),
        (
            "2026-12-12 22:00",
            "2026-12-14 06:30",
            "Saturday 2026-12-12 22:00 to Monday 2026-12-14 06:30",
        ),
    ],
)
def test_a_gap_in_words(start: str, end: str, says: str) -> None:
    gap = Gap("ua-legal-aid", "national", DutyRole.LAWYER, kyiv(start), kyiv(end), KYIV)
    assert gap.says() == f"ua-legal-aid rota national: no lawyer on duty {says} (Europe/Kyiv)"


def test_the_gaps_of_every_rota_earliest_first_and_their_gauges() -> None:
    deployment = deployment_with(lambda c: national(c).update(lawyers=NIGHTS_ONLY))
    duty = Duty(deployment, fixed(kyiv("2026-12-07 10:00")))
    gaps = duty.gaps(kyiv("2026-12-07 10:00"), kyiv("2026-12-09 00:00"))
    assert [g.says().split(": ", 1)[1] for g in gaps] == [
        "no lawyer on duty Monday 2026-12-07 10:00-18:00 (Europe/Kyiv)",
        "no lawyer on duty Tuesday 2026-12-08 09:00-18:00 (Europe/Kyiv)",
    ]
    samples = {
        (s.name, s.labels["organisation"], s.labels.get("role")): s.value
        for family in DutyGauges(duty).collect()
        for s in family.samples
    }
    ua = "ua-legal-aid"
    assert samples["hotline_duty_people", ua, "lawyer"] == 0  # nobody now: Monday morning
    assert samples["hotline_duty_people", ua, "supervisor"] == 1
    assert samples["hotline_duty_next_gap_seconds", ua, "lawyer"] == 0
    # ten working days of nine hours, Monday from 10:00 and the next Monday's early hours
    # up to 10:00, within the 14 days
    hours = 8 + 4 * 9 + (9 + 9) + 4 * 9 + 10
    assert samples["hotline_duty_gap_seconds", ua, "lawyer"] == hours * 3600
    assert samples["hotline_duty_gap_seconds", ua, "supervisor"] == 0
    assert ("hotline_duty_next_gap_seconds", ua, "supervisor") not in samples
    assert samples["hotline_duty_gap_seconds", "ge-legal-aid", "lawyer"] == 0


async def test_a_calendar_changed_on_disk_is_used_at_once(tmp_path: Path) -> None:
    path = tmp_path / "duty-ua.ics"
    path.write_text(ics(ONE.format(who="kovalenko")))
    deployment = deployment_with(
        lambda c: national(c).update(lawyers=[], calendar={"file": str(path)})
    )
    now = datetime(2026, 12, 7, 10, tzinfo=UTC)
    duty = Duty(deployment, fixed(now))
    assert [p.id for p in duty.on_duty("ua-legal-aid", None, now, DutyRole.LAWYER)] == ["kovalenko"]
    assert await duty.refresh(None) == 0  # (read by the config already)
    path.write_text(ics(ONE.format(who="bondar")))
    assert await duty.refresh(None) == 1
    assert [p.id for p in duty.on_duty("ua-legal-aid", None, now, DutyRole.LAWYER)] == ["bondar"]
    path.write_text("not a calendar")
    assert await duty.refresh(None) == 0
    assert [p.id for p in duty.on_duty("ua-legal-aid", None, now, DutyRole.LAWYER)] == ["bondar"]
    health = duty.health()
    assert health["ok"] is False
    (state,) = health["calendars"]
    assert (state["rota"], state["source"], state["ok"]) == ("national", str(path), False)
    assert "not an iCalendar file" in state["error"]


def check(config: Path, clock: str = MONDAY) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", "check", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOTLINE_CLOCK_START": clock},
    )


def write(tmp_path: Path, change: Any) -> Path:
    raw = copy.deepcopy(DEFAULT)
    change(raw)
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def test_check_names_every_gap_of_the_next_14_days_and_exits_0(tmp_path: Path) -> None:
    done = check(write(tmp_path, lambda c: national(c).update(lawyers=NIGHTS_ONLY)))
    assert done.returncode == 0, done.stderr
    assert "OK - 3 organisation(s)" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if ": warning: " in line]
    said = [line.split(": warning: ", 1)[1] for line in warnings]
    rota = "ua-legal-aid rota national: no lawyer on duty"
    assert said[:2] == [
        f"{rota} Monday 2026-12-07 10:00-18:00 (Europe/Kyiv)",
        f"{rota} Tuesday 2026-12-08 09:00-18:00 (Europe/Kyiv)",
    ]
    assert said[5] == f"{rota} Monday 2026-12-14 00:00-18:00 (Europe/Kyiv)"
    assert len(said) == 11  # ten working days, and the last Monday up to the 14 days' end
    assert all(line.startswith(f"{tmp_path / 'hotline.yaml'}: warning: ") for line in warnings)


def test_check_of_the_default_config_says_no_gap() -> None:
    done = check(ROOT / "config/hotline.yaml")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr


def test_check_warns_of_a_calendar_url_it_cannot_reach_and_an_event_naming_nobody(
    tmp_path: Path,
) -> None:
    calendar = tmp_path / "duty-ge.ics"
    calendar.write_text(ics(ONE.format(who="Somebody Else")))

    def change(c: dict[str, Any]) -> None:
        national(c).update(calendar={"url": "http://127.0.0.1:9/duty.ics"})
        rota = c["organisations"]["ge-legal-aid"]["duty"]["rotas"]["tbilisi"]
        rota["calendar"] = {"file": str(calendar)}

    done = check(write(tmp_path, change))
    assert done.returncode == 0, done.stderr
    assert (
        "warning: ua-legal-aid rota national: calendar http://127.0.0.1/...: "
        "http://127.0.0.1/... unreachable"
    ) in done.stderr
    assert (
        f"warning: ge-legal-aid rota tbilisi: calendar {calendar}: event 'Somebody Else' at "
        "2026-12-01 00:00 UTC names none of the duty people"
    ) in done.stderr


class Failing:
    """A calendar that parsed but fails on these days (one of its rules, say)."""

    def between(self, start: datetime, end: datetime) -> list[Any]:
        raise CalendarError("BYSETPOS out of range")


def test_a_calendar_that_fails_later_leaves_the_pattern_answering(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = kyiv("2026-12-12 03:00")
    duty = Duty(parse(DEFAULT), fixed(now))
    rotas = duty.rotas("ua-legal-aid")
    rotas["national"] = dataclasses.replace(rotas["national"], calendar=Failing())
    found = duty.on_duty("ua-legal-aid", None, now, DutyRole.LAWYER)
    assert [p.id for p in found] == ["kovalenko", "bondar"]
    assert duty.gaps(now, now + timedelta(days=14)) == []
    assert "ua-legal-aid rota national: its calendar fails (BYSETPOS out of range)" in caplog.text
