"""Each organisation's queue rules through the real API app, on a real database (SQLite):
what an operator may choose (pause reasons, resolutions, notification outcomes) is their
organisation's, offered on their desk and accepted by the routes; a 422 names only those."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.api.access import new_token
from hotline.app import build
from hotline.config.loading import parse
from hotline.config.settings import Settings
from hotline.events import CallEvent
from hotline.vault.cipher import new_key
from routing import events as ev
from tests.unit.hotline.config.test_config import DEFAULT, broken

#: Georgia's call centre chooses among its own words; Ukraine keeps the shared ones.
GEORGIA = {
    "pause_reasons": ["supervision", "break"],
    "resolutions": ["consultation-given", "referred-to-bureau"],
    "notification_outcomes": ["bureau-informed", "not-reached"],
}
SHARED = DEFAULT["queues"]
TOKENS = {who: new_token() for who in ("operator:ge1", "operator:op3", "supervisor@ge-legal-aid")}
T0 = datetime(2026, 11, 25, 9, tzinfo=UTC)


def notification(ref: str, line: str, call: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "call": call,
        "line": line,
        "caller": "380661112233",
        "number": "380661112233",
        "recording": "",
        "at": T0.isoformat(),
        "complete": True,
    }


def answered(call: str, number: str, line: str, operator: str) -> list[CallEvent]:
    """A call to ``number``, answered on ``line`` by ``operator`` and over."""
    facts: list[ev.Fact] = [
        ev.CallStarted("380501234567", number=number),
        ev.CallQueued(line, "ka", 10),
        ev.CallAnswered(operator, 3.0),
        ev.CallEnded("answered", line, operator, wait=3.0, talk=60.0),
    ]
    return [
        CallEvent(call, n, T0 + timedelta(seconds=n), fact, f"{call}-{n}")
        for n, fact in enumerate(facts, 1)
    ]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The service built as `hotline serve` builds it (nothing running but the API), with
    Georgia's rules its own, a Georgian and a Ukrainian call in its call log and a
    detention notification of each organisation's."""
    raw = broken(lambda c: c["organisations"]["ge-legal-aid"].update(queues=GEORGIA))
    deployment = parse(raw)
    (tmp_path / "notifications.jsonl").write_text(
        json.dumps(notification("200001", "ge-consultation", "ge-call"))
        + "\n"
        + json.dumps(notification("100001", "detention", "ua-call"))
        + "\n"
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        agi_secret=new_token(),
        recordings_key=new_key(),
        api_tokens=",".join(f"{who}={token}" for who, token in TOKENS.items()),
    )
    service = build(settings, deployment)
    store = service.call_log.store
    await store.upgrade()
    await store.write(answered("ge-call", "0322920055", "ge-consultation", "ge1"))
    await store.write(answered("ua-call", "0800213103", "consultation", "op3"))
    assert service.api is not None
    transport = httpx.ASGITransport(app=service.api)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
            yield client
    finally:
        await store.close()


async def as_(
    api: httpx.AsyncClient, who: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {TOKENS[who]}"}
    return await api.request(method, path, headers=headers, **kwargs)


@pytest.mark.parametrize(
    ("who", "rules"),
    [("operator:ge1", GEORGIA), ("operator:op3", SHARED)],
)
async def test_a_desk_offers_its_organisations_choices(
    api: httpx.AsyncClient, who: str, rules: dict[str, Any]
) -> None:
    desk = (await as_(api, who, "GET", "/api/desk")).json()
    for choice in ("pause_reasons", "resolutions", "notification_outcomes"):
        assert desk[choice] == rules[choice], choice


#: (token, method, path, the request's body, the field named, what the 422 lists)
REFUSED = [
    (
        "operator:ge1",
        "POST",
        "/api/agents/ge1/pause?reason=training",  # a shared reason, not Georgia's
        None,
        ["query", "reason"],
        GEORGIA["pause_reasons"],
    ),
    (
        "operator:op3",
        "POST",
        "/api/agents/op3/pause?reason=supervision",  # Georgia's, not Ukraine's
        None,
        ["query", "reason"],
        SHARED["pause_reasons"],
    ),
    (
        "supervisor@ge-legal-aid",
        "PUT",
        "/api/calls/ge-call/wrap-up",
        {"topics": ["labour"], "resolution": "advice-given"},
        ["body", "resolution"],
        GEORGIA["resolutions"],
    ),
    (
        "operator:op3",
        "PUT",
        "/api/calls/ua-call/wrap-up",
        {"topics": ["labour"], "resolution": "consultation-given"},
        ["body", "resolution"],
        SHARED["resolutions"],
    ),
    (
        "supervisor@ge-legal-aid",
        "POST",
        "/api/notifications/200001/handled?by=ge1",
        {"outcome": "family-informed"},
        ["body", "outcome"],
        GEORGIA["notification_outcomes"],
    ),
]


#: The rule a refused field is checked against.
RULE_OF = {
    "reason": "pause_reasons",
    "resolution": "resolutions",
    "outcome": "notification_outcomes",
}


@pytest.mark.parametrize(("who", "method", "path", "body", "field", "allowed"), REFUSED)
async def test_a_choice_of_another_organisations_is_refused_naming_only_ones_own(
    api: httpx.AsyncClient,
    who: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    field: list[str],
    allowed: list[str],
) -> None:
    if "/agents/" in path:
        assert (await as_(api, who, "POST", path.split("/pause")[0] + "/login")).is_success
    reply = await as_(api, who, method, path, json=body)
    assert reply.status_code == 422, reply.text
    (error,) = reply.json()["errors"]
    assert error["loc"] == field
    assert error["msg"].endswith(", ".join(allowed)), error
    rule = RULE_OF[field[1]]
    others = set(SHARED[rule]) ^ set(GEORGIA[rule])  # the other organisation's own words
    assert not any(word in reply.text for word in others - set(allowed)), reply.text


async def test_a_choice_of_ones_own_is_taken_and_a_pause_is_for_the_first_reason(
    api: httpx.AsyncClient,
) -> None:
    assert (await as_(api, "operator:ge1", "POST", "/api/agents/ge1/login")).is_success
    paused = (await as_(api, "operator:ge1", "POST", "/api/agents/ge1/pause")).json()
    assert (paused["state"], paused["pause_reason"]) == ("paused", "supervision")
    wrapped = await as_(
        api,
        "supervisor@ge-legal-aid",
        "PUT",
        "/api/calls/ge-call/wrap-up",
        json={"topics": ["labour"], "resolution": "consultation-given"},
    )
    assert wrapped.status_code == 200, wrapped.text
    handled = await as_(
        api,
        "supervisor@ge-legal-aid",
        "POST",
        "/api/notifications/200001/handled?by=ge1",
        json={"outcome": "bureau-informed"},
    )
    assert handled.status_code == 200, handled.text
    assert handled.json()["outcome"] == "bureau-informed"
