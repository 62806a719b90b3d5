"""Each organisation's data its own, proven route by route: the real service, holding every
organisation's calls (answered, transferred, wrapped up with notes, recorded), detention
reports with recorded messages, and callers waiting on the sandbox now, is asked on every
route of its OpenAPI document by each kind of token (supervisor, viewer, operator, and a
Prometheus' metrics token) of each organisation (tests/walker.py). No answer (body, CSV,
event stream, metrics, error, header) holds another organisation's id, number, name or
note; another organisation's id is answered as one nobody has, a 404 where it names a
resource in the path; each organisation's figures add up to its own lines'.

And right after the start, six wallboards' tokens made with `hotline token create` (which
asks whose data each sees), presented at the same moment, are all let in."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

import httpx

from hotline.api.access import token_hash
from hotline.config.deployment import Deployment
from hotline.config.loading import load
from hotline.store.db import Store
from hotline.store.tables import ApiToken
from tests.conftest import ROOT
from tests.holdings import Holding, seed
from tests.integration.conftest import Service, call, progress
from tests.walker import (
    Asked,
    Requests,
    Route,
    Secrets,
    Values,
    events,
    leaks,
    normalised,
    read_stream,
    routes,
    send,
)

#: Routes that erase what the others are asked about (walked last).
ERASING = ("/api/v1/erasures",)


def erases(route: Route) -> bool:
    return route.method == "POST" and route.path in ERASING


#: The seeded calls began at 09:00 in Kyiv, the day of the service's clock (WORKING_HOURS).
SEEDED_AT = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
ROLES = ("supervisor", "viewer", "operator", "metrics")
#: Tokens per identity: 5 unknown references in 10 minutes hold a token back (429), and the
#: walk asks for 15 (other organisations' and nobody's, on five routes).
POOL = 4
#: The callers on the line during the walk, by organisation: a number and the keys to a line.
WAITING = {
    "ua-legal-aid": ("0800213103", "11", "380501110021"),
    "ge-legal-aid": ("0322920055", "1", "995555110022"),
    "ge-rehabilitation": ("2145145", "", "995577110023"),
}


def tokens(deployment: Deployment) -> dict[tuple[str, str], list[str]]:
    """Each identity's tokens (an organisation's supervisor, viewer, operator, metrics)."""
    return {
        (org, role): [f"walk-{role}-{org}-{n}-2026" for n in range(POOL)]
        for org in deployment.organisations
        for role in ROLES
    }


def entries(pools: dict[tuple[str, str], list[str]], held: dict[str, Holding]) -> str:
    found = []
    for (org, role), pool in pools.items():
        who = f"operator:{held[org].operators[0]}" if role == "operator" else f"{role}@{org}"
        found += [f"{who}={token}" for token in pool]
    return ",".join(found)


def values(deployment: Deployment, held: Holding, role: str, token: str) -> Values:
    """What an identity's requests name: its organisation's ids (an operator's own first)."""
    org = deployment.organisations[held.organisation]
    line = deployment.lines[held.line]
    answered, reported = held.calls
    return Values(
        calls=[answered, reported],
        refs=[held.ref],
        operators=[*held.operators, *sorted(org.operators - set(held.operators))],
        lines=[held.line, *sorted(org.lines - {held.line})],
        supervisors=sorted(org.supervisors),
        numbers=sorted(org.numbers),
        callers=[held.caller],
        sip_call_ids=[f"sip-{answered}@carrier"],
        centres=sorted(org.centres),
        offices=sorted(org.offices),
        organisations=[org.id],
        people=sorted(org.duty.people),
        events=[f"{answered}-1"],
        plain={
            "limit": 5,
            "open": True,
            "offset": 0,
            "from": "2026-11-25T00:00:00",
            "to": "2026-11-26T00:00:00",
            "tz": org.timezone,
            "threshold": 20,
            "thresholds": 30,
            "minutes": 30,
            "until": "2026-11-25T14:00:00+02:00",
            "callback_at": "2026-11-25T16:00:00+02:00",
            "period": "2026-11",
            "language": org.languages[0],
            "reason": deployment.policy.pause_reasons[0],
            "outcome": deployment.policy.notification_outcomes[0],
            "topics": line.topics[0],
            "resolution": deployment.policy.resolutions[0],
            "note": f"the walk's note for {role}",
            "token": token,
        },
    )


def secrets(held: dict[str, Holding], org: str) -> Secrets:
    """Every other organisation's, less what is also this one's (a rota and another's line
    may share a name)."""
    own = held[org]
    others = [h for o, h in held.items() if o != org]
    return Secrets(
        {i for h in others for i in h.ids} - own.ids,
        {w for h in others for w in h.words} - own.words,
    )


def made_by_the_cli(service: Service, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**service.env, "HOTLINE_CONFIG": str(service.config)}
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", "token", "create", *arguments],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def wallboards(service: Service, store: Store) -> list[str]:
    """Six viewers' tokens in the database: one made by `hotline token create` (after it
    refused to guess whose data it sees), five as it makes them."""
    refused = made_by_the_cli(service, "--role", "viewer", "--name", "wallboard")
    assert refused.returncode == 2 and "--all-organisations" in refused.stderr, refused
    made = made_by_the_cli(
        service, "--role", "viewer", "--name", "wallboard", "--organisation", "ua-legal-aid"
    )
    assert made.returncode == 0, made.stderr
    found = [made.stdout.strip()]
    for n in range(5):
        found.append(f"hl_wallboard-{n}-of-the-route-walk-2026")
        await store.add_token(
            ApiToken(
                name=f"wallboard {n}",
                role="viewer",
                operator=None,
                organisation="ua-legal-aid",
                hash=token_hash(found[-1]),
                created_at=datetime.now(UTC),
            )
        )
    return found


async def test_every_route_answers_each_organisation_only_its_own(service: Service) -> None:
    started = time.monotonic()
    assert service.config is not None
    deployment = load(service.config)
    spool = service.data_dir / "asterisk-spool"
    store = Store(f"sqlite+aiosqlite:///{service.data_dir / 'hotline.db'}")
    key = service.asterisk.secrets["HOTLINE_RECORDINGS_KEY"]
    held = await seed(deployment, store, service.data_dir, key, SEEDED_AT)
    boards = await wallboards(service, store)
    await store.close()
    pools = tokens(deployment)
    service.settings |= {
        "HOTLINE_API_TOKENS": entries(pools, held),
        "HOTLINE_ASTERISK_SPOOL": str(spool),
    }
    service.start()
    client = httpx.AsyncClient(base_url=service.url(""), timeout=20)
    try:
        # six wallboards at the same moment, right after the start: none turned away
        answers = await asyncio.gather(
            *(client.get("/api/queues", headers={"Authorization": f"Bearer {t}"}) for t in boards)
        )
        assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
        await walk(service, client, deployment, held, pools)
    finally:
        await client.aclose()
    progress(f"walked every route in {time.monotonic() - started:.1f} s")


class Identity:
    """One organisation's token of one role, as the walk uses it: a fresh token of its pool
    before the unknown references it asked for would hold it back."""

    def __init__(self, org: str, role: str, pool: list[str], own: Values) -> None:
        self.org, self.role, self.pool, self.own = org, role, pool, own
        self.guesses = 0

    def __str__(self) -> str:
        return f"{self.role}@{self.org}"

    def token_for(self, request: Asked) -> str:
        if request.varied and request.varied[0] == "ref" and request.varied[1] != "own":
            self.guesses += 1  # (four a token: the fifth unknown reference would be a 429)
        return self.pool[min(self.guesses // 4, POOL - 1)]


async def walk(
    service: Service,
    client: httpx.AsyncClient,
    deployment: Deployment,
    held: dict[str, Holding],
    pools: dict[tuple[str, str], list[str]],
) -> None:
    document = (await client.get("/openapi.json")).json()
    everything = routes(document)
    identities = [
        Identity(org, role, pool, values(deployment, held[org], role, pool[0]))
        for (org, role), pool in pools.items()
    ]
    theirs = {org: values(deployment, held[org], "supervisor", "") for org in held}
    problems: list[str] = []
    answered: dict[tuple[str, str, str], dict[str, tuple[int, str]]] = defaultdict(dict)
    statuses: dict[str, list[int]] = defaultdict(list)

    def others(identity: Identity) -> dict[str, Values]:
        return {org: v for org, v in theirs.items() if org != identity.org}

    # the event streams first: read while every organisation's callers arrive and the walk
    # acts (logins, pauses, wrap-ups, reports closed)
    done = asyncio.Event()
    streams: list[tuple[Identity, Asked, asyncio.Task[tuple[int, dict[str, str], str]]]] = []
    for identity in identities:
        for route in (r for r in everything if r.stream):
            asking = Requests(route, identity.own, identity.pool[0])
            first = next(asking.own_requests())
            for asked in [*asking.own_requests(), *asking.foreign(others(identity), first)]:
                streams.append((identity, asked, asyncio.create_task(
                    read_stream(client, asked, done))))  # fmt: skip
    await asyncio.sleep(1)

    # a caller of each organisation waits on the sandbox (nobody is logged in to answer)
    callers = [
        asyncio.create_task(call(number, keys, caller=caller, hold_ms=120_000))
        for number, keys, caller in WAITING.values()
    ]
    deadline = time.monotonic() + 40
    while len(waiting := queued(service)) < len(WAITING):
        assert time.monotonic() < deadline, f"callers not queued: {waiting}"
        await asyncio.sleep(0.5)
    for org, (number, _, caller) in WAITING.items():
        live = next(c for c, n in waiting.items() if n == number)
        for identity in identities:  # (first: a call under way is what most routes act on)
            if identity.org == org:
                identity.own.calls.insert(0, live)
        theirs[org].calls.insert(0, live)
        held[org].ids.add(live)
        held[org].words.add(caller)

    async def as_organisation(org: str) -> None:
        # (an erasure removes what the other routes are asked about: walked once every
        # identity of the organisation walked the rest)
        for last in (False, True):
            for identity in (i for i in identities if i.org == org):
                await walk_as(identity, org, [r for r in everything if erases(r) == last])

    async def walk_as(identity: Identity, org: str, walked: list[Route]) -> None:
        known = secrets(held, org)
        for route in (r for r in walked if not r.stream):
            asking = Requests(route, identity.own, identity.pool[0])
            valid = None  # (an own request the route took: the others' go on top of it)
            for asked in asking.own_requests():
                if (await ask(identity, known, asked)) not in (400, 422):
                    valid = valid or asked
            first = valid or next(asking.own_requests())
            for asked in asking.foreign(others(identity), first):
                await ask(identity, known, asked)

    async def ask(identity: Identity, known: Secrets, asked: Asked) -> int:
        """Send it; what it leaked, or a 5xx, is a problem; its answer is kept."""
        asked.headers["Authorization"] = f"Bearer {identity.token_for(asked)}"
        reply = await send(client, asked)
        where = f"{identity} {asked.method} {asked.path} {asked.params} {asked.body}"
        problems.extend(f"{where}: {p}" for p in leaks(known, asked, reply.headers, reply.text))
        if reply.status_code >= 500:
            problems.append(f"{where}: {reply.status_code} {reply.text[:200]}")
        statuses[asked.route].append(reply.status_code)
        if asked.varied is not None:
            name, whose, _ = asked.varied
            answer = (reply.status_code, normalised(asked, reply.text))
            answered[str(identity), asked.route, name][whose] = answer
        return reply.status_code

    await asyncio.gather(*(as_organisation(org) for org in deployment.organisations))
    done.set()
    for identity, asked, task in streams:
        status, headers, text = await task
        where = f"{identity} {asked.route} {asked.headers.get('last-event-id')}"
        assert status == (200 if identity.role != "metrics" else 403), (where, status, text)
        if status == 200 and asked.varied is None:  # (it heard its own organisation's events)
            heard = {event.get("organisation") for event in events(text)}
            assert identity.org in heard, (where, text[-2000:])
        problems.extend(f"{where}: {p}" for p in leaks(secrets(held, identity.org), asked,
                                                       headers, text))  # fmt: skip
    service.asterisk.sandbox.cli("channel request hangup all")
    await asyncio.gather(*callers)

    # another organisation's id is answered as one nobody has; in a path, a 404 (403 where
    # the role may not use the route at all)
    for (identity_name, asked_route, name), by_whom in answered.items():
        nobody = by_whom.get("nobody")
        if nobody is None:
            continue
        for whose, answer in by_whom.items():
            if whose in ("own", "nobody"):
                continue
            if answer[0] != nobody[0] or (answer[0] >= 400 and answer[1] != nobody[1]):
                problems.append(
                    f"{identity_name} {asked_route} {name}={whose}'s: {answer} but nobody's "
                    f"{nobody}"
                )
            if "{" + name + "}" in asked_route and answer[0] not in (403, 404):
                problems.append(
                    f"{identity_name} {asked_route} {name}={whose}'s: {answer[0]}, not 404"
                )
    asked = sum(len(found) for found in statuses.values())
    progress(f"{len(statuses)} routes asked {asked} times, and {len(streams)} event streams")
    for route, found in sorted(statuses.items()):
        progress(f"  {route}: {dict(sorted(Counter(found).items()))}")
    never = [r for r, found in statuses.items() if r.startswith("GET") and 200 not in found]
    assert not never, f"routes that never answered 200 in the walk: {never}"
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(sorted(problems)[:60])
    await figures(client, deployment, pools, service.token)


def queued(service: Service) -> dict[str, str]:
    """The callers waiting now (call id: the hotline number they dialled)."""
    waiting = [w["call"] for q in service.get("/api/queues").values() for w in q["waiting"]]
    found = {}
    for call_id in waiting:
        found[call_id] = service.get(f"/api/calls/{call_id}")["number"]
    return found


async def figures(
    client: httpx.AsyncClient,
    deployment: Deployment,
    pools: dict[tuple[str, str], list[str]],
    platform: str,
) -> None:
    """Each organisation's figures are its own lines', no more: its calls' count and its
    statistics add up to what a token of every organisation (``platform``) sees of its
    numbers and lines."""
    everyone = {"Authorization": f"Bearer {platform}"}
    whole = (await client.get("/api/stats", headers=everyone)).json()
    for org in deployment.organisations.values():
        mine = {"Authorization": f"Bearer {pools[org.id, 'supervisor'][-1]}"}
        own = (await client.get("/api/calls", headers=mine)).headers["x-total-count"]
        count = 0
        for number in org.numbers:
            found = await client.get("/api/calls", params={"number": number}, headers=everyone)
            count += int(found.headers["x-total-count"])
        assert int(own) == count, (org.id, own, count)
        stats = (await client.get("/api/stats", headers=mine)).json()
        assert set(stats["lines"]) <= org.lines, (org.id, stats["lines"])
        for figure in ("offered", "answered"):
            expected = sum(whole["lines"].get(line, {}).get(figure, 0) for line in org.lines)
            assert stats["total"][figure] == expected, (org.id, figure, stats["total"])
