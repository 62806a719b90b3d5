"""Each organisation's own, through the real API of a service built as `hotline serve` builds
it (hotline.app.build: not started, no Asterisk) over a real database holding every
organisation's calls and reports (tests/holdings.py): /metrics shows each token its own
organisation's figures, a 422 names only the token's organisation's ids, and a notification
is closed only in the name of an operator of its line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hotline.app import Service, build
from hotline.config.deployment import Deployment
from hotline.config.settings import Settings
from hotline.events import CallEvent
from hotline.reports.notifications import Notification
from hotline.store.db import Store
from hotline.vault.cipher import new_key
from routing.events import CallEnded
from tests.holdings import Holding, seed

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PLATFORM = "platform-supervisor-of-every-organisation"
#: What /metrics says of the service itself: to every reader (and its process's
#: ``process_*``).
STATE = {"hotline_active", "hotline_ami_up", "hotline_database_up", "hotline_build_info"}


def service_state(names: set[str]) -> set[str]:
    """The names of the service's own series, the process's apart."""
    return {name for name in names if not name.startswith("process_")}


def token(role: str, organisation: str) -> str:
    return f"{role}-token-of-{organisation}"


@dataclass
class Built:
    service: Service
    api: httpx.AsyncClient
    held: dict[str, Holding]

    async def get(self, token: str | None, path: str, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.api.get(path, params=params, headers=headers)


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
        operator = held[org].operators[0]
        entries += [
            f"{role}@{org}={token(role, org)}" for role in ("supervisor", "viewer", "metrics")
        ]
        entries.append(f"operator:{operator}={token('operator', org)}")
    settings = Settings(
        _env_file=None,
        data_dir=data,
        database_url=url,
        agi_secret="agi-key-of-the-separation-tests",
        recordings_key=key,
        api_tokens=",".join(entries),
        asterisk_spool=spool,
        clock_start=START.replace(hour=12),
        guard=False,
    )
    service = build(settings, deployment)
    await service.call_log.store.upgrade()
    service.call_log.ready.set()
    transport = httpx.ASGITransport(app=service.api)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as api:
        yield Built(service, api, held)
    await service.call_log.store.close()


def series(text: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (sample.name, sample.labels)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


async def test_metrics_show_each_organisation_its_own_figures(
    built: Built, deployment: Deployment
) -> None:
    """Every organisation's calls ended: each organisation's tokens (supervisor, viewer, its
    Prometheus' metrics token) read its own figures and the service's state, nothing of
    another organisation's and nothing of the whole deployment's; a token of every
    organisation reads them all; an operator's token and no token read nothing."""
    for held in built.held.values():
        fact = CallEnded("answered", held.line, held.operators[0], 12.0, 60.0)
        built.service.bus.publish(CallEvent(held.calls[0], 0, START, fact))
    for org in deployment.organisations:
        for role in ("supervisor", "viewer", "metrics"):
            reply = await built.get(token(role, org), "/metrics")
            assert reply.status_code == 200, reply.text
            shown = series(reply.text)
            whose = {labels.get("organisation") for _, labels in shown}
            assert whose == {org, None}, (org, role, whose)
            unlabelled = {name for name, labels in shown if "organisation" not in labels}
            assert service_state(unlabelled) == STATE
            lines = {labels["line"] for _, labels in shown if "line" in labels}
            assert lines <= deployment.organisations[org].lines | {"none"}, lines
            assert ("hotline_calls_total", {"organisation": org, "line": built.held[org].line,
                    "outcome": "answered"}) in shown  # fmt: skip
    everyone = series((await built.get(PLATFORM, "/metrics")).text)
    assert {labels.get("organisation") for _, labels in everyone} >= {*deployment.organisations}
    assert any(name == "hotline_events_total" for name, _ in everyone)
    assert (await built.get(token("operator", "ua-legal-aid"), "/metrics")).status_code == 403
    assert (await built.get(None, "/metrics")).status_code == 401  # (the default)


async def test_without_a_token_where_allowed_metrics_show_the_service_state_alone(
    built: Built,
) -> None:
    """HOTLINE_METRICS_AUTH=false: a scrape without a token sees whether the service is up,
    linked and active, never an organisation's figures."""
    built.service.api.state.parts.metrics_auth = False
    shown = series((await built.get(None, "/metrics")).text)
    assert service_state({name for name, _ in shown}) == STATE


async def test_a_422_names_the_tokens_organisations_ids_only(
    built: Built, deployment: Deployment
) -> None:
    """A wrong line, operator or supervisor is answered with the token's organisation's own
    (never another's: their lines, operators and supervisors are not its to know), and
    another organisation's id is answered as one nobody has."""
    georgia = token("supervisor", "ge-legal-aid")
    ukraine = deployment.organisations["ua-legal-aid"]
    others = {
        name
        for org in deployment.organisations.values()
        if org.id != "ge-legal-aid"
        for name in (*org.lines, *org.operators, *org.supervisors)
    }
    asked = [
        ("/api/calls", {"line": "nowhere"}),
        ("/api/calls", {"line": "consultation"}),
        ("/api/calls.csv", {"operator": "op1"}),
        ("/api/stats", {"line": "detention"}),
        ("/api/agents/ge1/spy", {"supervisor": "sup1"}),
    ]
    for path, params in asked:
        method = built.api.post if path.endswith("/spy") else built.api.get
        reply = await method(path, params=params, headers={"Authorization": f"Bearer {georgia}"})
        assert reply.status_code == 422, reply.text
        said = reply.json()["detail"]
        named = {word.strip("'[],:") for word in said.split()} - set(params.values())
        assert not named & others, said
        assert "ge-consultation" in said or "ge1" in said or "sup2" in said, said
    # the same for Ukraine's token: Georgia's ids are unknown, its own listed
    reply = await built.get(token("viewer", "ua-legal-aid"), "/api/stats", line="ge-consultation")
    assert reply.status_code == 422
    assert sorted(ukraine.lines) == sorted(
        word.strip("'[],") for word in reply.json()["detail"].split("one of ")[1].split()
    )


async def test_a_notification_is_closed_only_in_the_name_of_an_operator_of_its_line(
    built: Built, deployment: Deployment
) -> None:
    """A supervisor closes a report in the name of an operator of its line (as they call it
    back): not in another organisation's operator's name, nor another line's, nor nobody's."""
    ukraine = built.held["ua-legal-aid"]
    supervisor = {"Authorization": f"Bearer {token('supervisor', 'ua-legal-aid')}"}
    path = f"/api/notifications/{ukraine.ref}/handled"
    not_of_the_line = [
        op
        for op in sorted(deployment.organisations["ua-legal-aid"].operators)
        if ukraine.line not in deployment.operators[op].lines
    ]  # (none where every Ukrainian operator takes detention reports)
    for by in ("ge1", "gr2", *not_of_the_line, "sup1", "nobody"):
        reply = await built.api.post(path, params={"by": by}, headers=supervisor)
        assert reply.status_code == 422, (by, reply.text)
        assert f"{by!r} is no operator of the line {ukraine.line!r}" in reply.json()["detail"]
        assert built.service.notifications.items[ukraine.ref].handled_at is None
    reply = await built.api.post(path, params={"by": ukraine.operators[1]}, headers=supervisor)
    assert reply.status_code == 200, reply.text
    assert built.service.notifications.items[ukraine.ref].handled_by == ukraine.operators[1]


async def test_notifications_are_filtered_and_paged_within_the_organisation(
    built: Built, deployment: Deployment
) -> None:
    """/api/notifications: open or handled, by line, by time, a page at a time, with how many
    match in all; another organisation's line is unknown (422), its reports never counted."""
    store = built.service.notifications
    ua = built.held["ua-legal-aid"]
    for n in range(6):  # six more of Ukraine's, an hour apart; the even ones handled
        at = START + timedelta(hours=1 + n)
        store.add(
            Notification(f"90000{n}", f"call-{n}", ua.line, ua.caller, ua.family, "", at, True)
        )
        if n % 2 == 0:
            store.handle(f"90000{n}", ua.operators[0], at + timedelta(minutes=5))
    supervisor = token("supervisor", "ua-legal-aid")

    async def refs(**params: str) -> tuple[list[str], int]:
        reply = await built.get(supervisor, "/api/notifications", **params)
        assert reply.status_code == 200, reply.text
        return [n["ref"] for n in reply.json()], int(reply.headers["X-Total-Count"])

    assert await refs() == ([ua.ref, "900001", "900003", "900005", "900004", "900002", "900000"], 7)
    assert await refs(open="true") == ([ua.ref, "900001", "900003", "900005"], 4)
    assert await refs(open="false", limit="2") == (["900004", "900002"], 3)
    assert await refs(open="false", limit="2", offset="2") == (["900000"], 3)
    since, until = (START + timedelta(hours=h) for h in (2, 4))
    assert await refs(**{"from": since.isoformat(), "to": until.isoformat()}) == (
        ["900001", "900002"],
        2,
    )
    assert await refs(line=ua.line, open="true") == ([ua.ref, "900001", "900003", "900005"], 4)
    georgian = built.held["ge-legal-aid"].line
    refused = await built.get(supervisor, "/api/notifications", line=georgian)
    own = sorted(deployment.organisations["ua-legal-aid"].lines)
    assert refused.status_code == 422 and f"one of {own}" in refused.text, refused.text
    theirs = await built.get(token("supervisor", "ge-legal-aid"), "/api/notifications")
    assert [n["ref"] for n in theirs.json()] == [built.held["ge-legal-aid"].ref]
    assert theirs.headers["X-Total-Count"] == "1"
    assert (await built.get(supervisor, "/api/notifications", limit="0")).status_code == 422
