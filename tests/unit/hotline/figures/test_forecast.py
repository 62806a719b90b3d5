"""`hotline forecast`: operators needed per hour of a past week (Erlang C on the call log)
beside those on duty; from a call log on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from hotline.events import CallEvent, EventBus
from hotline.figures.forecast import Change, last_week, on_duty, week_of
from hotline.store.db import Store
from routing.estimate import operators_needed
from routing.events import from_data
from tests.conftest import ROOT, ukraine
from tests.unit.hotline.config.test_config import broken

KYIV = ZoneInfo("Europe/Kyiv")
#: Wednesday 18 November 2026, 10:00 in Kyiv: the hour the calls come in.
TEN = datetime(2026, 11, 18, 10, tzinfo=KYIV)


def test_on_duty_counts_time_on_duty_not_paused() -> None:
    changes = [
        Change("op3", TEN - timedelta(minutes=30), "available"),
        Change("op4", TEN + timedelta(minutes=15), "available"),
        Change("op4", TEN + timedelta(minutes=45), "paused"),
        Change("op5", TEN, "paused"),
    ]
    staff = on_duty(changes, ["op3", "op4", "op5"], TEN, TEN + timedelta(hours=1))
    assert staff == pytest.approx(1.5)  # op3 the whole hour, op4 half of it


def test_the_last_full_week() -> None:
    sunday_night = datetime(2026, 11, 29, 22, 30, tzinfo=UTC)  # Monday 00:30 in Kyiv
    since, until = last_week(sunday_night, KYIV)
    assert since == datetime(2026, 11, 23, tzinfo=KYIV)
    assert until == datetime(2026, 11, 30, tzinfo=KYIV)


@pytest.mark.parametrize("day", [date(2026, 11, 16), date(2026, 11, 18), date(2026, 11, 22)])
def test_the_week_of_a_day_runs_from_its_monday(day: date) -> None:
    since, until = week_of(day, KYIV)
    assert (since, until) == (
        datetime(2026, 11, 16, tzinfo=KYIV),
        datetime(2026, 11, 23, tzinfo=KYIV),
    )


async def busy_wednesday(url: str) -> None:
    """30 consultations between 10:00 and 11:00, three minutes each; op3 on duty from 9:30,
    op4 from 10:15 to 10:45."""
    events: list[CallEvent] = []
    bus = EventBus()
    bus.subscribe(events.append)

    def publish(call: str, at: datetime, kind: str, **data: object) -> None:
        bus.publish(CallEvent(call, 0, at.astimezone(UTC), from_data(kind, dict(data))))

    publish(
        "",
        TEN - timedelta(minutes=30),
        "operator.state",
        operator="op3",
        state="available",
        reachable=True,
    )
    publish(
        "",
        TEN + timedelta(minutes=15),
        "operator.state",
        operator="op4",
        state="available",
        reachable=True,
    )
    publish(
        "",
        TEN + timedelta(minutes=45),
        "operator.state",
        operator="op4",
        state="logged_out",
        reachable=True,
    )
    for n in range(30):
        call, at = f"c{n}", TEN + timedelta(minutes=2 * n)
        publish(call, at, "call.started", caller="380501234567", number="0800213103")
        publish(call, at, "call.queued", line="consultation", language="uk", priority=10)
        publish(
            call,
            at + timedelta(seconds=200),
            "call.ended",
            outcome="answered",
            operator="op3",
            wait=20.0,
            talk=180.0,
        )
    store = Store(url)
    try:
        await store.upgrade()
        await store.write(events)
    finally:
        await store.close()


def forecast(url: str, folder: Path, *args: str, config: Path | None = None) -> str:
    """`hotline forecast` against the call log at ``url`` (and ``config``, else the default
    one); what it printed."""
    env = {"PATH": "/usr/bin:/bin", "HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": str(folder)}
    if config is not None:
        env["HOTLINE_CONFIG"] = str(config)
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "forecast", "--week", "2026-11-18", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_forecast_of_a_week_from_the_call_log(database_url: str, tmp_path: Path) -> None:
    await busy_wednesday(database_url)
    hours = json.loads(forecast(database_url, tmp_path, "--json"))
    consultation = {h["hour"]: h for h in hours if h["line"] == "consultation"}
    ten = consultation[TEN.isoformat()]
    assert (ten["offered"], ten["handle_s"]) == (30, 180.0)
    assert ten["needed"] == operators_needed(30 / 3600, 180, 20, 0.8) == 4
    assert ten["on_duty"] == pytest.approx(1.5)  # op3, and op4 for half the hour
    # the hour before: op3 on duty for its second half, no call
    nine = consultation[(TEN - timedelta(hours=1)).isoformat()]
    assert (nine["offered"], nine["needed"], nine["on_duty"]) == (0, 0, 0.5)
    text = forecast(database_url, tmp_path, "--line", "consultation")
    assert "Wed 2026-11-18 10:00       30    180 s       4      1.5  short" in text


async def test_an_organisations_forecast_is_in_its_time_zone(
    database_url: str, tmp_path: Path
) -> None:
    await busy_wednesday(database_url)
    ukraine = json.loads(
        forecast(database_url, tmp_path, "--organisation", "ua-legal-aid", "--json")
    )
    assert {h["line"] for h in ukraine} == {"consultation", "detention"}  # op3, op4 serve both
    assert all(h["hour"].endswith("+02:00") for h in ukraine)  # Kyiv's hours
    # Georgia's call centre had neither calls nor operators on duty that week
    assert (
        json.loads(forecast(database_url, tmp_path, "--organisation", "ge-legal-aid", "--json"))
        == []
    )


@pytest.mark.parametrize(
    ("own", "handle"),
    [
        # (its targets where they were kept before: `hotline forecast` held every line to
        # the shared ones all the same, unless asked for one organisation)
        ({"targets": {"service_level_threshold": 60, "service_level_target": 0.5}}, 300),
        (
            {
                "queues": {
                    "service_level_threshold": 60,
                    "service_level_target": 0.5,
                    "default_handle_time": 120,
                }
            },
            120,
        ),
    ],
)
async def test_each_line_is_held_to_its_organisations_targets(
    own: dict[str, Any], handle: float, tmp_path: Path
) -> None:
    """Ukraine's contact centre wants half its calls answered within a minute (and may
    assume two-minute talks in an hour with none): its lines are held to that, in a
    forecast of every line. (Of the config, not the database: on SQLite only.)"""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    await busy_wednesday(database_url)
    config = tmp_path / "hotline.yaml"
    config.write_text(
        # (in the file's order: its first organisation's time zone is the hotline's)
        yaml.safe_dump(broken(lambda c: ukraine(c).update(own)), sort_keys=False)
    )
    hours = json.loads(forecast(database_url, tmp_path, "--json", config=config))
    consultation = {h["hour"]: h for h in hours if h["line"] == "consultation"}
    ten = consultation[TEN.isoformat()]
    assert ten["needed"] == operators_needed(30 / 3600, 180, 60, 0.5) == 3  # (shared: 4)
    nine = consultation[(TEN - timedelta(hours=1)).isoformat()]
    assert nine["handle_s"] == handle  # no call answered: the organisation's assumption
    text = forecast(database_url, tmp_path, config=config)
    assert "consultation (target: 50% answered within 60 s)" in text
