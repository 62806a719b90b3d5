"""The audit trail through the real API of a service built as `hotline serve` builds it
(hotline.app.build: not started, no Asterisk) over a real database holding every
organisation's calls, notes, recordings and reports (tests/holdings.py): each recording or
message handed out, each note shown and each export is an entry, written through the call
log's spool; a supervisor reads their organisation's entries only, viewers and operators
none; the entries hold ids, never a number, a name or a note."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.app import Service, build
from hotline.config.deployment import Deployment
from hotline.config.settings import Settings
from hotline.store.audit import AuditFilter
from hotline.store.calllog import CallLog
from hotline.store.db import Store
from hotline.store.spool import Spool
from hotline.store.trail import Kind, Reader, cutoffs, erasure
from hotline.vault.cipher import new_key
from tests.holdings import Holding, seed

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PLATFORM = "platform-supervisor-of-every-organisation"
UA, GE = "ua-legal-aid", "ge-legal-aid"


def token(role: str, organisation: str) -> str:
    return f"{role}-token-of-{organisation}"


@dataclass
class Built:
    service: Service
    api: httpx.AsyncClient
    held: dict[str, Holding]

    async def get(self, who: str, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {who}"}
        if "range" in params:
            headers["Range"] = params.pop("range")
        return await self.api.get(path, params=params, headers=headers)

    async def trail(self, who: str, **params: Any) -> list[dict[str, Any]]:
        """What ``who`` reads of the trail, once the call log has written what it spooled."""
        assert await self.service.call_log.flush(10)
        reply = await self.get(who, "/api/audit", **params)
        assert reply.status_code == 200, reply.text
        assert int(reply.headers["X-Total-Count"]) >= len(reply.json())
        found: list[dict[str, Any]] = reply.json()
        return found


@pytest.fixture
async def built(deployment: Deployment, tmp_path: Path) -> AsyncIterator[Built]:
    data, spool = tmp_path / "data", tmp_path / "spool"
    data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'hotline.db'}"
    store = Store(url)
    key = new_key()
    held = await seed(deployment, store, data, key, START)
    await store.close()
    entries = [f"supervisor@*={PLATFORM}"]
    for org in deployment.organisations:
        entries += [f"{role}@{org}={token(role, org)}" for role in ("supervisor", "viewer")]
        entries.append(f"operator:{held[org].operators[1]}={token('operator', org)}")
    settings = Settings(
        _env_file=None,
        data_dir=data,
        database_url=url,
        agi_secret="agi-key-of-the-audit-tests",
        recordings_key=key,
        api_tokens=",".join(entries),
        asterisk_spool=spool,
        clock_start=START.replace(hour=12),
        guard=False,
    )
    service = build(settings, deployment)
    writer = asyncio.create_task(service.call_log.run())
    assert await service.call_log.caught_up(10)
    transport = httpx.ASGITransport(app=service.api, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as api:
        yield Built(service, api, held)
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    await service.call_log.close()
    await service.call_log.store.close()


def personal(held: dict[str, Holding]) -> set[str]:
    """What the trail must never hold: every organisation's numbers, names and notes."""
    return {w for h in held.values() for w in (h.caller, h.family, h.name, h.note)}


