"""What each organisation of a deployment holds, for the tests of their separation: calls
(answered, transferred, wrapped up with a note, recorded), detention reports with their
recorded messages, and what is theirs alone to know (ids, numbers, names, notes), written as
the service writes them: the call log's events through :meth:`Store.write` (its
projection), ``notifications.jsonl``, the recordings and messages sealed in the vault.

Each organisation's values are distinct from every other's, so that one found in an answer
to another organisation's token is a leak, whatever route gave it.
"""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from hotline.config.deployment import Deployment
from hotline.events import CallEvent
from hotline.store.db import Store
from hotline.vault import Keys, Vault
from routing import events as ev

#: Distinct per organisation, in the config's order: the callers' numbers, the numbers their
#: families left, their names, the operators' notes, the reports' references and call ids.
CALLERS = ("380671110001", "995555110002", "995577110003")
FAMILIES = ("380931110004", "995599110005", "995568110006")
NAMES = ("Olha Seededko", "Nino Seededidze", "Levan Seededashvili")
NOTES = ("ua note: the family's lawyer", "ge note: the bureau", "gr note: the shelter")
REFS = ("318274", "529163", "746392")


@dataclass
class Holding:
    """One organisation's data in the deployment, and what is its own to know."""

    organisation: str
    number: str
    line: str
    operators: tuple[str, str]
    caller: str
    family: str
    name: str
    note: str
    ref: str
    #: Its calls' ids: answered (transferred, wrapped up, recorded), then its report's.
    calls: tuple[str, str]
    #: The answered call's recording: its name in the vault (as the call log keeps it).
    recording: str
    #: Ids and whole values (compared exactly, or as words of a text).
    ids: set[str] = field(default_factory=set)
    #: What may appear inside a longer text (numbers, names, notes, e-mails).
    words: set[str] = field(default_factory=set)


def holdings(deployment: Deployment) -> dict[str, Holding]:
    """Each organisation's holding (by organisation id), not written yet."""
    found: dict[str, Holding] = {}
    for n, org in enumerate(deployment.organisations.values()):
        operators = sorted(org.operators)
        answered, reported = f"17000000{n}1.1{n}", f"17000000{n}2.2{n}"
        serves = deployment.operators[operators[0]].lines  # (the first operator's, the
        # detention line first: its reports are theirs to see, hear and close)
        line = min(serves, key=lambda name: (not deployment.lines[name].urgent, name))
        held = Holding(
            org.id,
            min(org.numbers),
            line,
            (operators[0], operators[1]),
            CALLERS[n],
            FAMILIES[n],
            NAMES[n],
            NOTES[n],
            REFS[n],
            (answered, reported),
            f"recordings/2026/11/25/{answered}.wav",
        )
        held.ids |= {org.id, *org.numbers, *org.lines, *org.operators, *org.supervisors}
        held.ids |= {*org.centres, *org.offices, *org.duty.people, *org.duty.rotas}
        held.ids |= {held.ref, *held.calls}
        held.words |= {held.caller, held.family, held.name, held.note, org.name}
        held.words |= {deployment.operators[op].name for op in org.operators}
        held.words |= {deployment.supervisors[sup] for sup in org.supervisors}
        for person in org.duty.people.values():
            held.words |= {person.name, *(v for v in (person.phone, person.email) if v)}
        for centre in org.centres:
            held.words |= {deployment.centres[centre].name, deployment.centres[centre].number}
        found[org.id] = held
    return found


def _events(held: Holding, deployment: Deployment, at: datetime) -> Iterator[CallEvent]:
    answered, reported = held.calls
    first, second = held.operators
    line = deployment.lines[held.line]
    org = deployment.organisations[held.organisation]
    resolution = deployment.policy.resolutions[0]
    facts: list[tuple[str, float, ev.Fact]] = [
        (answered, 0, ev.CallStarted(held.caller, held.number, held.name, "PJSIP/trunk-1",
                                     f"sip-{answered}@carrier", answered, org.languages[0])),
        (answered, 5, ev.CallRouted(held.line, held.line, org.languages[0])),
        (answered, 5, ev.CallQueued(held.line, org.languages[0], line.priority)),
        (answered, 20, ev.CallOffered(first)),
        (answered, 25, ev.CallAnswered(first, 20.0)),
        (answered, 85, ev.CallTransferred("operator", second, "blind", first, first, held.line,
                                          60.0)),
        (answered, 95, ev.CallAnswered(second, 30.0)),
        (answered, 300, ev.CallEnded("answered", held.line, second, 30.0, 205.0)),
        (answered, 310, ev.WrappedUp((line.topics[0],), resolution, second, held.note)),
        (answered, 320, ev.RecordingStored(held.recording, 205.0)),
        (reported, 400, ev.CallStarted(held.caller, held.number, held.name, "PJSIP/trunk-2",
                                       f"sip-{reported}@carrier", reported, org.languages[0])),
        (reported, 405, ev.CallQueued(held.line, org.languages[0], line.priority)),
        (reported, 450, ev.CallbackRequested(held.family, held.line, "message", held.ref)),
        (reported, 460, ev.NotificationStored(held.ref, held.line, held.caller, held.family, True,
                                              _message(held.ref))),
        (reported, 470, ev.CallEnded("finished", held.line, wait=65.0)),
    ]  # fmt: skip
    seqs: dict[str, int] = {}
    for call, seconds, fact in facts:
        seqs[call] = seqs.get(call, 0) + 1
        event_id = f"{call}-{seqs[call]}"
        yield CallEvent(call, seqs[call], at + timedelta(seconds=seconds), fact, event_id)


def _message(ref: str) -> str:
    """Where Asterisk recorded a report's message (as the dialplan names it)."""
    return f"/var/spool/asterisk/hotline/notifications/{ref}.wav"


def _wav() -> bytes:
    """A second of silence: a recording's bytes as the service serves them."""
    audio = io.BytesIO()
    with wave.open(audio, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * 8000)
    return audio.getvalue()


async def seed(
    deployment: Deployment, store: Store, data_dir: Path, key: str, at: datetime
) -> dict[str, Holding]:
    """Write every organisation's holding: the call log (``store``, migrated), the
    notifications journal in ``data_dir``, the recordings and the reports' messages sealed
    under ``key`` (HOTLINE_RECORDINGS_KEY) in the vault's folder there; ``at``: when the
    first call began."""
    found = holdings(deployment)
    await store.upgrade()
    vault = Vault(Keys.from_environment(key, ""), data_dir / "vault")
    journal = data_dir / "notifications.jsonl"
    for n, held in enumerate(found.values()):
        start = at + timedelta(minutes=10 * n)
        await store.write(list(_events(held, deployment, start)))
        await vault.put_bytes(held.recording, _wav())
        await vault.put_bytes(f"notifications/{held.ref}.wav", _wav())
        report = {
            "ref": held.ref,
            "call": held.calls[1],
            "line": held.line,
            "caller": held.caller,
            "number": held.family,
            "recording": _message(held.ref),
            "at": (start + timedelta(seconds=460)).isoformat(),
            "complete": True,
        }
        with journal.open("a") as out:
            out.write(json.dumps(report) + "\n")
    return found
