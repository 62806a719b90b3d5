"""The operator's wrap-up on the real sandbox: after a real call, what it was about (the
line's topics), how it ended for the caller and a note; who may read and write it; the note
kept from viewers, the CSV export, the service's log and /metrics; topics in the statistics;
pause reasons from the config."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from bench.sipcall import SoftPhone
from tests.integration.conftest import Service, call
from tests.integration.test_call_log import CONSULTATION, EventWitness

OP3 = "operator-op3-token-of-the-tests"
OP4 = "operator-op4-token-of-the-tests"  # a colleague on the consultation line
OP1 = "operator-op1-token-of-the-tests"  # information and detention: another line
VIEWER = "viewer-token-of-the-tests-2026"
NOTE = "Dismissed without notice after 11 years; employer withholds the last salary."


def put(service: Service, token: str, call_id: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.put(
        service.url(f"/api/calls/{call_id}/wrap-up"),
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


async def test_an_operator_wraps_up_a_call_and_only_those_who_need_it_read_the_note(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.settings["HOTLINE_API_TOKENS"] = (
        f"operator:op3={OP3},operator:op4={OP4},operator:op1={OP1},viewer={VIEWER}"
    )
    service.start()
    watching = EventWitness(service, VIEWER)
    watching.start()
    assert watching.connected.wait(10)
    phone("op3", talk_ms=2000)
    service.login("op3")
    placed = await call(*CONSULTATION, hold_ms=20_000)
    record = service.record(placed.call_id)
    assert (record["operator"], record["topics"], record["resolution"]) == ("op3", [], None)
    call_id = record["id"]

    # refused: a topic of no line of the call's, a resolution not in the config, the wrong
    # operator (another line: unknown; a colleague on the line: may read, not write)
    bad_topic = put(service, OP3, call_id, {"topics": ["labour", "tax"], "resolution": "x"})
    assert bad_topic.status_code == 422
    assert bad_topic.json()["errors"][0]["loc"] == ["body", "topics", 1]
    assert bad_topic.json()["detail"].startswith("body field 'topics[1]': not a topic of")
    bad_resolution = put(service, OP3, call_id, {"topics": ["labour"], "resolution": "solved"})
    assert bad_resolution.status_code == 422
    assert bad_resolution.json()["errors"][0]["loc"] == ["body", "resolution"]
    no_topic = put(service, OP3, call_id, {"topics": [], "resolution": "advice-given"})
    assert no_topic.status_code == 422
    saved_body = {"topics": ["labour", "family"], "resolution": "advice-given", "note": NOTE}
    assert put(service, OP1, call_id, saved_body).status_code == 404
    assert put(service, OP4, call_id, saved_body).status_code == 403
    assert put(service, VIEWER, call_id, saved_body).status_code == 403

    saved = put(service, OP3, call_id, saved_body)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "call": call_id,
        "topics": ["labour", "family"],
        "resolution": "advice-given",
        "by": "op3",
    }
    deadline = time.monotonic() + 10
    while not (found := service.get(f"/api/calls/{call_id}"))["resolution"]:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert (found["topics"], found["resolution"], found["note"], found["wrapped_up_by"]) == (
        ["labour", "family"],
        "advice-given",
        NOTE,
        "op3",
    )
    (wrapped,) = [e for e in found["events"] if e["kind"] == "call.wrapped_up"]
    assert wrapped["data"]["note"] == NOTE
    # the line's colleague reads it (the caller's number masked); another line's does not
    colleague = service.get_as(OP4, f"/api/calls/{call_id}").json()
    assert colleague["note"] == NOTE and "*" in colleague["caller"]
    assert service.get_as(OP1, f"/api/calls/{call_id}").status_code == 404
    assert service.get_as(OP4, f"/api/calls/{call_id}/recording").status_code == 404

    # figures by topic and resolution, for a viewer too; the note nowhere but where it may be
    figures = service.get_as(VIEWER, "/api/stats").json()
    assert figures["topics"]["labour"]["calls"] == 1
    assert figures["topics"]["family"]["lines"] == {"consultation": 1}
    assert figures["resolutions"]["advice-given"]["operators"] == {"op3": 1}
    assert figures["topics"]["labour"]["average_handle_time"] == round(found["talk"], 1)
    seen = [e for e in watching.events if e["kind"] == "call.wrapped_up"]
    watching.done = True
    assert seen and all("note" not in e["data"] for e in seen), seen
    assert seen[0]["data"]["topics"] == ["labour", "family"]
    csv = service.get_as(service.token, "/api/calls.csv").text
    assert "labour family" in csv and "advice-given" in csv and NOTE not in csv
    assert NOTE not in service.get_as(service.token, "/metrics").text
    assert NOTE not in service.log.read_text()


def test_pause_reasons_come_from_the_config(service: Service) -> None:
    service.start()
    service.login("op3", wait_reachable=False)
    refused = service.post("/api/agents/op3/pause", reason="lunch")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["query", "reason"]
    assert "break, training, admin" in refused.json()["errors"][0]["msg"]
    assert refused.json()["detail"].startswith("query parameter 'reason': not a pause reason")
    assert service.agent("op3")["state"] == "available"
    assert service.post("/api/agents/op3/pause", reason="training").status_code == 200
    assert (service.agent("op3")["state"], service.agent("op3")["pause_reason"]) == (
        "paused",
        "training",
    )