async def test_a_supervisors_accesses_are_on_their_organisations_trail_only(
    built: Built,
) -> None:
    """Ukraine's supervisor plays a recording (whole, then a player's seek), reads a call's
    note (twice: one entry), exports the call log, reads a report's note and plays its
    message; the platform's supervisor exports every organisation's calls. Ukraine's
    supervisor reads all of it about Ukraine's data, by ids only; Georgia's reads only the
    platform's export of Georgia's calls; viewers and operators read nothing."""
    ua = built.held[UA]
    supervisor = token("supervisor", UA)
    answered, reported = ua.calls
    whole = await built.get(supervisor, f"/api/calls/{answered}/recording")
    assert whole.status_code == 200, whole.text
    seek = await built.get(supervisor, f"/api/calls/{answered}/recording", range="bytes=0-99")
    assert seek.status_code == 206, seek.text
    for _ in range(2):
        shown = await built.get(supervisor, f"/api/calls/{answered}")
        assert shown.json()["note"] == ua.note
    csv_reply = await built.get(supervisor, "/api/calls.csv")
    assert csv_reply.status_code == 200
    closed = await built.api.post(
        f"/api/notifications/{ua.ref}/handled",
        params={"by": ua.operators[0]},
        json={"note": "rang the family back"},
        headers={"Authorization": f"Bearer {supervisor}"},
    )
    assert closed.status_code == 200, closed.text
    report = await built.get(supervisor, f"/api/notifications/{ua.ref}")
    assert report.json()["note"] == "rang the family back"
    message = await built.get(supervisor, f"/api/notifications/{ua.ref}/recording")
    assert message.status_code == 200, message.text
    assert (await built.get(PLATFORM, "/api/calls.csv")).status_code == 200

    mine = await built.trail(supervisor)
    seen = sorted(
        [
            (e["kind"], e["by"], e["call"], e["ref"], e["detail"])
            for e in mine
            if e["by"] != "env:1"
        ],
        key=str,
    )
    size = whole.headers["content-length"]
    assert seen == sorted(
        [
            ("recording", "env:2", answered, None, None),
            ("recording", "env:2", answered, None, f"bytes 0-99/{size}"),
            ("note", "env:2", answered, None, None),
            ("export", "env:2", None, None, "2 calls"),
            ("note", "env:2", reported, ua.ref, None),
            ("message", "env:2", reported, ua.ref, None),
        ],
        key=str,
    ), mine
    assert [(e["kind"], e["detail"]) for e in mine if e["by"] == "env:1"] == [("export", "2 calls")]
    assert {(e["organisation"], e["address"]) for e in mine} == {(UA, "203.0.113.7")}
    assert {(e["role"], e["scope"]) for e in mine if e["by"] == "env:2"} == {("supervisor", UA)}
    text = str(mine)
    assert not [word for word in personal(built.held) if word in text]
    assert "rang the family back" not in text

    georgia = await built.trail(token("supervisor", GE))
    assert [(e["kind"], e["organisation"], e["by"]) for e in georgia] == [("export", GE, "env:1")]
    every = await built.trail(PLATFORM)
    assert {e["organisation"] for e in every} == set(built.held)
    for role in ("viewer", "operator"):
        for path in ("/api/audit", "/api/audit.csv"):
            refused = await built.get(token(role, UA), path)
            assert refused.status_code == 403, (role, path, refused.text)


async def test_the_trail_is_filtered_paged_and_exported(built: Built) -> None:
    ua = built.held[UA]
    supervisor = token("supervisor", UA)
    operator = token("operator", UA)  # (the second operator: who talked to the caller last)
    answered, _ = ua.calls
    assert (await built.get(supervisor, f"/api/calls/{answered}/recording")).status_code == 200
    assert (await built.get(operator, f"/api/calls/{answered}/recording")).status_code == 200
    assert (await built.get(operator, f"/api/calls/{answered}")).status_code == 200
    assert len(await built.trail(supervisor)) == 3
    theirs = await built.trail(supervisor, by=ua.operators[1])
    assert {(e["kind"], e["operator"], e["role"]) for e in theirs} == {
        ("recording", ua.operators[1], "operator"),
        ("note", ua.operators[1], "operator"),
    }
    played = await built.trail(supervisor, kind="recording", call_id=answered)
    assert [e["by"] for e in played] == [ua.operators[1], "env:2"]  # newest first
    assert len(await built.trail(supervisor, limit=1, offset=2)) == 1
    assert await built.trail(supervisor, call_id=built.held[GE].calls[0]) == []
    later = (START + timedelta(days=1)).isoformat()
    assert await built.trail(supervisor, **{"from": later}) == []
    assert len(await built.trail(supervisor, to=later)) == 3
    exported = await built.get(supervisor, "/api/audit.csv", kind="recording")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert exported.headers["content-type"].startswith("text/csv")
    assert [(r["kind"], r["call"], r["organisation"]) for r in rows] == [
        ("recording", answered, UA)
    ] * 2


async def test_with_the_disk_failing_no_recording_or_export_leaves_without_its_entry(
    built: Built,
) -> None:
    """The spool cannot be written (a full disk): the recording, the message and the CSV
    export are refused (503); the call's details, with its note, are still shown (an
    operator on a call needs them), its entry kept until the disk takes it."""
    ua = built.held[UA]
    supervisor = token("supervisor", UA)
    answered, _ = ua.calls
    built.service.call_log.disk_error = "No space left on device (/data/spool)"
    for path in (
        f"/api/calls/{answered}/recording",
        f"/api/notifications/{ua.ref}/recording",
        "/api/calls.csv",
    ):
        reply = await built.get(supervisor, path)
        assert reply.status_code == 503, (path, reply.text)
        assert "audit trail" in reply.json()["detail"]
    assert (await built.get(supervisor, f"/api/calls/{answered}")).status_code == 200
    built.service.call_log.disk_error = None
    assert [e["kind"] for e in await built.trail(supervisor)] == ["note"]


