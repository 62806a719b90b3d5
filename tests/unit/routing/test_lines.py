from __future__ import annotations

from datetime import datetime, timedelta, timezone

import holidays
import pytest

from hotline.config.deployment import Deployment
from routing import AfterHours, Decision, Line, Office, Schedule, decide, parse_hours

KYIV = timezone(timedelta(hours=2))
WEDNESDAY_11 = datetime(2026, 11, 25, 11, 0, tzinfo=KYIV)
SATURDAY_20 = datetime(2026, 11, 28, 20, 0, tzinfo=KYIV)
CHRISTMAS = datetime(2026, 12, 25, 11, 0, tzinfo=KYIV)


@pytest.mark.parametrize(
    ("asked", "at", "decision"),
    [
        ("consultation", WEDNESDAY_11, Decision("consultation", "consultation")),
        (
            "consultation",
            SATURDAY_20,
            Decision("consultation", "information", ("consultation",), ("consultation-closed",)),
        ),
        # Ukraine under martial law: its public holidays are working days (`holidays`)
        ("consultation", CHRISTMAS, Decision("consultation", "consultation")),
        ("detention", SATURDAY_20, Decision("detention", "detention")),
        ("rehabilitation", SATURDAY_20, Decision("rehabilitation", "rehabilitation")),
    ],
)
def test_default_deployment(
    deployment: Deployment, asked: str, at: datetime, decision: Decision
) -> None:
    assert decide(deployment.lines, deployment.offices, asked, at) == decision


def test_closed_everywhere_ends_with_the_messages() -> None:
    office = {"o": Office("o", Schedule("UTC", parse_hours(["mon 09:00-10:00"])))}
    lines = {
        "a": Line("a", ("o",), after_hours=AfterHours("a-closed", "b")),
        "b": Line("b", ("o",), after_hours=AfterHours("b-closed", "a")),  # a cycle
    }
    assert decide(lines, office, "a", SATURDAY_20) == Decision(
        "a", None, ("a", "b"), ("a-closed", "b-closed")
    )


def test_a_line_open_on_holidays_keeps_its_offices_hours() -> None:
    """Georgia's 7 January: the consultation line closes; a line open on holidays, staffed by
    the same office, does not."""
    tbilisi = Schedule(
        "Asia/Tbilisi", parse_hours(["mon-fri 09:00-18:00"]), public=holidays.country_holidays("GE")
    )
    offices = {"tbilisi": Office("tbilisi", tbilisi)}
    lines = {
        "consultation": Line("consultation", ("tbilisi",), after_hours=AfterHours("closed")),
        "rehabilitation": Line("rehabilitation", ("tbilisi",), open_on_holidays=True),
    }
    christmas = datetime(2027, 1, 7, 12, 0, tzinfo=timezone(timedelta(hours=4)))
    assert decide(lines, offices, "consultation", christmas).line is None
    assert decide(lines, offices, "rehabilitation", christmas).line == "rehabilitation"


def test_a_closed_line_may_offer_a_callback() -> None:
    office = {"o": Office("o", Schedule("UTC", parse_hours(["mon 09:00-10:00"])))}
    lines = {"a": Line("a", ("o",), after_hours=AfterHours("a-closed", callback=True))}
    assert decide(lines, office, "a", SATURDAY_20) == Decision(
        "a", None, ("a",), ("a-closed",), callback=True
    )


def test_callback_or_another_line_not_both() -> None:
    with pytest.raises(ValueError, match="callback"):
        AfterHours(line="b", callback=True)


def test_the_next_moment_a_line_is_open() -> None:
    from datetime import UTC, datetime, timedelta

    from routing.lines import Line, next_open
    from routing.schedule import Office, Schedule, parse_hours

    kyiv = Office("sumy", Schedule("Europe/Kyiv", parse_hours(["mon-fri 09:00-18:00"])))
    line = Line("consultation", ("sumy",))
    friday_evening = datetime(2026, 11, 27, 16, 5, tzinfo=UTC)  # 18:05 in Kyiv
    assert next_open(line, {"sumy": kyiv}, friday_evening) == datetime(
        2026, 11, 30, 7, 0, tzinfo=UTC
    )  # Monday 09:00
    open_now = friday_evening - timedelta(hours=3)
    assert next_open(line, {"sumy": kyiv}, open_now) == open_now
