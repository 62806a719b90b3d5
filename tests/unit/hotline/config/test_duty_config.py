"""An organisation's duty section (hotline/config/duty.py): a mistake names the file, the path
in it and what is wrong; the default config's rotas leave no hour uncovered."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.rota import DutyRole
from hotline.config.loading import ConfigError, load, parse
from tests.conftest import ROOT, ukraine

DEFAULT = yaml.safe_load((ROOT / "config/hotline.yaml").read_text())
DUTY = "organisations.ua-legal-aid.duty."
NATIONAL = DUTY + "rotas.national."


def duty(config: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = ukraine(config)["duty"]
    return found


def national(config: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = duty(config)["rotas"]["national"]
    return found


def kovalenko(config: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = duty(config)["people"]["kovalenko"]
    return found


def changed(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    change(raw)
    return raw


CASES = [
    (
        lambda c: national(c)["lawyers"][0].update(who=["shevchenko", "kovalenk"]),
        NATIONAL + "lawyers.0.who.1: unknown person 'kovalenk' (did you mean 'kovalenko'?)",
    ),
    (
        lambda c: national(c)["supervisors"][0].update(who=["melnyk", "melnyk"]),
        NATIONAL + "supervisors.0.who.1: 'melnyk' is named twice",
    ),
    (
        lambda c: kovalenko(c).update(language="ka"),
        DUTY + "people.kovalenko.language: language 'ka' is not one of the organisation's "
        "(uk, en, ru)",
    ),
    (
        lambda c: kovalenko(c).update(phone="0900212345"),  # premium rate
        DUTY + "people.kovalenko.phone: cannot be called through the trunk: a premium_rate "
        "number of UA: not a type callbacks dial (trunk.callbacks.allowed)",
    ),
    (
        lambda c: kovalenko(c).update(phone="+447400123456"),  # abroad
        DUTY + "people.kovalenko.phone: cannot be called through the trunk: a number of GB: "
        "no callback goes there (trunk.callbacks.allowed)",
    ),
    (
        lambda c: kovalenko(c).update(phone="067123"),  # too short for Ukraine's plan
        DUTY + "people.kovalenko.phone: '067123' is no valid telephone number in UA's "
        "numbering plan",
    ),
    (
        lambda c: kovalenko(c).update(phone="call me"),
        DUTY + "people.kovalenko.phone: 'call me' does not match",
    ),
    (
        lambda c: kovalenko(c).update(email="o.kovalenko@"),
        DUTY + "people.kovalenko: 'o.kovalenko@' is not an e-mail address",
    ),
    (
        lambda c: kovalenko(c).update(email=None, phone=None),
        DUTY + "people.kovalenko: has neither a phone nor an e-mail: nobody could reach them",
    ),
    (
        lambda c: kovalenko(c).update(pager="123"),
        DUTY + "people.kovalenko.pager: unknown setting",
    ),
    (
        lambda c: national(c)["lawyers"][0].update(when=["weekdays 9-6"]),
        NATIONAL + "lawyers.0.when: 'weekdays 9-6' is not duty hours; write e.g.",
    ),
    (
        lambda c: national(c).update(timezone="Europe/Sumy"),
        NATIONAL + "timezone: unknown time zone 'Europe/Sumy'",
    ),
    (
        lambda c: national(c)["exceptions"].append(
            {"from": "2026-12-31 18:00", "to": "2026-12-31 09:00", "lawyers": ["bondar"]}
        ),
        NATIONAL + "exceptions.1.to: is not after 'from'",
    ),
    (
        lambda c: national(c)["exceptions"].append(
            {"from": "New Year's Eve", "to": "2027-01-01", "lawyers": ["bondar"]}
        ),
        NATIONAL + 'exceptions.1: "New Year\'s Eve" is not a date or a date and time',
    ),
    (
        lambda c: national(c)["exceptions"].append({"from": "2026-12-31", "to": "2027-01-01"}),
        NATIONAL + "exceptions.1: says nothing: name the lawyers or supervisors on duty instead",
    ),
    (
        lambda c: national(c)["exceptions"].append(
            {"from": "2026-12-31", "to": "2027-01-01", "supervisors": ["melnik"]}
        ),
        NATIONAL + "exceptions.1.supervisors.0: unknown person 'melnik' (did you mean 'melnyk'?)",
    ),
    (
        lambda c: duty(c)["rotas"].update(kyiv={}),
        DUTY + "rotas.kyiv: names nobody: give lawyers or supervisors, or a calendar",
    ),
    (
        lambda c: national(c).update(calendar={"file": "x.ics", "url": "https://example.org/x"}),
        NATIONAL + "calendar: needs exactly one of: file, url",
    ),
    (
        lambda c: national(c).update(calendar={"url": "ftp://example.org/duty.ics"}),
        NATIONAL + "calendar.url: 'ftp://example.org/duty.ics' does not match",
    ),
    (
        lambda c: national(c).update(calendar={"file": "/nonexistent/duty-ua.ics"}),
        NATIONAL + "calendar.file: cannot read '/nonexistent/duty-ua.ics': No such file",
    ),
    (
        lambda c: c.update(duty={"people": {}}),
        "with 'organisations', duty go inside an organisation",
    ),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_problem_is_named(change: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(changed(change), "config/hotline.yaml")
    assert f"config/hotline.yaml: {message}" in str(caught.value)


def test_a_calendar_that_does_not_parse_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "duty-ua.ics"
    broken.write_text("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:bondar\r\nEND:VEVENT\r\n")
    raw = changed(lambda c: national(c).update(calendar={"file": str(broken)}))
    with pytest.raises(ConfigError) as caught:
        parse(raw, "config/hotline.yaml")
    assert f"{NATIONAL}calendar.file: not an iCalendar file" in str(caught.value)


def test_a_rota_named_twice_is_named(tmp_path: Path) -> None:
    """YAML would keep the second silently: the loader refuses a key given twice."""
    text = (ROOT / "config/hotline.yaml").read_text()
    twice = text.replace(
        "        national:          # the first rota",
        "        national: {supervisors: [{who: [melnyk], when: [always]}]}\n"
        "        national:          # the first rota",
    )
    assert twice != text
    path = tmp_path / "hotline.yaml"
    path.write_text(twice)
    with pytest.raises(ConfigError, match=r"line \d+, column \d+: not valid YAML: 'national' is "):
        load(path)


def test_a_calendar_url_is_not_fetched_by_the_config() -> None:
    """(Only the service fetches it, and `hotline check` tries once: hotline/reports/duty.py.)"""
    raw = changed(lambda c: national(c).update(calendar={"url": "https://127.0.0.1:9/x.ics"}))
    org = parse(raw).organisations["ua-legal-aid"]
    assert org.rotas["national"].calendar is None
    assert org.duty.calendars["national"].refresh == 300


def test_the_default_rotas_cover_every_hour() -> None:
    deployment = parse(DEFAULT)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for org in deployment.organisations.values():
        assert org.rotas, org.id
        for rota in org.rotas.values():
            for role in DutyRole:
                assert rota.gaps(start, start + timedelta(days=366), role) == [], (org.id, role)
    ua = deployment.organisations["ua-legal-aid"]
    assert list(ua.rotas) == ["national"]
    christmas = datetime(2026, 12, 25, 12, tzinfo=UTC)
    assert [p.id for p in ua.rotas["national"].on_duty(christmas, DutyRole.LAWYER)] == ["bondar"]


def test_one_organisation_without_organisations_has_its_duty_at_the_top() -> None:
    flat = {k: v for k, v in DEFAULT.items() if k != "organisations"}
    flat |= {k: v for k, v in ukraine(copy.deepcopy(DEFAULT)).items() if k != "name"}
    (only,) = parse(flat).organisations.values()
    assert list(only.rotas) == ["national"]
    flat["duty"]["people"]["kovalenko"]["language"] = "ka"
    with pytest.raises(ConfigError, match=r"duty\.people\.kovalenko\.language: language 'ka'"):
        parse(flat)
