"""The audit trail's entries as the call log spools them (ids only, no call of their own),
what is refused when they cannot be written, a note seen again and again counted once a
quarter of an hour, listening in seen on the event stream, and how long entries are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.events import CallEvent
from hotline.store.trail import (
    NOTE_WINDOW,
    Kind,
    Reader,
    Trail,
    TrailUnwritable,
    cutoffs,
    erasure,
)
from routing.events import (
    Accessed,
    CallSpied,
    EscalationAccepted,
    EscalationDeclined,
    EscalationUnanswered,
    from_data,
    to_data,
)

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
SUPERVISOR = Reader("ua-supervisors", "supervisor", None, "ua-legal-aid", "10.0.0.7")


class Written:
    """The call log, as the trail sees it: what it was handed."""

    def __init__(self) -> None:
        self.events: list[CallEvent] = []
        self.disk: str | None = None
        self.clock = 0.0

    def __call__(self, event: CallEvent) -> None:
        self.events.append(event)

    def trail(self) -> Trail:
        return Trail(self, lambda: NOW, lambda: self.disk, lambda: self.clock)

    @property
    def facts(self) -> list[Accessed]:
        return [e.fact for e in self.events if isinstance(e.fact, Accessed)]


def test_an_entry_names_ids_and_belongs_to_no_call_of_its_own() -> None:
    """An access to a call long ended must not make it look under way after a restart (the
    spool's numbering per call): the call is in the entry, not the event's ``call_id``."""
    written = Written()
    written.trail().record(
        Kind.RECORDING, SUPERVISOR, "ua-legal-aid", call="1700.1", detail="bytes 0-99/800"
    )
    (event,) = written.events
    assert (event.call_id, event.seq, event.at, event.organisation) == ("", 0, NOW, "ua-legal-aid")
    assert len(event.id) == 32
    assert event.fact == Accessed(
        "recording",
        "ua-supervisors",
        "supervisor",
        None,
        "ua-legal-aid",
        "ua-legal-aid",
        "1700.1",
        None,
        "10.0.0.7",
        "bytes 0-99/800",
    )
    # as the spool writes and reads it back
    again = CallEvent.from_json(event.as_json())
    assert again == event and from_data("audit.access", to_data(event.fact)) == event.fact


@pytest.mark.parametrize(
    ("kind", "refused"),
    [
        (Kind.RECORDING, True),
        (Kind.MESSAGE, True),
        (Kind.EXPORT, True),
        (Kind.ERASURE, True),
        (Kind.NOTE, False),
        (Kind.LISTEN, False),
    ],
)
def test_with_the_disk_failing_recordings_messages_and_exports_are_refused(
    kind: Kind, refused: bool
) -> None:
    """The spool's disk full: no recording, message or export leaves without its entry; a
    note shown on a desk goes on (its entry kept in memory by the call log until the disk
    takes it)."""
    written = Written()
    written.disk = "No space left on device (/data/spool)"
    trail = written.trail()
    if refused:
        with pytest.raises(TrailUnwritable, match="No space"):
            trail.record(kind, SUPERVISOR, "ua-legal-aid", call="1700.1")
        assert written.events == []
    else:
        trail.record(kind, SUPERVISOR, "ua-legal-aid", call="1700.1")
        assert [f.what for f in written.facts] == [kind.value]


def test_a_note_seen_again_within_a_quarter_of_an_hour_is_one_entry() -> None:
    """The desk is read on every event of the operator: the same reader's sight of the same
    note is recorded once per window; another note, another reader, the same token from
    another address, or the window over: a new entry."""
    written = Written()
    trail = written.trail()
    operator = Reader("op1", "operator", "op1", "ua-legal-aid")
    for _ in range(5):
        trail.noted(SUPERVISOR, "ua-legal-aid", call="1700.1")
        written.clock += 60
    trail.noted(SUPERVISOR, "ua-legal-aid", call="1700.2")
    trail.noted(operator, "ua-legal-aid", call="1700.1")
    elsewhere = Reader("ua-supervisors", "supervisor", None, "ua-legal-aid", "198.51.100.9")
    trail.noted(elsewhere, "ua-legal-aid", call="1700.1")  # (the same token, from elsewhere)
    written.clock += NOTE_WINDOW
    trail.noted(SUPERVISOR, "ua-legal-aid", call="1700.1")
    assert [(f.by, f.call, f.what) for f in written.facts] == [
        ("ua-supervisors", "1700.1", "note"),
        ("ua-supervisors", "1700.2", "note"),
        ("op1", "1700.1", "note"),
        ("ua-supervisors", "1700.1", "note"),
        ("ua-supervisors", "1700.1", "note"),
    ]


def test_listening_in_is_seen_on_the_event_stream() -> None:
    """A supervisor joining an operator's call (from their phone or the API) is an entry of
    the call's organisation; other events are none."""
    written = Written()
    trail = written.trail()
    trail(CallEvent("1700.1", 4, NOW, CallSpied("sup1", "op1", "listen"), "e1", "ua-legal-aid"))
    trail(CallEvent("1700.1", 5, NOW, CallSpied("sup1", "op1", "whisper"), "e2", "ua-legal-aid"))
    (first, second) = written.facts
    assert (first.what, first.by, first.call, first.organisation, first.detail) == (
        "listen",
        "sup1",
        "1700.1",
        "ua-legal-aid",
        "listen op1",
    )
    assert second.detail == "whisper op1"


def test_an_erasure_is_recorded_by_ids_only() -> None:
    """What the erasure's code records: who, whose, which call or report; how much, never the
    number asked for."""
    written = Written()
    entry = erasure(NOW, "admin", "ge-legal-aid", call="1700.9", role="cli", detail="3 calls")
    written.trail().erased(entry)
    (fact,) = written.facts
    assert (fact.what, fact.by, fact.role, fact.organisation, fact.call, fact.detail) == (
        "erasure",
        "admin",
        "cli",
        "ge-legal-aid",
        "1700.9",
        "3 calls",
    )
    written.disk = "No space left on device"
    with pytest.raises(TrailUnwritable):
        written.trail().erased(entry)


def test_each_organisation_keeps_its_trail_its_own_time() -> None:
    found = cutoffs(2190, {"ua-legal-aid": None, "ge-legal-aid": 3650}, NOW)
    assert found == {
        None: NOW - timedelta(days=2190),
        "ua-legal-aid": NOW - timedelta(days=2190),
        "ge-legal-aid": NOW - timedelta(days=3650),
    }


def test_a_person_on_duty_who_answered_heard_the_message() -> None:
    """The escalation's call plays the family's message: whoever answered and pressed a key
    (or hung up without one) heard it; a call not answered, or a supervisor accepting on
    someone's behalf from the desk, is none."""
    written = Written()
    trail = written.trail()
    facts = [
        EscalationDeclined("318274", 1, "lawyer-a"),
        EscalationUnanswered("318274", 2, "lawyer-b", "NOANSWER"),
        EscalationUnanswered("318274", 3, "lawyer-c", "HUNGUP"),
        EscalationAccepted("318274", "lawyer-d", "lawyer-d", 4),
        EscalationAccepted("318274", "lawyer-e", "supervisor:ua", None),
    ]
    for n, fact in enumerate(facts):
        trail(CallEvent("1700.2", 0, NOW, fact, f"e{n}", "ua-legal-aid"))
    assert [(f.what, f.by, f.role, f.ref, f.call, f.organisation) for f in written.facts] == [
        ("message", person, "duty", "318274", "1700.2", "ua-legal-aid")
        for person in ("lawyer-a", "lawyer-c", "lawyer-d")
    ]
