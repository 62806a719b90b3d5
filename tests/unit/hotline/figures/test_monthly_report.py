"""`hotline report`: an organisation's month from a real call log (events written as the service
writes them, on SQLite and PostgreSQL), its figures checked against the calls it holds, its
PDF rendered page by page (pdftoppm) and its CSV read back; another organisation's calls are
never in it; bad arguments are named."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageStat

from hotline.config.deployment import Deployment
from hotline.events import CallEvent
from hotline.figures import report
from hotline.store.db import Store
from routing import events as ev
from tests.conftest import ROOT
from tests.unit.hotline.api.test_api_separation import Built, built, token

__all__ = ["built"]  # (the fixture, shared)

KYIV = ZoneInfo("Europe/Kyiv")
#: Ukraine's calls in November 2026: (day, hour, line, answered?, wait, talk, topic)
CALLS = [
    (2, 9, "consultation", True, 10.0, 300.0, "labour"),
    (2, 9, "consultation", True, 45.0, 200.0, "family"),
    (2, 10, "consultation", False, 70.0, None, None),  # abandoned
    (3, 14, "detention", True, 5.0, 120.0, "criminal"),
    (17, 9, "information", True, 2.0, 60.0, None),
    (30, 23, "information", False, 15.0, None, None),  # abandoned, the month's last hour
]


def events(number: str = "0800213103") -> list[CallEvent]:
    found = []
    for n, (day, hour, line, answered, wait, talk, topic) in enumerate(CALLS):
        call = f"ua-{n}"
        at = datetime(2026, 11, day, hour, 10, tzinfo=KYIV).astimezone(UTC)
        facts: list[tuple[float, ev.Fact]] = [
            (0, ev.CallStarted("380501110000", number, "", "PJSIP/trunk-1", call, call, "uk")),
            (5, ev.CallQueued(line, "uk", 10)),
        ]
        if answered:
            facts += [
                (5 + wait, ev.CallAnswered("op3", wait)),
                (5 + wait + (talk or 0), ev.CallEnded("answered", line, "op3", wait, talk)),
            ]
            if topic:
                facts.append((9000, ev.WrappedUp((topic,), "advice-given", "op3")))
        else:
            facts.append((5 + wait, ev.CallEnded("abandoned", line, wait=wait)))
        found += [
            CallEvent(call, i + 1, at + timedelta(seconds=s), fact, f"{call}-{i}")
            for i, (s, fact) in enumerate(facts)
        ]
    # a detention report, accepted by a person on duty 4 minutes after it was stored
    at = datetime(2026, 11, 3, 14, 30, tzinfo=KYIV).astimezone(UTC)
    found += [
        CallEvent("ua-9", 1, at, ev.CallStarted("380501110009", number, "", "PJSIP/trunk-2",
                                                 "ua-9", "ua-9", "uk"), "ua-9-0"),
        CallEvent("ua-9", 2, at, ev.NotificationStored("482113", "detention", "380501110009",
                                                        "380931110009", True), "ua-9-1"),
        CallEvent("ua-9", 3, at + timedelta(minutes=4),
                  ev.EscalationAccepted("482113", "bondar", "bondar"), "ua-9-2"),
    ]  # fmt: skip
    # Georgia's call the same month: never in Ukraine's report
    at = datetime(2026, 11, 2, 9, 0, tzinfo=KYIV).astimezone(UTC)
    found += [
        CallEvent("ge-1", 1, at, ev.CallStarted("995555000000", "0322920055", "", "PJSIP/t-3",
                                                 "ge-1", "ge-1", "ka"), "ge-1-0"),
        CallEvent("ge-1", 2, at, ev.CallQueued("ge-consultation", "ka", 10), "ge-1-1"),
    ]  # fmt: skip
    return found


@pytest.fixture
async def filled(database_url: str) -> Store:
    store = Store(database_url)
    await store.upgrade()
    await store.write(events())
    return store


async def test_a_month_of_one_organisation_matches_its_call_log(
    filled: Store, deployment: Deployment, tmp_path: Path
) -> None:
    period = report.Period.parse("2026-11", KYIV)
    now = datetime(2026, 12, 7, tzinfo=UTC)
    try:
        made = await report.gather(filled, deployment, "ua-legal-aid", period, "uk", now)
    finally:
        await filled.close()
    rows = {(s, k, f): v for s, k, f, v in report.rows(made)}
    assert rows[("total", "", "offered")] == 6  # Georgia's call is not Ukraine's
    assert rows[("total", "", "answered")] == 4
    assert rows[("total", "", "abandoned")] == 2
    assert rows[("total", "", "service_level")] == 0.5  # 10, 5, 2 s of the 6 settled
    assert rows[("total", "", "average_handle_time")] == 170.0  # (300+200+120+60) / 4
    assert rows[("line", "consultation", "offered")] == 3
    assert rows[("line", "information", "abandoned")] == 1
    assert rows[("hour", "09", "offered")] == 3  # in Kyiv's time
    assert rows[("hour", "23", "offered")] == 1
    assert rows[("day", "2026-11-02", "offered")] == 3
    assert rows[("day", "2026-11-30", "abandoned")] == 1
    assert sum(1 for s, *_ in report.rows(made) if s == "day") == 30 * 4  # every day listed
    assert rows[("topic", "labour", "calls")] == 1
    assert rows[("resolution", "advice-given", "calls")] == 3
    assert rows[("reports", "", "reports")] == 1
    assert rows[("reports", "", "accepted")] == 1
    assert rows[("reports", "", "time_to_acceptance_p50")] == 240.0

    written = tmp_path / "ua.csv"
    written.write_text(report.as_csv(made))
    with written.open() as f:
        read = list(csv.DictReader(f))
    assert {"section": "total", "key": "", "figure": "offered", "value": "6"} in read

    pdf = tmp_path / "ua.pdf"
    pdf.write_bytes(report.as_pdf(made))
    subprocess.run(["pdftoppm", "-r", "40", "-png", pdf, tmp_path / "page"], check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 3
    for page in pages:  # each page has something on it (not a blank sheet)
        shade = ImageStat.Stat(Image.open(page).convert("L"))
        assert shade.stddev[0] > 5, page


async def test_the_same_figures_as_json(filled: Store, deployment: Deployment) -> None:
    """`hotline report --json`: the CSV's figures, as one object a script reads."""
    period = report.Period.parse("2026-11", KYIV)
    try:
        made = await report.gather(
            filled, deployment, "ua-legal-aid", period, "en", datetime(2026, 12, 7, tzinfo=UTC)
        )
    finally:
        await filled.close()
    shown = json.loads(json.dumps(report.as_json(made)))
    assert (shown["period"], shown["language"], shown["timezone"]) == (
        "2026-11",
        "en",
        "Europe/Kyiv",
    )
    assert shown["total"]["offered"] == 6 and shown["total"]["service_level"] == 0.5
    assert shown["lines"]["consultation"]["offered"] == 3
    assert list(shown["hours"]) == [f"{hour:02d}" for hour in range(24)]
    assert shown["hours"]["09"]["offered"] == 3
    assert shown["reports"]["accepted"] == 1
    assert shown["titles"]["detention"]
    rows = {(s, k, f): v for s, k, f, v in report.rows(made)}
    assert shown["total"]["offered"] == rows[("total", "", "offered")]


