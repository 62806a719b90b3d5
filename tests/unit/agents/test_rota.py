"""Who is on duty (agents/rota.py): the weekly pattern in the rota's own time zone (overnight
spans, DST), exceptions, calendar shifts, the order people are rung in, and the gaps."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.rota import (
    DutyRole,
    Override,
    Person,
    Rota,
    Shift,
    Shifts,
    Turn,
    localize,
    parse_moment,
    parse_when,
)

KYIV = ZoneInfo("Europe/Kyiv")
LAWYER, SUPERVISOR = DutyRole.LAWYER, DutyRole.SUPERVISOR


def person(pid: str) -> Person:
    return Person(pid, pid.title(), "0671234501", f"{pid}@example.org", "uk")


KOVALENKO, BONDAR, SHEVCHENKO, MELNYK = map(person, ("kovalenko", "bondar", "shevchenko", "melnyk"))


def kyiv(text: str) -> datetime:
    """A local time in Kyiv, e.g. ``"2026-12-12 03:00"`` (a Saturday)."""
    return localize(datetime.fromisoformat(text), KYIV)


#: The brief's example: nights and weekends Kovalenko then Bondar, days Shevchenko, Melnyk
#: supervising around the clock, Bondar alone over Christmas.
NATIONAL = Rota(
    "national",
    "Europe/Kyiv",
    turns=(
        Turn(LAWYER, (KOVALENKO, BONDAR), parse_when(["mon-fri 18:00-09:00", "sat-sun always"])),
        Turn(LAWYER, (SHEVCHENKO, BONDAR), parse_when(["mon-fri 09:00-18:00"])),
        Turn(SUPERVISOR, (MELNYK,), parse_when(["always"])),
    ),
    overrides=(
        Override(kyiv("2026-12-24 15:00"), kyiv("2026-12-26 09:00"), ((LAWYER, (BONDAR,)),)),
    ),
)


@pytest.mark.parametrize(
    ("at", "role", "expected"),
    [
        ("2026-12-12 03:00", LAWYER, ["kovalenko", "bondar"]),  # 03:00 on a Saturday
        ("2026-12-13 23:59", LAWYER, ["kovalenko", "bondar"]),  # Sunday night
        ("2026-12-08 08:59", LAWYER, ["kovalenko", "bondar"]),  # Tuesday: Monday's night
        ("2026-12-08 09:00", LAWYER, ["shevchenko", "bondar"]),  # the day begins
        ("2026-12-08 17:59", LAWYER, ["shevchenko", "bondar"]),
        ("2026-12-08 18:00", LAWYER, ["kovalenko", "bondar"]),
        ("2026-12-12 08:30", LAWYER, ["kovalenko", "bondar"]),  # Friday's night into Saturday
        # Monday 00:00-09:00 is nobody's: "mon-fri 18:00-09:00" starts on Monday evening,
        # and "sat-sun always" ends at Sunday's midnight
        ("2026-12-14 03:00", LAWYER, []),
        ("2026-12-14 03:00", SUPERVISOR, ["melnyk"]),
        # the exception: Bondar alone, the supervisor untouched
        ("2026-12-24 15:00", LAWYER, ["bondar"]),
        ("2026-12-24 14:59", LAWYER, ["shevchenko", "bondar"]),
        ("2026-12-25 12:00", SUPERVISOR, ["melnyk"]),
        ("2026-12-26 09:00", LAWYER, ["kovalenko", "bondar"]),  # a Saturday again
    ],
)
def test_who_is_on_duty(at: str, role: DutyRole, expected: list[str]) -> None:
    assert [p.id for p in NATIONAL.on_duty(kyiv(at), role)] == expected


def test_the_pattern_follows_the_wall_clock_in_summer_and_winter() -> None:
    """18:00 in Kyiv is 15:00 UTC in summer and 16:00 UTC in winter."""
    summer = datetime(2026, 7, 6, 15, 0, tzinfo=UTC)  # a Monday, 18:00 in Kyiv
    winter = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # a Monday, 17:00 in Kyiv
    assert [p.id for p in NATIONAL.on_duty(summer, LAWYER)] == ["kovalenko", "bondar"]
    assert [p.id for p in NATIONAL.on_duty(winter, LAWYER)] == ["shevchenko", "bondar"]


@pytest.mark.parametrize(
    ("when", "start", "end", "gaps"),
    [
        # the brief's night pattern alone, one week: Monday morning and every working day
        (
            ["mon-fri 18:00-09:00", "sat-sun always"],
            "2026-12-07 00:00",
            "2026-12-14 00:00",
            [
                ("2026-12-07 00:00", "2026-12-07 18:00"),
                ("2026-12-08 09:00", "2026-12-08 18:00"),
                ("2026-12-09 09:00", "2026-12-09 18:00"),
                ("2026-12-10 09:00", "2026-12-10 18:00"),
                ("2026-12-11 09:00", "2026-12-11 18:00"),
            ],
        ),
        (["always"], "2026-12-07 00:00", "2026-12-21 00:00", []),
        # the spring change skips 03:00-04:00: a shift from 03:30 starts at 04:00
        (["sun 03:30-12:00"], "2026-03-29 00:00", "2026-03-29 14:00",
         [("2026-03-29 00:00", "2026-03-29 04:00"), ("2026-03-29 12:00", "2026-03-29 14:00")]),
        # the autumn change repeats 03:00-04:00: a shift from 03:30 goes on through it
        (["sun 03:30-12:00"], "2026-10-25 00:00", "2026-10-25 14:00",
         [("2026-10-25 00:00", "2026-10-25 03:30"), ("2026-10-25 12:00", "2026-10-25 14:00")]),
        # overnight across the autumn change: no gap, an hour longer
        (["sat 22:00-06:00", "sun 06:00-22:00"], "2026-10-24 22:00", "2026-10-25 22:00", []),
    ],
)  # fmt: skip
def test_gaps(when: list[str], start: str, end: str, gaps: list[tuple[str, str]]) -> None:
    rota = Rota("r", "Europe/Kyiv", (Turn(LAWYER, (KOVALENKO,), parse_when(when)),))
    found = rota.gaps(kyiv(start), kyiv(end), LAWYER)
    assert found == [(kyiv(a), kyiv(b)) for a, b in gaps]
    assert all(a.tzinfo is UTC for a, _ in found)


def test_an_autumn_night_is_an_hour_longer() -> None:
    rota = Rota("r", "Europe/Kyiv", (Turn(LAWYER, (KOVALENKO,), parse_when(["sat 22:00-06:00"])),))
    evening, morning = rota.pattern(kyiv("2026-10-24 12:00"), kyiv("2026-10-25 12:00"), LAWYER)
    assert evening.end == morning.start  # (spans are cut at midnight)
    assert morning.end - evening.start == timedelta(hours=9)


def test_an_exception_of_nobody_is_a_gap_and_gaps_merge_across_it() -> None:
    rota = Rota(
        "r",
        "Europe/Kyiv",
        (Turn(LAWYER, (KOVALENKO,), parse_when(["mon-fri 09:00-18:00"])),),
        (Override(kyiv("2026-12-11 12:00"), kyiv("2026-12-14 10:00"), ((LAWYER, ()),)),),
    )
    # Friday from noon to Monday 10:00: one gap, though the pattern changes within it
    assert rota.gaps(kyiv("2026-12-11 00:00"), kyiv("2026-12-15 00:00"), LAWYER) == [
        (kyiv("2026-12-11 00:00"), kyiv("2026-12-11 09:00")),
        (kyiv("2026-12-11 12:00"), kyiv("2026-12-14 10:00")),
        (kyiv("2026-12-14 18:00"), kyiv("2026-12-15 00:00")),
    ]


def test_the_calendar_comes_before_the_pattern_and_fills_its_gaps() -> None:
    night = Shift(kyiv("2026-12-14 00:00"), kyiv("2026-12-14 09:00"), LAWYER, (SHEVCHENKO,))
    weekend = Shift(kyiv("2026-12-12 00:00"), kyiv("2026-12-14 00:00"), LAWYER, (BONDAR,))
    supervisor = Shift(kyiv("2026-12-12 00:00"), kyiv("2026-12-19 00:00"), SUPERVISOR, (KOVALENKO,))
    rota = Rota(
        "r",
        "Europe/Kyiv",
        NATIONAL.turns,
        calendar=Shifts((night, weekend, supervisor)),
    )
    assert [p.id for p in rota.on_duty(kyiv("2026-12-14 03:00"), LAWYER)] == ["shevchenko"]
    # Bondar from the calendar first, then the pattern's (Bondar once)
    assert [p.id for p in rota.on_duty(kyiv("2026-12-13 03:00"), LAWYER)] == [
        "bondar",
        "kovalenko",
    ]
    assert [p.id for p in rota.on_duty(kyiv("2026-12-13 03:00"), SUPERVISOR)] == [
        "kovalenko",
        "melnyk",
    ]
    assert rota.gaps(kyiv("2026-12-12 00:00"), kyiv("2026-12-19 00:00"), LAWYER) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("weekdays 9-6", "'weekdays 9-6' is not duty hours"),
        ("mon-fri 18:00-18:00", "opens and closes at the same time"),
        ("fri-mon always", "fri comes after mon"),
        ("mon-fri 25:00-09:00", "is not a time of day"),
        ("sat-sun never", "'sat-sun never' is not duty hours; write e.g."),
    ],
)
def test_bad_hours_are_named(entry: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_when([entry])


@pytest.mark.parametrize(
    ("value", "end", "expected"),
    [
        ("2026-12-24 15:00", False, "2026-12-24 15:00"),
        ("2026-12-24T15:00", True, "2026-12-24 15:00"),
        ("2026-12-24", False, "2026-12-24 00:00"),
        ("2026-12-26", True, "2026-12-27 00:00"),  # a date range includes its last day
        (date(2026, 12, 26), True, "2026-12-27 00:00"),
        (datetime(2026, 12, 24, 15, 0), False, "2026-12-24 15:00"),
        ("2026-12-24 13:00+00:00", False, "2026-12-24 15:00"),
    ],
)
def test_an_exception_may_be_dates_or_times(
    value: str | date | datetime, end: bool, expected: str
) -> None:
    assert parse_moment(value, KYIV, end=end) == kyiv(expected)


def test_a_bad_moment_is_named() -> None:
    with pytest.raises(ValueError, match="'Christmas' is not a date"):
        parse_moment("Christmas", KYIV)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        NATIONAL.on_duty(datetime(2026, 12, 12, 3), LAWYER)


# -- properties ------------------------------------------------------------------------------
ZONES = ["Europe/Kyiv", "Asia/Tbilisi", "America/New_York", "Australia/Lord_Howe", "UTC"]
PEOPLE = [KOVALENKO, BONDAR, SHEVCHENKO]
#: Around both of 2026's DST changes in Europe and America, and an ordinary week.
ORIGINS = [datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 10, 20, tzinfo=UTC)]
ORIGINS.append(datetime(2026, 12, 1, tzinfo=UTC))


@st.composite
def hours(draw: st.DrawFn) -> str:
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    first = draw(st.integers(0, 6))
    last = draw(st.integers(first, 6))
    start = draw(st.integers(0, 47)) * 30
    end = draw(st.integers(0, 47).filter(lambda m: m * 30 != start)) * 30
    return (
        f"{days[first]}-{days[last]} {start // 60:02}:{start % 60:02}-{end // 60:02}:{end % 60:02}"
    )


@st.composite
def rotas(draw: st.DrawFn) -> tuple[Rota, datetime, datetime]:
    origin = draw(st.sampled_from(ORIGINS))

    def offset() -> timedelta:
        return timedelta(minutes=draw(st.integers(0, 14 * 24 * 4)) * 15)

    turns = tuple(
        Turn(LAWYER, tuple(draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=2))),
             parse_when(draw(st.lists(hours(), min_size=1, max_size=3))))
        for _ in range(draw(st.integers(0, 3)))
    )  # fmt: skip
    shifts = []
    for _ in range(draw(st.integers(0, 3))):
        a = origin + offset()
        shifts.append(Shift(a, a + offset() / 4 + timedelta(minutes=1), LAWYER, (BONDAR,)))
    overrides = []
    for _ in range(draw(st.integers(0, 2))):
        a = origin + offset()
        who = tuple(draw(st.lists(st.sampled_from(PEOPLE), max_size=1)))
        overrides.append(Override(a, a + offset() / 4 + timedelta(minutes=1), ((LAWYER, who),)))
    rota = Rota(
        "r", draw(st.sampled_from(ZONES)), turns, tuple(overrides), calendar=Shifts(tuple(shifts))
    )
    start = origin + offset() / 2
    return rota, start, start + offset() / 2 + timedelta(minutes=1)


@settings(max_examples=150, deadline=None)
@given(rotas(), st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=40))
def test_nobody_on_duty_exactly_in_the_gaps(
    drawn: tuple[Rota, datetime, datetime], where: list[float]
) -> None:
    rota, start, end = drawn
    gaps = rota.gaps(start, end, LAWYER)
    # in order, apart, within the period
    for (a, b), (c, _) in itertools.pairwise(gaps):
        assert a < b < c
    assert all(start <= a < b <= end for a, b in gaps)
    moments = [t for f in where if (t := start + (end - start) * f) < end]  # (µs rounding)
    moments += [t for a, b in gaps for t in (a, b - timedelta(microseconds=1), b) if t < end]
    for at in moments:
        in_gap = any(a <= at < b for a, b in gaps)
        assert in_gap == (not rota.on_duty(at, LAWYER)), (at, gaps)


@settings(max_examples=100, deadline=None)
@given(rotas())
def test_a_gap_never_overlaps_a_shift(drawn: tuple[Rota, datetime, datetime]) -> None:
    """Neither a calendar shift nor a span of the pattern lies in a gap (where no exception
    says otherwise)."""
    drawn_rota, start, end = drawn
    calendar = drawn_rota.calendar
    assert calendar is not None
    rota = Rota(drawn_rota.name, drawn_rota.timezone, drawn_rota.turns, (), calendar)
    shifts = [*calendar.between(start, end), *rota.pattern(start, end, LAWYER)]
    for a, b in rota.gaps(start, end, LAWYER):
        assert not [s for s in shifts if s.start < b and s.end > a and s.people]
