"""Erasure on request through the real API of a service built as `hotline serve` builds it
(no Asterisk) over a real database holding every organisation's calls, reports, notes and
recordings (tests/holdings.py): a supervisor of the caller's organisation only; what goes is
gone from the database's file, the notifications file and the vault; what is recorded of it
names no number."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from hotline.config.deployment import Deployment
from tests.unit.hotline.api.test_api_separation import Built, built, token

__all__ = ["built"]  # (the fixture, used by name)

UA, GE = "ua-legal-aid", "ge-legal-aid"


async def erase(built: Built, who: str, body: dict[str, Any]) -> httpx.Response:
    return await built.api.post(
        "/api/erasures", json=body, headers={"Authorization": f"Bearer {who}"}
    )


def on_disk(data: Path) -> bytes:
    return b"".join(
        p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file() and "vault" not in p.parts
    )


async def test_a_supervisor_erases_their_organisations_caller_and_nobody_elses(
    built: Built, deployment: Deployment
) -> None:
    writer = asyncio.create_task(built.service.call_log.run())
    try:
        ukraine, georgia = built.held[UA], built.held[GE]
        data = built.service.settings.data_dir
        vault = built.service.settings.vault_folder()
        recording = vault / ukraine.recording
        assert recording.is_file()
        # viewers and operators may not; another organisation's supervisor may not name
        # Ukraine's call (a 404, as nobody's), and their erasure of the number erases nothing
        # of Ukraine's
        for role in ("viewer", "operator"):
            denied = await erase(built, token(role, UA), {"caller": ukraine.caller})
            assert denied.status_code == 403, denied.text
        for call in (*ukraine.calls, "1699999999.99"):
            unknown = await erase(built, token("supervisor", GE), {"call_id": call})
            assert unknown.status_code == 404, unknown.text
        nothing = await erase(built, token("supervisor", GE), {"caller": ukraine.caller})
        assert nothing.json() == {"calls": 0, "recordings": 0, "reports": 0, "callbacks": 0}
        assert recording.is_file() and ukraine.ref in built.service.notifications.items
        for wrong in ({}, {"caller": "anonymous"}, {"caller": "1", "call_id": "2"}):
            assert (await erase(built, token("supervisor", UA), wrong)).status_code == 422

        done = await erase(built, token("supervisor", UA), {"caller": ukraine.caller})
        assert done.status_code == 200, done.text
        assert done.json()["calls"] == 2 and done.json()["reports"] == 1
        assert not recording.exists()
        assert ukraine.ref not in built.service.notifications.items
        kept = on_disk(data)
        for personal in (ukraine.caller, ukraine.family, ukraine.note, ukraine.name):
            assert personal.encode() not in kept, personal
        assert georgia.caller.encode() in kept and (vault / georgia.recording).is_file()
        # the figures stay
        answered = await built.get(token("supervisor", UA), f"/api/calls/{ukraine.calls[0]}")
        assert (answered.json()["outcome"], answered.json()["talk"]) == ("answered", 205.0)
        # recorded, each organisation's to its own, without the number
        listed = await built.get(token("supervisor", UA), "/api/erasures")
        (row,) = listed.json()
        assert (row["organisation"], row["kind"], row["calls"]) == (UA, "number", 2)
        theirs = await built.get(token("supervisor", GE), "/api/erasures")
        assert [r["organisation"] for r in theirs.json()] == [GE]
        assert ukraine.caller not in listed.text + theirs.text
    finally:
        writer.cancel()