def test_the_commands_languages_are_the_reports() -> None:
    """`--language` is a choice `--help` lists: every language the report has labels for."""
    from hotline.cli.report import Language

    assert [language.value for language in Language] == list(report.LABELS)


def test_the_command_names_what_is_wrong(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOTLINE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/h.db",
        "COLUMNS": "200",  # (typer's error box on one line)
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hotline.cli", *args],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    empty = run("report", "2026-11", "-g", "ua-legal-aid", "-o", str(tmp_path / "r.pdf"))
    assert empty.returncode == 1 and "no such table" in empty.stderr  # (said, not a traceback)
    assert run("db", "upgrade").returncode == 0
    bad = run("report", "November", "-g", "ua-legal-aid", "-o", str(tmp_path / "r.pdf"))
    assert bad.returncode == 2 and "is not a month (2026-11) or a year (2026)" in bad.stderr
    bad = run("report", "2026-11", "-g", "ua", "-o", str(tmp_path / "r.pdf"))
    assert bad.returncode == 2 and "one of ua-legal-aid" in bad.stderr
    bad = run("report", "2026-11", "-g", "ua-legal-aid", "-o", str(tmp_path / "r.txt"))
    assert bad.returncode == 2 and "a .pdf or a .csv" in bad.stderr
    bad = run("report", "2026-11", "-g", "ua-legal-aid")
    assert bad.returncode == 2 and "--output FILE (.pdf or .csv), or --json" in bad.stderr
    bad = run("report", "2026-11", "-g", "ua-legal-aid", "--json", "--language", "de")
    assert bad.returncode == 2 and "'de' is not one of 'en', 'uk', 'ka', 'ru'" in bad.stderr
    done = run("report", "2026", "-g", "ge-legal-aid", "-o", str(tmp_path / "ge.csv"))
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "ge.csv").read_text()
    assert "month,2026-12-01,offered,0" in text and "Asia/Tbilisi" in text


async def test_the_api_hands_a_supervisor_their_organisations_report(built: Built) -> None:
    ua = {"Authorization": f"Bearer {token('supervisor', 'ua-legal-aid')}"}
    got = await built.api.get("/api/v1/report", params={"period": "2026-11", "format": "csv"},
                              headers=ua)  # fmt: skip
    assert got.status_code == 200, got.text
    assert got.headers["content-type"].startswith("text/csv")
    assert 'filename="hotline-ua-legal-aid-2026-11.csv"' in got.headers["content-disposition"]
    assert "total,,offered," in got.text and "Europe/Kyiv" in got.text
    pdf = await built.api.get("/api/v1/report", params={"period": "2026"}, headers=ua)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    theirs = await built.api.get(
        "/api/v1/report", params={"period": "2026-11", "organisation": "ge-legal-aid"}, headers=ua
    )
    assert theirs.status_code == 422 and theirs.json()["errors"][0]["loc"][-1] == "organisation"
    viewer = {"Authorization": f"Bearer {token('viewer', 'ua-legal-aid')}"}
    assert (await built.api.get("/api/v1/report", params={"period": "2026"},
                                headers=viewer)).status_code == 403  # fmt: skip
    bad = await built.api.get("/api/v1/report", params={"period": "Nov"}, headers=ua)
    assert bad.status_code == 422 and "is not a month" in bad.json()["detail"]
