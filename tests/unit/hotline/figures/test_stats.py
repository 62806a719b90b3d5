"""The supervisors' figures, against a morning worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hotline.figures import stats
from hotline.figures.stats import Queued, compute

DAY = datetime(2026, 11, 25, tzinfo=UTC)


def at(hour: int, minute: int) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


MORNING = [
    Queued("consultation", "op1", at(9, 5), True, 10.0, 300.0, "answered"),
    Queued("consultation", "op2", at(9, 20), True, 30.0, 120.0, "answered"),
    Queued("consultation", None, at(9, 40), False, 50.0, None, "abandoned"),
    Queued("detention", "op1", at(10, 10), True, 5.0, 60.0, "answered"),
    Queued("detention", None, at(10, 30), False, None, None, None),  # still waiting
]


def test_totals_lines_operators_and_hours() -> None:
    figures = compute(MORNING, at(9, 0), at(11, 0), threshold=20)
    total = figures["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["waiting"]) == (
        5,
        3,
        1,
        1,
    )
    assert total["answered_within_threshold"] == 2  # 10 s and 5 s
    assert total["service_level"] == 0.5  # 2 of the 4 settled calls
    assert total["average_speed_of_answer"] == 15.0  # (10 + 30 + 5) / 3
    assert total["average_handle_time"] == 160.0  # (300 + 120 + 60) / 3
    assert total["longest_wait"] == 50.0

    consultation = figures["lines"]["consultation"]
    assert consultation["service_level"] == round(1 / 3, 4)
    assert (consultation["average_speed_of_answer"], consultation["average_handle_time"]) == (
        20.0,
        210.0,
    )
    assert figures["lines"]["detention"]["service_level"] == 1.0

    op1 = figures["operators"]["op1"]
    assert (op1["answered"], op1["average_speed_of_answer"], op1["average_handle_time"]) == (
        2,
        7.5,
        180.0,
    )
    assert figures["operators"]["op2"]["talk_time"] == 120.0

    hours = [(p["start"], p["offered"], p["answered"]) for p in figures["periods"]]
    assert hours == [("2026-11-25T09:00:00+00:00", 3, 2), ("2026-11-25T10:00:00+00:00", 2, 1)]


def test_days_in_the_hotlines_time_zone_and_empty_periods() -> None:
    kyiv = ZoneInfo("Europe/Kyiv")
    figures = compute(MORNING, at(0, 0) - timedelta(days=1), at(23, 0), by="day", tz=kyiv)
    days = [(p["start"], p["offered"]) for p in figures["periods"]]
    assert days == [
        ("2026-11-24T00:00:00+02:00", 0),
        ("2026-11-25T00:00:00+02:00", 5),
        ("2026-11-26T00:00:00+02:00", 0),
    ]
    assert figures["periods"][0]["service_level"] is None  # nothing to measure


def test_hours_across_the_autumn_clock_change() -> None:
    kyiv = ZoneInfo("Europe/Kyiv")  # 2026-10-25 04:00 local goes back to 03:00
    since = datetime(2026, 10, 25, 2, 0, tzinfo=kyiv)
    figures = compute([], since, since.astimezone(UTC) + timedelta(hours=4), tz=kyiv)
    assert len(figures["periods"]) == 4
    days = compute([], since, since + timedelta(days=2), by="day", tz=kyiv)["periods"]
    assert [p["start"][:10] for p in days] == ["2026-10-25", "2026-10-26", "2026-10-27"]


def test_transfers_topics_and_resolutions_by_hand() -> None:
    """Three wrapped-up calls, one of them transferred from information to consultation."""
    calls = [
        Queued(
            "consultation",
            "op3",
            at(9, 5),
            True,
            10.0,
            400.0,
            "answered",
            transfers=(("information", "op1"),),
            topics=("labour", "family"),
            resolution="advice-given",
        ),
        Queued(
            "consultation",
            "op4",
            at(9, 30),
            True,
            5.0,
            200.0,
            "answered",
            topics=("labour",),
            resolution="lawyer-appointed",
        ),
        Queued("detention", "op1", at(10, 0), True, 1.0, 100.0, "answered", topics=("criminal",)),
    ]
    figures = compute(calls, at(9, 0), at(11, 0))
    assert figures["total"]["transferred"] == 1
    assert figures["lines"]["information"]["transferred"] == 1
    assert figures["operators"]["op1"]["transferred"] == 1
    labour = figures["topics"]["labour"]
    assert (labour["calls"], labour["average_handle_time"]) == (2, 300.0)
    assert (labour["lines"], labour["operators"]) == ({"consultation": 2}, {"op3": 1, "op4": 1})
    assert figures["topics"]["criminal"]["lines"] == {"detention": 1}
    assert figures["resolutions"]["advice-given"]["calls"] == 1
    assert "criminal" not in figures["resolutions"]  # (no resolution given)
    hours = [p.get("topics") for p in figures["periods"]]
    assert hours == [{"family": 1, "labour": 2}, {"criminal": 1}]


def test_report_figures_time_to_acceptance_share_within_target_and_calls() -> None:
    stored = datetime(2026, 12, 6, 1, tzinfo=UTC)

    def accepted(after: float, calls: int, line: str = "detention") -> stats.Reported:
        return stats.Reported(line, stored, stored + timedelta(seconds=after), False, calls, 900)

    items = [
        accepted(120, 1),
        accepted(300, 3),
        accepted(600, 2),
        accepted(1200, 5),  # past the target
        accepted(60, 1, "ge-consultation"),
        stats.Reported("detention", stored, None, False, 0, 900),  # open, past the target
        stats.Reported("detention", stored + timedelta(minutes=55), None, False, 0, 900),  # open
        stats.Reported("detention", stored, None, True, 0, 900),  # closed without acceptance
    ]
    figures = stats.reports(items, stored + timedelta(hours=1))
    assert (figures["reports"], figures["accepted"], figures["open"]) == (8, 5, 2)
    assert figures["time_to_acceptance"] == {"p50": 300.0, "p90": 1200.0, "max": 1200.0}
    # within 900 s: 4 of the 5 accepted; the open and the closed ones past it count against
    assert figures["within_target"] == round(4 / 7, 4)
    assert figures["calls"] == {"mean": 2.4, "max": 5}
    detention = figures["lines"]["detention"]
    assert (detention["reports"], detention["accepted"]) == (7, 4)
    assert figures["lines"]["ge-consultation"]["time_to_acceptance"]["p50"] == 60.0


def test_quarter_hours_weeks_and_months_as_reports_count_them() -> None:
    quarters = compute(MORNING, at(9, 0), at(10, 0), by="15min")["periods"]
    assert [(p["start"][11:16], p["offered"]) for p in quarters] == [
        ("09:00", 1),
        ("09:15", 1),
        ("09:30", 1),
        ("09:45", 0),
    ]
    halves = compute(MORNING, at(9, 0), at(11, 0), by="30min")["periods"]
    assert [p["offered"] for p in halves] == [2, 1, 1, 1]
    kyiv = ZoneInfo("Europe/Kyiv")  # weeks from Monday, months from the 1st, in local time
    weeks = compute(MORNING, datetime(2026, 11, 16, tzinfo=kyiv), at(23, 0), by="week", tz=kyiv)
    assert [(p["start"], p["offered"]) for p in weeks["periods"]] == [
        ("2026-11-16T00:00:00+02:00", 0),
        ("2026-11-23T00:00:00+02:00", 5),
    ]
    year = compute(MORNING, datetime(2026, 1, 1, tzinfo=kyiv), at(23, 0), by="month", tz=kyiv)
    months = [p["start"] for p in year["periods"]]
    assert months[0] == "2026-01-01T00:00:00+02:00" and months[3] == "2026-04-01T00:00:00+03:00"
    assert len(months) == 11 and year["periods"][-1]["offered"] == 5
    # a year's quarter hours: those with calls only
    long = compute(MORNING, at(0, 0) - timedelta(days=365), at(23, 0), by="15min")["periods"]
    assert [p["offered"] for p in long] == [1, 1, 1, 1, 1]


def test_several_service_levels_at_once() -> None:
    figures = compute(MORNING, at(9, 0), at(11, 0), threshold=20, thresholds=(30, 60, 5))
    assert figures["thresholds"] == [5, 30, 60]
    assert figures["total"]["service_level"] == 0.5
    assert figures["total"]["service_levels"] == {"5": 0.25, "30": 0.75, "60": 0.75}
    assert figures["lines"]["detention"]["service_levels"]["5"] == 1.0


def test_occupancy_pauses_by_reason_and_handle_time_with_wrap_up() -> None:
    changes = [
        stats.Change("op1", at(8, 0), "available"),  # before the period: where they stood
        stats.Change("op1", at(9, 10), "ringing"),
        stats.Change("op1", at(9, 10) + timedelta(seconds=20), "on_call"),
        stats.Change("op1", at(9, 20), "wrap_up"),
        stats.Change("op1", at(9, 30), "paused", "break"),
        stats.Change("op1", at(9, 45), "available"),
        stats.Change("op2", at(9, 30), "paused", "training"),
        stats.Change("op2", at(9, 40), "logged_out"),
        stats.Change("op1", at(10, 30), "logged_out"),  # after the period: not counted
    ]
    found = stats.operators_time(changes, {"op1": 1}, {"op1": 580.0}, at(9, 0), at(10, 0))
    op1 = found["operators"]["op1"]
    assert op1["logged_in"] == 3600.0
    assert (op1["ringing"], op1["on_call"], op1["wrap_up"], op1["paused"]) == (
        20.0,
        580.0,
        600.0,
        900.0,
    )
    assert op1["available"] == 3600 - 20 - 580 - 600 - 900
    assert op1["paused_by_reason"] == {"break": 900.0}
    assert op1["occupancy"] == round((580 + 600) / (3600 - 900), 4)
    assert (op1["average_wrap_up"], op1["average_handle_time_with_wrap_up"]) == (600.0, 1180.0)
    op2 = found["operators"]["op2"]
    assert (op2["logged_in"], op2["occupancy"], op2["average_wrap_up"]) == (600.0, None, None)
    assert found["total"]["paused_by_reason"] == {"break": 900.0, "training": 600.0}
