"""A broken config fails with the file, the path inside it and what is wrong."""

from __future__ import annotations

import copy
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.config.loading import ConfigError, load, parse
from routing.lines import decide
from tests.conftest import ROOT, ukraine

DEFAULT = yaml.safe_load((ROOT / "config/hotline.yaml").read_text())


#: Where the default config's Ukrainian organisation's settings are, in messages.
UA = "organisations.ua-legal-aid."


def broken(change: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEFAULT)
    change(raw)
    return raw


CASES = [
    (
        lambda c: ukraine(c)["menus"]["main"]["options"].update({"7": {"line": "consultaton"}}),
        UA + "menus.main.options.7.line: unknown line 'consultaton' (did you mean 'consultation'?)",
    ),
    (
        lambda c: ukraine(c)["menus"]["main"]["options"].update({"x": {"line": "consultation"}}),
        UA + "menus.main.options.x.[key]: 'x' does not match",
    ),
    (
        lambda c: ukraine(c)["menus"]["main"].update(timeout=0),
        UA + "menus.main.timeout: Input should be greater than 0",
    ),
    (
        lambda c: ukraine(c)["menus"]["main"]["options"]["1"].update(menu="main"),
        UA + "menus.main.options.1: needs exactly one of: menu, line, centre, sms, repeat, hangup",
    ),
    (
        lambda c: ukraine(c)["numbers"]["0800213103"].update(start={"menu": "languages"}),
        UA + "numbers.0800213103.start.menu: unknown menu 'languages' (did you mean 'language'?)",
    ),
    (
        lambda c: ukraine(c)["offices"]["sumy"].update(hours=["weekdays 9-6"]),
        UA + "offices.sumy.hours: 'weekdays 9-6' is not opening hours",
    ),
    (
        lambda c: ukraine(c)["offices"]["sumy"].update(exceptions=[{"closed": "24 December"}]),
        UA + "offices.sumy.exceptions.0: '24 December' is not a date (2026-12-24)",
    ),
    (
        lambda c: ukraine(c)["offices"]["sumy"].update(
            exceptions=[{"closed": "2026-12-24", "open": "2026-12-25"}]
        ),
        UA + "offices.sumy.exceptions.0: say either closed: or open:",
    ),
    (
        lambda c: ukraine(c)["offices"]["sumy"].update(timezone="Europe/Sumy"),
        UA + "offices.sumy.timezone: unknown time zone 'Europe/Sumy'",
    ),
    (
        lambda c: ukraine(c)["operators"]["op1"].update(lines=["information", "legal"]),
        UA + "operators.op1.lines.1: unknown line 'legal'",
    ),
    (
        lambda c: ukraine(c)["operators"]["op1"].update(languages=["de"]),
        UA + "operators.op1.languages.0: unknown language 'de'",
    ),
    (
        lambda c: ukraine(c)["lines"]["consultation"].update(offices=["kyiv"]),
        UA + "lines.consultation.offices.0: unknown office 'kyiv'",
    ),
    (
        lambda c: ukraine(c)["lines"]["consultation"].update(colour="red"),
        UA + "lines.consultation.colour: unknown setting",
    ),
    (lambda c: c.pop("trunk"), "trunk: is required"),
    (lambda c: c["trunk"].update(addresses=["not-an-ip"]), "trunk.addresses.0"),
    (
        lambda c: ukraine(c)["lines"]["consultation"]["after_hours"].update(callback=True),
        UA + "lines.consultation.after_hours: choose one: another line, or a callback offer",
    ),
    (
        lambda c: ukraine(c)["menus"]["main"].update(no_input={"repeat": True}),
        UA + "menus.main.no_input: 'repeat' here would ask the caller forever",
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
    (  # today's rules, as the config wrote them before: how to write them now
        lambda c: c["trunk"]["callbacks"].update(allowed=[r"(\+?380|0)(50|67)[0-9]{7}"]),
        "trunk.callbacks.allowed: regular expressions are no longer read here: name the "
        "countries and types of number callbacks may dial, e.g. allowed: [{country: UA, types: "
        "[mobile, fixed_line]}, {country: GE, types: [mobile]}]",
    ),
    (
        lambda c: c["trunk"]["callbacks"].update(allowed=[{"country": "XK2"}]),
        "trunk.callbacks.allowed.0.country: 'XK2' does not match ^[A-Z]{2}$",
    ),
    (
        lambda c: c["trunk"]["callbacks"].update(allowed=[{"country": "ZZ"}]),
        "trunk.callbacks.allowed.0.country: 'ZZ' is no country with a numbering plan",
    ),
    (
        lambda c: c["trunk"]["callbacks"].update(
            allowed=[{"country": "UA", "types": ["mobile", "premium_rate"]}]
        ),
        "trunk.callbacks.allowed.0.types.1: Input should be 'mobile', 'fixed_line'",
    ),
    (
        lambda c: c["trunk"].update(dial="national"),
        "trunk.dial: Input should be 'international' or 'e164'",
    ),
    (
        lambda c: ukraine(c).update(country="ZZ"),
        UA + "country: 'ZZ' is no country with a numbering plan",
    ),
    (
        lambda c: ukraine(c)["centres"]["kyiv"].update(number="0440"),
        UA + "centres.kyiv.number: '0440' is no valid telephone number in UA's numbering plan",
    ),
    (  # a centre abroad: the trunk may not dial it
        lambda c: ukraine(c)["centres"]["kyiv"].update(number="+442071234567"),
        UA + "centres.kyiv.number: cannot be called through the trunk: a number of GB: no "
        "callback goes there",
    ),
    (
        lambda c: ukraine(c).update(callbacks={"per_hour": 61}),
        UA + "callbacks.per_hour: 61 is more than trunk.callbacks.per_hour (60): an organisation "
        "may only set a lower cap",
    ),
    (
        lambda c: c["trunk"]["callbacks"].update(per_caller_per_hour=0),
        "trunk.callbacks.per_caller_per_hour: Input should be greater than or equal to 1",
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
        lambda c: ukraine(c)["offices"]["sumy"].update(country="XX"),
        UA + "offices.sumy: no public holidays are known for country 'XX'",
    ),
    (
        lambda c: ukraine(c)["offices"]["sumy"].update(country="GE", subdivision="ZZ"),
        UA + "offices.sumy: GE has no subdivision 'ZZ' (it has: none)",
    ),
    (
        lambda c: (
            ukraine(c)["offices"]["sumy"].pop("country")
            and ukraine(c)["offices"]["sumy"].update(subdivision="TB")
        ),
        UA + "offices.sumy: a subdivision needs its country",
    ),
]


ORGANISATION_CASES = [
    (
        lambda c: c["organisations"]["ge-legal-aid"]["lines"].update(
            {"detention": {"offices": ["tbilisi"]}}
        ),
        "organisations.ge-legal-aid.lines.detention: also in organisation 'ua-legal-aid': ids "
        "are unique across organisations",
    ),
    (
        lambda c: c["organisations"]["ge-legal-aid"]["operators"]["ge1"].update(
            lines=["ge-consultation", "detention"]
        ),
        "organisations.ge-legal-aid.operators.ge1.lines.1: line 'detention' belongs to "
        "organisation 'ua-legal-aid'",
    ),
    (
        lambda c: ukraine(c)["lines"]["consultation"].update(offices=["sumy", "tbilisi"]),
        UA + "lines.consultation.offices.1: office 'tbilisi' belongs to organisation "
        "'ge-legal-aid'",
    ),
    (
        lambda c: ukraine(c)["menus"]["main"]["options"].update(
            {"5": {"line": "ge-rehabilitation"}}
        ),
        UA + "menus.main.options.5.line: line 'ge-rehabilitation' belongs to organisation "
        "'ge-rehabilitation'",
    ),
    (
        lambda c: ukraine(c)["operators"]["op1"].update(languages=["uk", "ka"]),
        UA + "operators.op1.languages.1: language 'ka' is not one of ua-legal-aid's (uk, en, ru)",
    ),
    (
        lambda c: c.update(numbers={"123": ukraine(c)["numbers"]["0800213103"]}),
        "with 'organisations', numbers go inside an organisation",
    ),
    # a line (or a centre) of the name of a supervisor: *2 and its code would ring them
    (
        lambda c: c["organisations"]["ge-legal-aid"]["supervisors"].update(
            {"information": {"name": "Supervisor named as a line"}}
        ),
        "organisations.ge-legal-aid.supervisors.information: also the id of a line of "
        "organisation 'ua-legal-aid': lines, operators, supervisors and centres have ids "
        "unique across the deployment (phones dial them by id)",
    ),
    (
        lambda c: ukraine(c)["supervisors"].update({"sumy": {"name": "Supervisor Sumy"}}),
        UA + "centres.sumy: also the id of a supervisor of organisation 'ua-legal-aid'",
    ),
    (
        lambda c: (
            c["organisations"]["ge-rehabilitation"]
            .setdefault("centres", {})
            .update({"op1": c["organisations"]["ge-legal-aid"]["centres"]["tbilisi-bureau"]})
        ),
        "organisations.ge-rehabilitation.centres.op1: also the id of an operator of "
        "organisation 'ua-legal-aid'",
    ),
    # the audit trail outlives the data it names (each organisation's longest retention)
    (
        lambda c: (
            c.update(audit={"days": 400}),
            ukraine(c).update(retention={"call_log_days": 500}),
        ),
        "audit.days: must be longer than retention.call_log_days (500)",
    ),
    (
        lambda c: c.update(audit={"days": 90}),
        "audit.days: must be longer than retention.call_log_days (365)",
    ),
    (
        lambda c: (
            c.update(recordings={"retention_days": 400}),
            ukraine(c).update(audit={"days": 365}),
        ),
        UA + "audit.days: must be longer than recordings.retention_days (400)",
    ),
]


@pytest.mark.parametrize(("change", "message"), [*CASES, *ORGANISATION_CASES])
def test_problem_is_named(change: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(broken(change), "config/hotline.yaml")
    assert f"config/hotline.yaml: {message}" in str(caught.value)


def test_exceptional_closures_and_openings_as_yaml_writes_them(tmp_path: Path) -> None:
    raw = copy.deepcopy(DEFAULT)
    ukraine(raw)["offices"]["sumy"]["exceptions"] = [
        {"closed": "2026-12-24 15:00", "until": "2026-12-26"},
        {"open": date(2027, 1, 2)},  # (YAML reads 2027-01-02 as a date)
    ]
    sumy = parse(raw).offices["sumy"].schedule
    kyiv = timezone(timedelta(hours=2))
    assert sumy.is_open(datetime(2026, 12, 24, 14, tzinfo=kyiv))
    assert not sumy.is_open(datetime(2026, 12, 24, 15, tzinfo=kyiv))
    assert sumy.is_open(datetime(2027, 1, 2, 12, tzinfo=kyiv))  # a Saturday, opened


def test_a_line_closes_or_opens_by_exception_over_its_offices_hours() -> None:
    raw = copy.deepcopy(DEFAULT)
    lines = ukraine(raw)["lines"]
    lines["consultation"]["exceptions"] = [
        {"open": "2026-11-28 10:00", "until": "2026-11-28 14:00"}
    ]
    lines["detention"]["exceptions"] = [{"closed": "2026-12-31 20:00", "until": "2027-01-01"}]
    deployment = parse(raw)
    kyiv = timezone(timedelta(hours=2))
    saturday = datetime(2026, 11, 28, 11, tzinfo=kyiv)  # Sumy is closed on Saturdays
    assert decide(deployment.lines, deployment.offices, "consultation", saturday).line == (
        "consultation"
    )
    later = datetime(2026, 11, 28, 14, 30, tzinfo=kyiv)
    assert decide(deployment.lines, deployment.offices, "consultation", later).line == (
        "information"
    )
    new_year = datetime(2026, 12, 31, 23, tzinfo=kyiv)
    assert decide(deployment.lines, deployment.offices, "detention", new_year).line is None
    lines["detention"]["exceptions"] = [{"closed": "2026-12-31 20:00", "until": "2026-12-30"}]
    with pytest.raises(ConfigError, match=r"lines\.detention\.exceptions"):
        parse(raw)


def test_all_problems_reported_at_once() -> None:
    def two(c: dict[str, Any]) -> None:
        ukraine(c)["operators"]["op1"]["office"] = "nowhere"
        ukraine(c)["lines"]["detention"]["after_hours"]["line"] = "nowhere"

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
    ukraine, georgia, rehabilitation = deployment.organisations.values()
    assert (ukraine.id, ukraine.numbers, ukraine.languages, ukraine.timezone) == (
        "ua-legal-aid",
        {"0800213103"},
        ("uk", "en", "ru"),
        "Europe/Kyiv",
    )
    assert ukraine.lines == {"consultation", "detention", "rehabilitation", "information"}
    assert ukraine.operators == {f"op{i}" for i in range(1, 7)}
    # Georgia's call centre: four consultant-operators in Tbilisi, all speaking Georgian
    assert (georgia.numbers, georgia.lines, georgia.timezone) == (
        {"0322920055"},
        {"ge-consultation"},
        "Asia/Tbilisi",
    )
    assert georgia.operators == {"ge1", "ge2", "ge3", "ge4"}
    assert all("ka" in deployment.operators[op].languages for op in georgia.operators)
    assert (rehabilitation.numbers, rehabilitation.languages) == ({"2145145"}, ("ka", "ru"))
    assert deployment.offices["rehabilitation-centre"].schedule.always_open
    assert [org.supervisors for org in deployment.organisations.values()] == [
        {"sup1"},
        {"sup2"},
        {"sup3"},
    ]
    assert deployment.organisation_of(line="ge-consultation") is georgia
    assert deployment.organisation_of(operator="op3") is ukraine
    assert deployment.organisation_of(number="555") is None
    assert deployment.lines["detention"].priority > deployment.lines["consultation"].priority
    main = deployment.flow.menus["main"]
    assert {
        k: (a.line or a.menu or ("repeat" if a.repeat else "")) for k, a in main.options.items()
    } == {
        "1": "consultation",
        "2": "detention",
        "3": "rehabilitation",
        "4": "information",
        "5": "centres",
        "0": "information",
        "*": "repeat",
    }
    # the fifth service: a centre by region, its address and hours said, then connected
    centres = deployment.flow.menus["centres"]
    sumy = deployment.flow.menus[centres.options["2"].menu or ""]
    assert centres.options["2"].prompt == "centre-sumy"
    assert sumy.options["1"].centre == "sumy"
    assert ukraine.centres == {"chernivtsi", "sumy", "kyiv"}
    assert deployment.organisation_of(centre="tbilisi-bureau") is georgia
    assert deployment.callbacks.refuses(deployment.centres["kutaisi-bureau"].number) is None
    assert set(deployment.prompt_texts) >= {("uk", "centre-sumy"), ("ka", "centre-tbilisi-bureau")}
    assert ("ka", "centre-sumy") not in deployment.prompt_texts  # not a language of Ukraine's
    assert deployment.offices["chernivtsi"].schedule.always_open
    ban = deployment.security.ban
    assert (ban.failures, ban.within, ban.seconds) == (5, 600, 900)
    assert [str(net) for net in ban.ignore] == ["127.0.0.1/32"]


def test_a_config_without_organisations_is_one() -> None:
    """The sections at the top level, as before organisations: one organisation, ``hotline``."""
    flat = {k: v for k, v in DEFAULT.items() if k != "organisations"} | {
        "languages": ["uk", "en", "ru"]
    }
    flat |= {
        k: v for k, v in ukraine(copy.deepcopy(DEFAULT)).items() if k not in ("name", "languages")
    }
    deployment = parse(flat)
    (only,) = deployment.organisations.values()
    assert (only.id, only.numbers, only.operators) == (
        "hotline",
        {"0800213103"},
        {f"op{i}" for i in range(1, 7)},
    )


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
    assert "OK - 3 organisation(s), 3 numbers" in done.stdout


def test_check_command_on_broken_config_gives_no_traceback(tmp_path: Path) -> None:
    raw = broken(CASES[0][0])
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    done = run_cli("check", "--config", str(path))
    assert done.returncode == 2
    assert "menus.main.options.7.line: unknown line 'consultaton'" in done.stderr
    assert "Traceback" not in done.stderr


def test_check_reports_a_missing_prompt(tmp_path: Path) -> None:
    raw = broken(lambda c: ukraine(c)["menus"]["main"].update(prompt="main-menu-2027"))
    path = tmp_path / "hotline.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    done = run_cli("check", "--config", str(path))
    assert done.returncode == 2
    assert "en/main-menu-2027" in done.stderr and "ka/main-menu-2027" in done.stderr


#: The outbox's config: an organisation's webhooks, and the centre menus' SMS.
DOOR_CASES = [
    (
        lambda c: ukraine(c).update(
            webhooks=[{"url": "ftp://crm.example/in", "events": ["reports"]}]
        ),
        UA + "webhooks.0.url: 'ftp://crm.example/in' is not an http:// or https:// URL",
    ),
    (
        lambda c: ukraine(c).update(
            webhooks=[{"url": "https://crm.example/in", "events": ["reports", "recordings"]}]
        ),
        UA + "webhooks.0.events.1: Input should be 'reports' or 'calls'",
    ),
    (
        lambda c: ukraine(c).update(webhooks=[{"url": "https://crm.example/in", "events": []}]),
        UA + "webhooks.0.events: List should have at least 1 item",
    ),
    (
        lambda c: ukraine(c).update(
            webhooks=[{"url": "https://crm.example/in", "events": ["calls"], "personal": ["name"]}]
        ),
        UA + "webhooks.0.personal.0: Input should be 'caller', 'number' or 'note'",
    ),
    (
        lambda c: ukraine(c)["menus"]["centre-kyiv"]["options"].update({"2": {"sms": "kiev"}}),
        UA + "menus.centre-kyiv.options.2.sms: unknown centre 'kiev' (did you mean 'kyiv'?)",
    ),
    (
        lambda c: ukraine(c)["menus"]["centre-kyiv"]["options"].update(
            {"2": {"sms": "tbilisi-bureau"}}
        ),
        UA + "menus.centre-kyiv.options.2.sms: centre 'tbilisi-bureau' belongs to organisation "
        "'ge-legal-aid'",
    ),
    (
        lambda c: ukraine(c)["menus"]["centre-kyiv"].update(no_input={"sms": "kyiv"}),
        UA + "menus.centre-kyiv.no_input: 'sms' here would text the caller again and again",
    ),
    (
        lambda c: ukraine(c)["numbers"]["0800213103"].update(start={"sms": "kyiv"}),
        UA + "numbers.0800213103.start: 'sms' needs a menu to come back to; a number starts one",
    ),
]


@pytest.mark.parametrize(("change", "message"), DOOR_CASES)
def test_a_door_problem_is_named(change: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(broken(change), "config/hotline.yaml")
    assert f"config/hotline.yaml: {message}" in str(caught.value)


def test_webhooks_become_the_organisations_own() -> None:
    hooks = [{"url": "https://crm.example/in?t=1", "events": ["reports"], "personal": ["note"]}]
    deployment = parse(broken(lambda c: ukraine(c).update(webhooks=hooks)))
    (hook,) = deployment.organisations["ua-legal-aid"].webhooks
    assert (hook.url, hook.events, hook.personal) == (
        "https://crm.example/in?t=1",
        frozenset({"reports"}),
        frozenset({"note"}),
    )
    assert deployment.organisations["ge-legal-aid"].webhooks == ()
    assert {"sms-sent", "sms-not-possible"} <= deployment.prompt_names()


def test_each_organisation_may_keep_its_audit_trail_its_own_time() -> None:
    raw = copy.deepcopy(DEFAULT)
    raw["audit"] = {"days": 1000}
    ukraine(raw)["audit"] = {"days": 3650}
    deployment = parse(raw)
    assert deployment.audit_days == 1000
    assert {org.id: org.audit_days for org in deployment.organisations.values()} == {
        "ua-legal-aid": 3650,
        "ge-legal-aid": None,
        "ge-rehabilitation": None,
    }
    assert parse(copy.deepcopy(DEFAULT)).audit_days == 2190  # six years by default


@pytest.mark.parametrize(
    ("raw", "where", "stored"),
    [
        # a caller id or a typed number, read in the country of its organisation's offices
        ("0501234567", {"organisation": "ua-legal-aid"}, "+380501234567"),
        ("380501234567", {"organisation": "ua-legal-aid"}, "+380501234567"),
        ("555123456", {"organisation": "ge-legal-aid"}, "+995555123456"),
        ("555123456", {"line": "ge-consultation"}, "+995555123456"),
        ("0501234567", {"line": "consultation"}, "+380501234567"),
        # no organisation (a deployment-wide token's query): the first country that reads it
        ("0501234567", {}, "+380501234567"),
        # (Ukraine's first in the config: read as a Kherson landline, though a Georgian would
        # mean a mobile; an organisation's token reads numbers in its own country)
        ("555123456", {}, "+380555123456"),
        ("+380501234567", {}, "+380501234567"),
        ("anonymous", {"organisation": "ua-legal-aid"}, "anonymous"),
    ],
)
def test_a_number_is_read_in_its_organisations_country(
    raw: str, where: dict[str, str], stored: str
) -> None:
    assert parse(DEFAULT).number(raw, **where) == stored


def test_an_organisations_own_country_comes_before_its_offices() -> None:
    """``country:`` on the organisation reads its national numbers, its offices' otherwise;
    with neither, every national number it writes is named."""
    raw = copy.deepcopy(DEFAULT)
    ukraine(raw)["country"] = "GE"
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert (
        UA + "centres.kyiv.number: '0440000103' is no valid telephone number in GE's numbering "
        "plan" in str(caught.value)
    )
    ukraine(raw)["country"] = "UA"
    for office in ukraine(raw)["offices"].values():
        office.pop("country", None)
        office.pop("subdivision", None)
    assert parse(raw).number("0501234567", organisation="ua-legal-aid") == "+380501234567"
    del ukraine(raw)["country"]
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    assert UA + "duty.people.kovalenko.phone: '0671234501' is no number in international " in str(
        caught.value
    )


def test_centres_and_duty_phones_are_kept_in_e164_and_told_as_written() -> None:
    deployment = parse(DEFAULT)
    kyiv = deployment.centres["kyiv"]
    assert (kyiv.number, kyiv.shown) == ("+380440000103", "0440000103")
    people = deployment.organisations["ua-legal-aid"].duty.people
    assert people["kovalenko"].phone == "+380671234501"


@pytest.mark.parametrize(
    ("raw", "dialled", "stored"),
    [
        ("0501234567", "0800213103", "+380501234567"),  # Ukraine's hotline: Ukraine's plan
        ("380501234567", "0800213103", "+380501234567"),
        ("555123456", "0322920055", "+995555123456"),  # Georgia's: a Georgian mobile
        ("0501234567", "0999999999", "0501234567"),  # no organisation's number: as it came
        ("380501234567", "0999999999", "+380501234567"),
        ("anonymous", "0800213103", "anonymous"),
    ],
)
def test_a_caller_id_is_read_in_the_country_of_the_number_dialled(
    raw: str, dialled: str, stored: str
) -> None:
    assert parse(DEFAULT).caller(raw, dialled) == stored
