"""The audit trail on the real sandbox: a recorded conversation wrapped up with a note; the
organisation's supervisor plays its recording (whole, then seeking), reads the note, exports
the call log, and reads on the trail who did what, when and from where, by ids only (no
number, no note), and the note another supervisor's open event stream showed (a viewer's
showed none); another organisation's supervisor reads none of it, a viewer nothing at
all. Past the recordings' retention the recording is gone and its entries are not: the
trail outlives the data it names."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from bench.sipcall import SoftPhone
from tests.integration.conftest import WORKING_HOURS, Service, call
from tests.integration.test_call_log import EventWitness
from tests.integration.test_recordings import CONSULTATION, recorded_config, wait_for_event
from tests.integration.test_wrap_up import put

UA_SUPERVISOR = "supervisor-of-ua-legal-aid-audit-2026"
GE_SUPERVISOR = "supervisor-of-ge-legal-aid-audit-2026"
UA_VIEWER = "viewer-of-ua-legal-aid-audit-2026"
OP3 = "operator-op3-token-of-the-audit-test"
UA_SCREEN = "supervisor-screen-of-ua-legal-aid-audit-2026"  # a supervisor's open event stream
NOTE = "Evicted by the landlord; the contract was never registered."
CALLER = "380501234567"


def trail(service: Service, token: str, **params: Any) -> list[dict[str, Any]]:
    reply = service.get_as(token, "/api/audit", **params)
    assert reply.status_code == 200, reply.text
    found: list[dict[str, Any]] = reply.json()
    return found


def entries_of(service: Service, call_id: str, count: int) -> list[dict[str, Any]]:
    """The call's entries once the call log has written ``count`` of them (it writes what
    it spooled a moment later)."""
    deadline = time.monotonic() + 10
    while len(found := trail(service, UA_SUPERVISOR, call_id=call_id)) < count:
        assert time.monotonic() < deadline, found
        time.sleep(0.2)
    return found


async def test_a_supervisor_plays_reads_and_exports_and_the_trail_says_so(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    config = recorded_config(service.data_dir)
    service.settings["HOTLINE_API_TOKENS"] = (
        f"supervisor@ua-legal-aid={UA_SUPERVISOR},supervisor@ge-legal-aid={GE_SUPERVISOR},"
        f"viewer@ua-legal-aid={UA_VIEWER},operator:op3={OP3},"
        f"supervisor@ua-legal-aid={UA_SCREEN}"
    )
    service.start(config=config)
    op3 = phone("op3", talk_ms=4000, speaks=True)
    service.login("op3")
    placed = await call(*CONSULTATION, caller=CALLER, hold_ms=30_000)
    assert op3.answered() == 1, placed.output
    record = service.record(placed.call_id)
    call_id = record["id"]
    wait_for_event(service, call_id, "recording.stored")
    screens = [EventWitness(service, UA_SCREEN), EventWitness(service, UA_VIEWER)]
    for screen in screens:
        screen.start()
        assert screen.connected.wait(10)
    wrapped = put(service, OP3, call_id, {"topics": ["labour"], "resolution": "advice-given",
                                          "note": NOTE})  # fmt: skip
    assert wrapped.status_code == 200, wrapped.text

    # Ukraine's supervisor plays the recording, seeks in it, reads the note, exports calls
    played = service.get_as(UA_SUPERVISOR, f"/api/calls/{call_id}/recording")
    assert played.status_code == 200, played.text
    size = int(played.headers["content-length"])
    seek = httpx_range(service, UA_SUPERVISOR, f"/api/calls/{call_id}/recording", "bytes=1000-")
    assert seek.status_code == 206
    deadline = time.monotonic() + 10  # (the wrap-up reaches the call log a moment later)
    while (shown := service.get_as(UA_SUPERVISOR, f"/api/calls/{call_id}")).json()["note"] is None:
        assert time.monotonic() < deadline, shown.text
        time.sleep(0.2)
    assert shown.json()["note"] == NOTE
    exported = service.get_as(UA_SUPERVISOR, "/api/calls.csv")
    assert exported.status_code == 200 and call_id in exported.text

    # the trail: by kind, who, from where; the call by its id; no number, no note
    found = entries_of(service, call_id, 4)
    mine = [(e["kind"], e["by"], e["call"], e["detail"]) for e in found if e["by"] == "env:1"]
    assert (
        set(mine)
        == {
            ("note", "env:1", call_id, None),
            ("recording", "env:1", call_id, None),
            ("recording", "env:1", call_id, f"bytes 1000-{size - 1}/{size}"),
        }
        and len(mine) == 3
    ), found
    assert {(e["organisation"], e["role"], e["address"]) for e in found if e["by"] == "env:1"} == {
        ("ua-legal-aid", "supervisor", "127.0.0.1")
    }
    # the note shown live on a supervisor's screen (the event stream); a viewer's has none
    assert {(e["kind"], e["by"]) for e in found if e["by"] != "env:1"} == {("note", "env:5")}
    for screen in screens:
        screen.done = True
    everything = trail(service, UA_SUPERVISOR)
    assert ("export", "env:1") in {(e["kind"], e["by"]) for e in everything}
    text = str(everything)
    assert CALLER not in text and NOTE not in text
    csv_trail = service.get_as(UA_SUPERVISOR, "/api/audit.csv", kind="recording")
    assert csv_trail.text.count(call_id) == 2

    # Georgia's supervisor reads nothing of it; a viewer reads no trail at all
    georgia = trail(service, GE_SUPERVISOR)
    assert not [e for e in georgia if e["organisation"] != "ge-legal-aid"], georgia
    assert call_id not in str(georgia)
    assert trail(service, GE_SUPERVISOR, call_id=call_id) == []
    assert service.get_as(UA_VIEWER, "/api/audit").status_code == 403
    assert service.get_as(OP3, "/api/audit").status_code == 403

    # 31 days later the recording is deleted (retention: 30 days); its entries stay
    service.stop()
    later = datetime.fromisoformat(WORKING_HOURS) + timedelta(days=31)
    service.start(clock=later.isoformat(), config=config)
    wait_for_event(service, call_id, "recording.deleted")
    assert service.get_as(UA_SUPERVISOR, f"/api/calls/{call_id}/recording").status_code == 410
    kept = trail(service, UA_SUPERVISOR, call_id=call_id, kind="recording")
    assert len(kept) == 2


def httpx_range(service: Service, token: str, path: str, bytes_range: str) -> httpx.Response:
    return httpx.get(
        service.url(path),
        headers={"Authorization": f"Bearer {token}", "Range": bytes_range},
        timeout=10,
    )