async def test_entries_spooled_while_the_database_is_away_are_written_once_it_is_back(
    built: Built, tmp_path: Path
) -> None:
    """Entries recorded while nothing writes to the database (away, or the service killed
    before its writer caught up) are in the spool: a service started again on it writes
    each once."""
    service = built.service
    trail = service.trail
    assert trail is not None
    writer_less = CallLog(Spool(tmp_path / "spool-of-a-crash"), service.call_log.store)
    trail.write = writer_less
    reader = Reader("env:2", "supervisor", None, UA, "203.0.113.7")
    trail.record(Kind.RECORDING, reader, UA, call=built.held[UA].calls[0])
    trail.erased(erasure(START, "admin", UA, call=built.held[UA].calls[1], role="cli"))
    await writer_less.close()  # (synced: then the service is gone)
    assert await service.call_log.store.audit(AuditFilter(everyone=True), 10, 0) == ([], 0)
    again = CallLog(Spool(tmp_path / "spool-of-a-crash"), service.call_log.store)
    writing = asyncio.create_task(again.run())
    try:
        assert await again.caught_up(10)
    finally:
        writing.cancel()
        await asyncio.gather(writing, return_exceptions=True)
    rows, total = await service.call_log.store.audit(AuditFilter(everyone=True), 10, 0)
    assert total == 2 and {r["kind"] for r in rows} == {"recording", "erasure"}
    again.spool.close()


async def test_entries_past_their_organisations_time_are_deleted(built: Built) -> None:
    """Ukraine keeps its trail 10 years, the rest the deployment's 6: what is older goes,
    and nothing else (a call's data long deleted, its entries stay)."""
    store = built.service.call_log.store
    now = datetime(2032, 12, 1, tzinfo=UTC)
    ages = {"old": timedelta(days=2200), "recent": timedelta(days=100)}
    entries = [
        erasure(now - age, "admin", org, call=f"{org}-{name}", role="cli")
        for org in (UA, GE, None)
        for name, age in ages.items()
    ]
    assert await store.add_accesses(entries) == 6
    assert await store.add_accesses(entries) == 0  # (written once, by id)
    gone = await store.prune_audit(cutoffs(2190, {UA: 3650, GE: None}, now))
    assert gone == 2
    rows, _ = await store.audit(AuditFilter(everyone=True), 10, 0)
    assert sorted(r["call_id"] for r in rows) == sorted(
        [f"{UA}-old", f"{UA}-recent", f"{GE}-recent", "None-recent"]
    )


async def test_the_note_on_an_operators_desk_is_on_the_trail_once(built: Built) -> None:
    """The desk shows the operator's last call with its note, and is read again on every
    event of theirs: the supervisor looking at it five times is one entry."""
    ua = built.held[UA]
    second = ua.operators[1]
    board = built.service.switchboard
    last = replace(board.operators[second], last_call=ua.calls[0])  # (their wrap-up time)
    board.state = replace(board.state, operators={**board.operators, second: last})
    for _ in range(5):
        desk = await built.get(token("supervisor", UA), "/api/desk", operator=second)
        assert desk.status_code == 200, desk.text
        assert desk.json()["last_call"]["note"] == ua.note
    found = await built.trail(token("supervisor", UA))
    assert [(e["kind"], e["call"], e["by"]) for e in found] == [("note", ua.calls[0], "env:2")]


async def test_the_notes_a_call_list_shows_are_on_the_trail(built: Built) -> None:
    """An operator lists their calls: the one with a note is an entry, the one without
    none; a viewer's token lists no calls at all (and so reads no note)."""
    ua = built.held[UA]
    listed = await built.get(token("operator", UA), "/api/calls")
    assert listed.status_code == 200, listed.text
    assert {c["id"]: c["note"] for c in listed.json()}[ua.calls[0]] == ua.note
    assert (await built.get(token("viewer", UA), "/api/calls")).status_code == 403
    found = await built.trail(token("supervisor", UA))
    assert [(e["kind"], e["call"], e["by"], e["role"]) for e in found] == [
        ("note", ua.calls[0], ua.operators[1], "operator")
    ]
