"""Rotas kept as iCalendar files or URLs (hotline/reports/calendars.py): real .ics texts as a legal
aid centre's calendar program writes them (recurrences, exceptions, moved instances, time
zones, all-day events), a file changed on disk, and a URL served by a real HTTP server asked
with conditional requests; a broken or unreachable calendar keeps the last good one."""

from __future__ import annotations

import http.server
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from agents.rota import DutyRole, Person, Rota, localize
from hotline.reports import calendars
from hotline.reports.calendars import CalendarError, Source

KYIV = ZoneInfo("Europe/Kyiv")
PEOPLE = {
    p.id: p
    for p in (
        Person("kovalenko", "Olena Kovalenko", "0671234501", "o.kovalenko@example.org", "uk"),
        Person("bondar", "Taras Bondar", "0501234502", "t.bondar@example.org", "uk"),
        Person("melnyk", "Andrii Melnyk", "0671234504", None, "uk"),
    )
}


def kyiv(text: str) -> datetime:
    return localize(datetime.fromisoformat(text), KYIV)


def ics(*events: str) -> str:
    """A calendar as programs write them (CRLF lines), with Kyiv's VTIMEZONE."""
    body = "\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Legal aid centre//Duty//EN",
            "BEGIN:VTIMEZONE",
            "TZID:Europe/Kyiv",
            "BEGIN:STANDARD",
            "DTSTART:19701025T040000",
            "TZOFFSETFROM:+0300",
            "TZOFFSETTO:+0200",
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
            "END:STANDARD",
            "BEGIN:DAYLIGHT",
            "DTSTART:19700329T030000",
            "TZOFFSETFROM:+0200",
            "TZOFFSETTO:+0300",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "END:DAYLIGHT",
            "END:VTIMEZONE",
            *events,
            "END:VCALENDAR",
        ]
    )
    return body.replace("\n", "\r\n") + "\r\n"


#: Kovalenko's nights, Monday to Friday of one week (an attendee by e-mail): not Wednesday's
#: (EXDATE), and Thursday's moved to Bondar from 20:00 (an overridden instance).
NIGHTS = """BEGIN:VEVENT
UID:nights@centre
DTSTAMP:20261101T000000Z
DTSTART;TZID=Europe/Kyiv:20261207T180000
DTEND;TZID=Europe/Kyiv:20261208T090000
RRULE:FREQ=DAILY;COUNT=5
EXDATE;TZID=Europe/Kyiv:20261209T180000
SUMMARY:Night duty
ATTENDEE;CN=Olena Kovalenko;ROLE=REQ-PARTICIPANT:mailto:O.Kovalenko@Example.org
END:VEVENT
BEGIN:VEVENT
UID:nights@centre
DTSTAMP:20261101T000000Z
RECURRENCE-ID;TZID=Europe/Kyiv:20261210T180000
DTSTART;TZID=Europe/Kyiv:20261210T200000
DTEND;TZID=Europe/Kyiv:20261211T090000
SUMMARY:Taras Bondar
END:VEVENT"""

#: Melnyk supervising all weekend (all-day events, by id), Bondar on Saturday in UTC,
#: Kovalenko on Sunday in floating time, a meeting that names nobody, a cancelled shift.
WEEKEND = """BEGIN:VEVENT
UID:weekend@centre
DTSTAMP:20261101T000000Z
DTSTART;VALUE=DATE:20261212
DTEND;VALUE=DATE:20261214
SUMMARY:melnyk
CATEGORIES:Supervisor
END:VEVENT
BEGIN:VEVENT
UID:saturday@centre
DTSTAMP:20261101T000000Z
DTSTART:20261212T070000Z
DTEND:20261212T190000Z
SUMMARY:bondar
CATEGORIES:LAWYER,WEEKEND
END:VEVENT
BEGIN:VEVENT
UID:sunday@centre
DTSTAMP:20261101T000000Z
DTSTART:20261213T090000
DURATION:PT8H
SUMMARY:Olena Kovalenko
END:VEVENT
BEGIN:VEVENT
UID:meeting@centre
DTSTAMP:20261101T000000Z
DTSTART;TZID=Europe/Kyiv:20261212T100000
DTEND;TZID=Europe/Kyiv:20261212T110000
SUMMARY:Team meeting
END:VEVENT
BEGIN:VEVENT
UID:cancelled@centre
DTSTAMP:20261101T000000Z
DTSTART;TZID=Europe/Kyiv:20261213T180000
DTEND;TZID=Europe/Kyiv:20261214T090000
SUMMARY:bondar
STATUS:CANCELLED
END:VEVENT"""


def rota_of(text: str) -> Rota:
    return Rota("national", "Europe/Kyiv", calendar=calendars.parse(text, PEOPLE, "Europe/Kyiv"))


