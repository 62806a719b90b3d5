from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import holidays
import pytest

from routing import Schedule, Span, parse_hours
from routing.schedule import parse_exception

KYIV_WINTER = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("hours", "at", "is_open"),
    [
        (["mon-fri 09:00-18:00"], datetime(2026, 11, 25, 9, 0, tzinfo=KYIV_WINTER), True),
        (["mon-fri 09:00-18:00"], datetime(2026, 11, 25, 8, 59, tzinfo=KYIV_WINTER), False),
        (["mon-fri 09:00-18:00"], datetime(2026, 11, 25, 18, 0, tzinfo=KYIV_WINTER), False),
        (["mon-fri 09:00-18:00"], datetime(2026, 11, 28, 12, 0, tzinfo=KYIV_WINTER), False),
        # the same instant in UTC: the office's own time zone decides
        (["mon-fri 09:00-18:00"], datetime(2026, 11, 25, 7, 30, tzinfo=UTC), True),
        (["always"], datetime(2026, 11, 29, 3, 0, tzinfo=UTC), True),
        (["fri 22:00-02:00"], datetime(2026, 11, 28, 1, 0, tzinfo=KYIV_WINTER), True),
        (["fri 22:00-02:00"], datetime(2026, 11, 28, 2, 0, tzinfo=KYIV_WINTER), False),
        (
            ["mon 09:00-12:00", "mon 14:00-18:00"],
            datetime(2026, 11, 23, 13, 0, tzinfo=KYIV_WINTER),
            False,
        ),
    ],
)
def test_is_open(hours: list[str], at: datetime, is_open: bool) -> None:
    assert Schedule("Europe/Kyiv", parse_hours(hours)).is_open(at) is is_open


def test_holiday_closes_the_whole_local_day() -> None:
    schedule = Schedule(
        "Europe/Kyiv", parse_hours(["mon-sun 00:00-24:00"]), frozenset({date(2026, 12, 25)})
    )
    assert not schedule.is_open(datetime(2026, 12, 25, 12, tzinfo=KYIV_WINTER))
    # 23:30 UTC on the 24th is already the 25th in Kyiv
    assert not schedule.is_open(datetime(2026, 12, 24, 23, 30, tzinfo=UTC))
    assert schedule.is_open(datetime(2026, 12, 24, 21, 30, tzinfo=UTC))


TBILISI = timezone(timedelta(hours=4))
WORKDAYS = parse_hours(["mon-fri 09:00-18:00"])


def test_public_holidays_close_an_office_unless_it_never_closes() -> None:
    """Georgia's calendar from the `holidays` package: Orthodox Christmas, 7 January 2027,
    a Thursday, closes Tbilisi's consultations; an office open around the clock stays open."""
    georgia = holidays.country_holidays("GE")
    christmas = datetime(2027, 1, 7, 11, tzinfo=TBILISI)
    assert Schedule("Asia/Tbilisi", WORKDAYS).is_open(christmas)  # without a country: open
    assert not Schedule("Asia/Tbilisi", WORKDAYS, public=georgia).is_open(christmas)
    assert Schedule("Asia/Tbilisi", WORKDAYS, public=georgia).is_open(christmas, True)
    assert Schedule("Asia/Tbilisi", parse_hours(["always"]), public=georgia).is_open(christmas)
    assert Schedule("Asia/Tbilisi", WORKDAYS, public=georgia).is_open(christmas + timedelta(1))
    # the 25th of December is a working day in Georgia
    assert Schedule("Asia/Tbilisi", WORKDAYS, public=georgia).is_open(
        datetime(2026, 12, 25, 11, tzinfo=TBILISI)
    )


def test_ukraine_under_martial_law_keeps_its_offices_open_on_holidays() -> None:
    """Since 2022 Ukraine's public holidays are working days (martial law), as the package
    states it: Christmas, New Year and Independence Day do not close Sumy's lawyers."""
    ukraine = holidays.country_holidays("UA")
    for day in (date(2026, 12, 25), date(2027, 1, 1), date(2027, 8, 24)):
        at = datetime.combine(day, datetime.min.time(), KYIV_WINTER).replace(hour=11)
        if at.weekday() < 5:
            assert Schedule("Europe/Kyiv", WORKDAYS, public=ukraine).is_open(at), day
    # before martial law, 1 January 2021 (a Friday) closed it
    assert not Schedule("Europe/Kyiv", WORKDAYS, public=ukraine).is_open(
        datetime(2021, 1, 1, 11, tzinfo=KYIV_WINTER)
    )


def test_an_offices_own_closed_day_closes_it_even_round_the_clock() -> None:
    own = frozenset({date(2026, 12, 31)})
    schedule = Schedule("Europe/Kyiv", parse_hours(["always"]), own)
    assert not schedule.is_open(datetime(2026, 12, 31, 11, tzinfo=KYIV_WINTER), True)
    assert schedule.round_the_clock and not schedule.always_open


def test_parse_hours_shapes() -> None:
    assert parse_hours(["sat 10:00-14:00"]) == (Span(5, 600, 840),)
    assert len(parse_hours(["24/7"])) == 7


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("weekdays 9-18", "is not opening hours"),
        ("mon-fry 09:00-18:00", "'fry' is not a day"),
        ("mon 25:00-26:00", "is not a time of day"),
        ("fri-mon 09:00-18:00", "comes after"),
        ("mon 09:00-09:00", "same time"),
    ],
)
def test_bad_hours_are_named(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hours([entry])


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Schedule("UTC", parse_hours(["always"])).is_open(datetime(2026, 1, 1))


def test_unknown_time_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        Schedule("Europe/Kiev-ish", ())


def test_an_exceptional_closure_or_opening_overrides_the_week_and_the_closed_days() -> None:
    kyiv = Schedule(
        "Europe/Kyiv",
        WORKDAYS,
        frozenset({date(2026, 12, 31)}),
        exceptions=(
            parse_exception("2026-12-24 15:00", "2026-12-26", open_=False),  # to the 26th's end
            parse_exception("2026-12-31", None, open_=True),  # open on its own closed day
            parse_exception("2027-01-02 10:00", "2027-01-02 14:00", open_=True),  # a Saturday
            parse_exception("2026-12-31 16:00", "2027-01-01 00:00", open_=False),  # last wins
        ),
    )

    def at(day: int, hour: int, month: int = 12, year: int = 2026) -> bool:
        return kyiv.is_open(datetime(year, month, day, hour, tzinfo=KYIV_WINTER))

    assert at(24, 14) and not at(24, 15) and not at(25, 11)  # closed from 15:00 on the 24th
    assert not at(26, 11)  # ... to the end of the 26th (a date alone: the whole day)
    assert at(28, 11)  # back to its weekly hours on Monday
    assert at(31, 11) and not at(31, 16)  # its closed day opened, then closed at 16:00
    assert at(2, 11, 1, 2027) and not at(2, 15, 1, 2027)  # a Saturday open 10:00-14:00
    assert not kyiv.always_open


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("24 December", None, "is not a date"),
        ("2026-12-24 15:00", "2026-12-24 14:00", "is not after"),
        ("2026-12-24 25:00", None, "is not a date"),
    ],
)
def test_a_bad_exception_is_named(start: str, end: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_exception(start, end, open_=False)
