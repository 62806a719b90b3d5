"""Several organisations behind one service (the default config: Ukraine's contact centre,
Georgia's Legal Aid Service call centre, Georgia's rehabilitation hotline): each one's callers
reach its own operators, in its own languages, on the real sandbox with SIPp phones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from bench.sipcall import SoftPhone
from tests.integration.conftest import Service, call
from tests.integration.test_call_log import EventWitness

GEORGIAN = ("0322920055", "1")  # Georgia's Legal Aid Service, in Georgian
#: Supervisors' tokens of one organisation each (HOTLINE_API_TOKENS).
GEORGIAN_SUPERVISOR = "georgian-supervisor-token-2026"
UKRAINIAN_SUPERVISOR = "ukrainian-supervisor-token-2026"


def as_(service: Service, token: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(
        service.url(path), params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def as_post(service: Service, token: str, path: str, **params: Any) -> httpx.Response:
    return httpx.post(
        service.url(path), params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


async def test_georgias_four_consultants_answer_eight_georgian_callers(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """Four consultations at the same time, in Georgian, by Tbilisi's consultant-operators;
    Ukraine's lawyers, logged in and free the whole time, are never rung for them."""
    service.settings["HOTLINE_API_TOKENS"] = (
        f"supervisor@ge-legal-aid={GEORGIAN_SUPERVISOR},"
        f"supervisor@ua-legal-aid={UKRAINIAN_SUPERVISOR}"
    )
    service.start()
    mark = service.asterisk.log_mark()
    georgian_stream = EventWitness(service, GEORGIAN_SUPERVISOR)
    georgian_stream.start()
    assert georgian_stream.connected.wait(10)
    consultants = ["ge1", "ge2", "ge3", "ge4"]
    georgian_phones = [phone(op, talk_ms=5000) for op in consultants]
    # a Ukrainian lawyer (who gives consultations, not on the information line)
    lawyer = phone("op6")
    service.login(*consultants, "op6")
    placed = []
    for _ in range(8):
        placed.append(asyncio.create_task(call(*GEORGIAN, hold_ms=120_000)))
        await asyncio.sleep(0.3)
    ukrainian = asyncio.create_task(call("0800213103", "14", hold_ms=3000))
    done = await asyncio.gather(*placed)
    ukrainian_sip_call = (await ukrainian).call_id
    records = [service.record(p.call_id) for p in done]

    assert [r["outcome"] for r in records] == ["answered"] * 8, records
    for r in records:
        assert (r["number"], r["line"], r["language"]) == ("0322920055", "ge-consultation", "ka")
        assert r["operator"] in consultants, r
    assert sum(p.answered() for p in georgian_phones) == 8
    # greeted by their own organisation's prompt, in Georgian
    played = service.asterisk.log_since(mark)
    assert played.count("hotline/ka/welcome-legal-aid-service") >= 8
    assert "hotline/ka/welcome." not in played  # (the shared greeting)
    assert lawyer.rung() == 0
    # four talked at once (the first four callers), never more, nobody on two calls
    spans = [
        (datetime.fromisoformat(r["answered"]), datetime.fromisoformat(r["ended"]), r["operator"])
        for r in records
    ]
    most = 0
    for start, _, _ in spans:
        talking = [op for s, e, op in spans if s <= start < e]
        assert len(set(talking)) == len(talking)
        most = max(most, len(talking))
    assert most == 4

    # each organisation's supervisor sees its own calls, lines and operators, none of the
    # other's: another organisation's call is as unknown as a wrong id
    ukrainian_call = service.record(ukrainian_sip_call)["id"]
    georgian = {r["id"] for r in records}
    georgian_calls = {c["id"] for c in as_(service, GEORGIAN_SUPERVISOR, "/api/calls").json()}
    assert georgian_calls == georgian
    ukrainian_calls = {c["id"] for c in as_(service, UKRAINIAN_SUPERVISOR, "/api/calls").json()}
    assert ukrainian_calls == {ukrainian_call}
    assert as_(service, GEORGIAN_SUPERVISOR, f"/api/calls/{ukrainian_call}").status_code == 404
    a_georgian_call = records[0]["id"]
    assert as_(service, UKRAINIAN_SUPERVISOR, f"/api/calls/{a_georgian_call}").status_code == 404
    assert as_(service, GEORGIAN_SUPERVISOR, f"/api/calls/{a_georgian_call}").status_code == 200
    assert set(as_(service, GEORGIAN_SUPERVISOR, "/api/queues").json()) == {"ge-consultation"}
    assert {a["id"] for a in as_(service, GEORGIAN_SUPERVISOR, "/api/agents").json()} == set(
        consultants
    )
    stats = as_(service, GEORGIAN_SUPERVISOR, "/api/stats").json()
    assert set(stats["lines"]) == {"ge-consultation"}, stats
    refused = as_post(service, UKRAINIAN_SUPERVISOR, "/api/agents/ge1/logout")
    assert refused.status_code == 404 and service.agent("ge1")["state"] != "logged_out"
    # listening in: not to another organisation's operator, nor with its supervisor's phone
    spy = as_post(service, GEORGIAN_SUPERVISOR, "/api/agents/op1/spy", supervisor="sup2")
    assert spy.status_code == 404
    spy = as_post(service, service.token, "/api/agents/ge1/spy", supervisor="sup1")
    assert spy.status_code == 422 and "sup1 is another organisation's" in spy.text
    # and its event stream: every Georgian call, nothing of the Ukrainian one nor of
    # Ukraine's lawyer logging in
    georgian_stream.done = True
    seen = {e["call_id"] for e in georgian_stream.events}
    assert georgian <= seen and ukrainian_call not in seen
    operators = {e["data"].get("operator") for e in georgian_stream.events}
    assert "op6" not in operators, operators


async def test_each_organisations_number_reaches_its_own_operators(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """The rehabilitation hotline's caller reaches its social worker, the contact centre's
    caller a Ukrainian operator, though every one of them is free."""
    service.start()
    phones = {op: phone(op, talk_ms=1000) for op in ("gr1", "op1")}
    service.login(*phones)
    rehabilitation, information = await asyncio.gather(
        call("2145145", "", hold_ms=30_000), call("0800213103", "14", hold_ms=30_000)
    )
    first, second = service.record(rehabilitation.call_id), service.record(information.call_id)
    assert (first["line"], first["operator"], first["language"]) == (
        "ge-rehabilitation",
        "gr1",
        "ka",
    )
    assert (second["line"], second["operator"]) == ("information", "op1")
    assert [p.answered() for p in phones.values()] == [1, 1]