@pytest.mark.parametrize(
    ("at", "role", "expected"),
    [
        ("2026-12-07 18:00", DutyRole.LAWYER, ["kovalenko"]),  # the first night
        ("2026-12-08 08:59", DutyRole.LAWYER, ["kovalenko"]),
        ("2026-12-08 09:00", DutyRole.LAWYER, []),
        ("2026-12-09 23:00", DutyRole.LAWYER, []),  # Wednesday: EXDATE
        ("2026-12-10 19:00", DutyRole.LAWYER, []),  # Thursday: moved to 20:00...
        ("2026-12-10 20:00", DutyRole.LAWYER, ["bondar"]),  # ... and to Bondar (SUMMARY: name)
        ("2026-12-11 23:00", DutyRole.LAWYER, ["kovalenko"]),  # Friday: the fifth and last
        ("2026-12-12 23:00", DutyRole.LAWYER, []),  # COUNT=5: no Saturday night
        ("2026-12-12 09:00", DutyRole.LAWYER, ["bondar"]),  # 07:00Z is 09:00 in Kyiv
        ("2026-12-12 08:59", DutyRole.LAWYER, ["kovalenko"]),  # Friday's night, still
        ("2026-12-12 00:00", DutyRole.SUPERVISOR, ["melnyk"]),  # all-day: local midnight...
        ("2026-12-13 23:59", DutyRole.SUPERVISOR, ["melnyk"]),  # ... to the last day's end
        ("2026-12-14 00:00", DutyRole.SUPERVISOR, []),
        ("2026-12-13 09:00", DutyRole.LAWYER, ["kovalenko"]),  # floating: Kyiv's 09:00
        ("2026-12-13 16:59", DutyRole.LAWYER, ["kovalenko"]),  # DURATION:PT8H
        ("2026-12-13 17:00", DutyRole.LAWYER, []),
        ("2026-12-13 20:00", DutyRole.LAWYER, []),  # cancelled
    ],
)
def test_events_are_shifts(at: str, role: DutyRole, expected: list[str]) -> None:
    rota = rota_of(ics(NIGHTS, WEEKEND))
    assert [p.id for p in rota.on_duty(kyiv(at), role)] == expected


def test_a_weekly_shift_keeps_its_local_hours_across_the_dst_change() -> None:
    weekly = """BEGIN:VEVENT
UID:weekly@centre
DTSTAMP:20261001T000000Z
DTSTART;TZID=Europe/Kyiv:20261017T180000
DTEND;TZID=Europe/Kyiv:20261018T090000
RRULE:FREQ=WEEKLY;BYDAY=SA
SUMMARY:kovalenko
END:VEVENT"""
    rota = rota_of(ics(weekly))
    for saturday in ("2026-10-17", "2026-10-24", "2026-10-31"):  # summer, the change, winter
        assert rota.on_duty(kyiv(f"{saturday} 18:00"), DutyRole.LAWYER)
        assert not rota.on_duty(kyiv(f"{saturday} 17:59"), DutyRole.LAWYER)
    gaps = rota.gaps(kyiv("2026-10-24 12:00"), kyiv("2026-10-25 12:00"), DutyRole.LAWYER)
    assert gaps == [
        (kyiv("2026-10-24 12:00"), kyiv("2026-10-24 18:00")),
        (kyiv("2026-10-25 09:00"), kyiv("2026-10-25 12:00")),
    ]


def test_an_event_that_names_nobody_is_told() -> None:
    calendar = calendars.parse(ics(NIGHTS, WEEKEND), PEOPLE, "Europe/Kyiv")
    (meeting,) = calendar.unmatched(kyiv("2026-12-07 00:00"), kyiv("2026-12-21 00:00"))
    assert (meeting.summary, meeting.start) == ("Team meeting", kyiv("2026-12-12 10:00"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("this is no calendar", "not an iCalendar file"),
        ("BEGIN:VEVENT\r\nEND:VEVENT\r\n", "not an iCalendar file: no VCALENDAR"),
        (
            ics("BEGIN:VEVENT", "UID:1", "DTSTART:2026x", "SUMMARY:bondar", "END:VEVENT"),
            "event 'bondar': a bad or missing DTSTART",
        ),
        (
            ics("BEGIN:VEVENT", "UID:1", "SUMMARY:bondar", "END:VEVENT"),
            "event 'bondar': a bad or missing DTSTART",
        ),
        (
            ics(
                "BEGIN:VEVENT",
                "UID:1",
                "DTSTART;TZID=Mars/Olympus:20261201T100000",
                "SUMMARY:bondar",
                "END:VEVENT",
            ),
            "event 'bondar': unknown time zone 'Mars/Olympus'",
        ),
        (
            ics(
                "BEGIN:VEVENT",
                "UID:1",
                "DTSTART:20261201T100000Z",
                "DTEND:20261201T110000Z",
                "RRULE:FREQ=SOMETIMES",
                "SUMMARY:bondar",
                "END:VEVENT",
            ),
            "FREQ=SOMETIMES",
        ),
    ],
)
def test_a_bad_calendar_is_named(text: str, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        calendars.parse(text, PEOPLE, "Europe/Kyiv")


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match=r"cannot read '.*nope\.ics': No such file"):
        calendars.read_file(tmp_path / "nope.ics", PEOPLE, "Europe/Kyiv")


NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
ONE = """BEGIN:VEVENT
UID:one@centre
DTSTAMP:20261101T000000Z
DTSTART:20261201T000000Z
DTEND:20261231T000000Z
SUMMARY:{who}
END:VEVENT"""


def on_duty(source: Source) -> list[str]:
    assert source.calendar is not None
    found = source.calendar.between(NOW, NOW + timedelta(seconds=1))
    return [p.id for s in found for p in s.people]


async def test_a_file_is_read_again_when_it_changes_and_a_broken_one_is_not_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "duty.ics"
    path.write_text(ics(ONE.format(who="kovalenko")))
    source = Source("ua", "national", PEOPLE, "Europe/Kyiv", file=path)
    assert await source.refresh(None, NOW)
    assert on_duty(source) == ["kovalenko"]
    assert not await source.refresh(None, NOW)  # unchanged: not read again

    path.write_text(ics(ONE.format(who="bondar")))
    assert await source.refresh(None, NOW)
    assert on_duty(source) == ["bondar"]

    with caplog.at_level(logging.ERROR, "hotline.reports.calendars"):
        path.write_text("BEGIN:VCALENDAR\r\nhalf written")
        assert not await source.refresh(None, NOW)
        assert not await source.refresh(None, NOW)
    assert on_duty(source) == ["bondar"]  # the last good one
    assert source.error is not None and "not an iCalendar file" in source.error
    (said,) = [r.getMessage() for r in caplog.records]  # once, not at every look
    assert "ua rota national: calendar" in said and "keeping the last good one" in said

    path.unlink()
    assert not await source.refresh(None, NOW)
    assert source.error is not None and "No such file" in source.error
    path.write_text(ics(ONE.format(who="melnyk")))
    assert await source.refresh(None, NOW)
    assert (on_duty(source), source.error) == (["melnyk"], None)


class Centre(http.server.BaseHTTPRequestHandler):
    """The legal aid centre's calendar server: ETag and Last-Modified, 304 when unchanged."""

    body: ClassVar[bytes] = b""
    status: ClassVar[int] = 200
    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        Centre.seen.append(dict(self.headers))
        tag = f'"{hash(self.body) & 0xFFFFFF:x}"'
        if self.status != 200:
            self.send_error(self.status)
            return
        if self.headers.get("If-None-Match") == tag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("ETag", tag)
        self.send_header("Last-Modified", "Mon, 07 Dec 2026 08:00:00 GMT")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def centre() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Centre)
    Centre.seen, Centre.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/private-s3cret/duty.ics"
    server.shutdown()
    server.server_close()


async def test_a_url_is_asked_with_conditional_requests(centre: str) -> None:
    Centre.body = ics(ONE.format(who="kovalenko")).encode()
    source = Source("ua", "national", PEOPLE, "Europe/Kyiv", url=centre, every=0.0)
    assert source.where == "http://127.0.0.1/..."  # never the secret in its path
    async with httpx.AsyncClient() as client:
        assert await source.refresh(client, NOW)
        assert on_duty(source) == ["kovalenko"]
        assert not await source.refresh(client, NOW)  # 304
        first, second = Centre.seen
        assert "If-None-Match" not in first and "If-Modified-Since" not in first
        assert second["If-Modified-Since"] == "Mon, 07 Dec 2026 08:00:00 GMT"
        assert second["If-None-Match"].startswith('"')  # the ETag it was given

        Centre.body = ics(ONE.format(who="bondar")).encode()
        assert await source.refresh(client, NOW)
        assert on_duty(source) == ["bondar"]

        Centre.status = 500
        assert not await source.refresh(client, NOW)
        assert source.error == "http://127.0.0.1/... answered 500"
        assert on_duty(source) == ["bondar"]  # the last good one

        Centre.status, Centre.body = 200, b"<html>Sign in</html>"
        assert not await source.refresh(client, NOW)
        assert source.error is not None and "not an iCalendar file" in source.error

        Centre.body = ics(ONE.format(who="melnyk")).encode()
        assert await source.refresh(client, NOW)
        assert (on_duty(source), source.error) == (["melnyk"], None)


async def test_an_unreachable_url_keeps_the_last_good_one(centre: str) -> None:
    Centre.body = ics(ONE.format(who="kovalenko")).encode()
    source = Source("ua", "national", PEOPLE, "Europe/Kyiv", url=centre, every=0.0)
    async with httpx.AsyncClient() as client:
        assert await source.refresh(client, NOW)
    source.url = "http://127.0.0.1:9/duty.ics"  # (the discard port: nothing listens)
    async with httpx.AsyncClient() as client:
        assert not await source.refresh(client, NOW, timeout=2)
    assert source.error is not None and "http://127.0.0.1/... unreachable" in source.error
    assert on_duty(source) == ["kovalenko"]
