"""The escalations' runner with Asterisk's side played by a recording double: its facts kept
before anything is done, a restart (the file read again) that rings nobody twice, a call
Asterisk knows of that this instance never heard of. The real calls: tests/integration/
test_escalation.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.rota import DutyRole, Person
from hotline.events import CallEvent, EventBus
from hotline.reports.escalations import Escalations
from routing import events as ev
from routing.escalation import Chain, Step

T0 = datetime(2026, 12, 6, 1, 0, tzinfo=UTC)
PEOPLE = {
    DutyRole.LAWYER: [
        Person("kovalenko", "O. Kovalenko", "0671234501", None, "uk"),
        Person("bondar", "P. Bondar", "0671234502", None, "uk"),
    ],
    DutyRole.SUPERVISOR: [Person("melnyk", "I. Melnyk", "0671234503", None, "en")],
}
CHAINS = {
    "detention": Chain(
        (Step(DutyRole.LAWYER), Step(DutyRole.LAWYER), Step(DutyRole.SUPERVISOR)),
        family_sms=True,
    )
}


class Duty:
    def on_duty(
        self, organisation: str, rota: str | None, at: datetime, role: DutyRole
    ) -> list[Person]:
        return PEOPLE[role] if organisation == "ua-legal-aid" else []


class Asterisk:
    """Records the calls asked for; each ends as told (None: answered)."""

    def __init__(self) -> None:
        self.rung: list[tuple[str, int, str]] = []
        self.ends: str | None = None
        self.kept: dict[str, ev.EscalationRinging] = {}
        self.up: set[tuple[str, int]] = set()

    async def escalate(self, ringing: ev.EscalationRinging, seconds: float) -> str | None:
        self.kept[ringing.ref] = ringing
        self.rung.append((ringing.ref, ringing.attempt, ringing.person))
        return self.ends

    async def last_call(self, ref: str) -> ev.EscalationRinging | None:
        return self.kept.get(ref)

    async def forget_calls(self, ref: str) -> None:
        self.kept.pop(ref, None)

    async def calls_up(self) -> set[tuple[str, int]]:
        return self.up


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def runner(folder: Path, asterisk: Asterisk, bus: EventBus | None = None) -> Escalations:
    return Escalations(
        CHAINS,
        lambda line: "ua-legal-aid" if line == "detention" else None,
        Duty(),
        asterisk,
        bus or EventBus(),
        Clock(),
        folder,
    )


STORED = ev.NotificationStored("482100", "detention", "380661112233", "380661112233", True)


async def settle() -> None:
    """Until nothing is left to do: a ring waits for its facts' sync (a thread) first."""
    for _ in range(3):
        for _ in range(5):
            await asyncio.sleep(0)
        syncing = [t for t in asyncio.all_tasks() if "Journal._sync" in repr(t.get_coro())]
        if syncing:
            await asyncio.wait(syncing)


async def test_a_stored_report_rings_the_first_duty_lawyer_and_tells_the_stream(
    tmp_path: Path,
) -> None:
    bus, asterisk = EventBus(), Asterisk()
    seen: list[CallEvent] = []
    bus.subscribe(seen.append)
    escalations = runner(tmp_path, asterisk, bus)
    bus.subscribe(escalations)
    bus.publish(CallEvent("1.1", 0, T0, STORED))
    await settle()
    assert asterisk.rung == [("482100", 1, "kovalenko")]
    kinds = [e.kind for e in seen]
    assert kinds == [
        "notification.stored",
        "escalation.started",
        "escalation.notified",
        "escalation.ringing",
    ]
    assert {e.call_id for e in seen} == {"1.1"}  # on the report's call
    # kept on disk before the ring: the file says so
    assert '"escalation.ringing"' in (tmp_path / "escalations.jsonl").read_text()
    # the person declines: the next one, at once; the report closed: nobody else
    escalations.outcome("482100", 1, "declined")
    await settle()
    assert asterisk.rung[-1] == ("482100", 2, "bondar")
    bus.publish(CallEvent("1.1", 0, T0, ev.NotificationHandled("482100", "op1")))
    escalations.outcome("482100", 2, "NOANSWER")
    await settle()
    assert len(asterisk.rung) == 2 and escalations.items["482100"].stopped == "handled"


async def test_after_a_restart_the_call_under_way_is_watched_not_made_again(
    tmp_path: Path,
) -> None:
    asterisk = Asterisk()
    first = runner(tmp_path, asterisk)
    first.begin(STORED, "1.1")
    await settle()
    assert asterisk.rung == [("482100", 1, "kovalenko")]
    # the service is killed while kovalenko's phone rings; a new process reads the file
    second = runner(tmp_path, asterisk)
    assert second.restore() == 1
    asterisk.up = {("482100", 1)}  # the call lasts: its dialogue will report here
    await second.resume()
    await settle()
    assert len(asterisk.rung) == 1
    second.outcome("482100", 1, "BUSY")
    await settle()
    assert asterisk.rung[-1] == ("482100", 2, "bondar")


async def test_a_call_made_elsewhere_is_counted_once_its_channel_is_gone_the_next_is_rung(
    tmp_path: Path,
) -> None:
    """With a standby: Asterisk knows a call this instance never heard of (the old active
    instance's facts not in the database yet). It is not made again."""
    asterisk = Asterisk()
    asterisk.kept["482100"] = ev.EscalationRinging(
        "482100", 2, 1, 1, "bondar", "lawyer", "0671234502", "uk"
    )
    other = runner(tmp_path / "other", asterisk)
    other.adopt(
        [
            {"call": "1.1", "org": "ua-legal-aid", "at": T0.isoformat(), "kind": k, "data": d}
            for k, d in (
                ("escalation.started", {"ref": "482100", "line": "detention"}),
                (
                    "escalation.ringing",
                    ev.to_data(
                        ev.EscalationRinging(
                            "482100", 1, 0, 1, "kovalenko", "lawyer", "0671234501", "uk"
                        )
                    ),
                ),
                (
                    "escalation.unanswered",
                    ev.to_data(ev.EscalationUnanswered("482100", 1, "kovalenko", "NOANSWER")),
                ),
            )
        ]
    )
    await other.resume()
    await settle()
    assert asterisk.rung == []  # bondar's call is under way elsewhere
    other.outcome("482100", 2, "UNKNOWN")
    await settle()
    assert asterisk.rung == [("482100", 3, "melnyk")]


async def test_a_wait_is_timed_again_after_a_restart(tmp_path: Path) -> None:
    asterisk = Asterisk()
    first = runner(tmp_path, asterisk)
    first.begin(STORED, "1.1")
    await settle()
    first.outcome("482100", 1, "HUNGUP")  # heard it: 300 s to accept another way
    second = runner(tmp_path, asterisk)
    second.restore()
    escalation = second.items["482100"]
    assert escalation.waiting_for == "acceptance"
    assert escalation.until == T0 + timedelta(seconds=300)


async def test_its_calls_count_in_the_organisations_caps_and_wait_when_they_are_used_up(
    tmp_path: Path,
) -> None:
    asterisk, counted = Asterisk(), []
    lifted: dict[str, datetime] = {}
    escalations = Escalations(
        CHAINS,
        lambda line: "ua-legal-aid",
        Duty(),
        asterisk,
        EventBus(),
        Clock(),
        tmp_path,
        capped=lambda org, number: lifted.get(org),
        dialling=lambda org, number: counted.append((org, number)),
    )
    escalations.begin(STORED, "1.1")
    await settle()
    assert counted == [("ua-legal-aid", "0671234501")]
    lifted["ua-legal-aid"] = T0 + timedelta(minutes=20)  # the hour's calls used up
    escalations.outcome("482100", 1, "NOANSWER")
    await settle()
    escalation = escalations.items["482100"]
    assert (escalation.waiting_for, escalation.until) == ("capped", T0 + timedelta(minutes=20))
    assert len(asterisk.rung) == 1


async def test_a_forgotten_reports_escalation_leaves_the_file_at_once(tmp_path: Path) -> None:
    """(erasure and retention: the family's number the file holds goes with the report)"""
    bus, asterisk = EventBus(), Asterisk()
    escalations = runner(tmp_path, asterisk, bus)
    bus.subscribe(escalations)
    other = ev.NotificationStored("482101", "detention", "380667778899", "380667778899", True)
    bus.publish(CallEvent("1.1", 0, T0, STORED))
    bus.publish(CallEvent("1.2", 0, T0, other))
    await settle()
    journal = tmp_path / "escalations.jsonl"
    assert "380661112233" in journal.read_text() and "380667778899" in journal.read_text()
    escalations.forget(["482100"])
    assert "482100" not in escalations.items and "482101" in escalations.items
    kept = journal.read_text()
    assert "482100" not in kept and "380661112233" not in kept
    assert "380667778899" in kept  # (under way: kept)
