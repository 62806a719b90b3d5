"""The call log on real databases: calls made through the sandbox with SIPp appear in the
API with their times and outcomes, the statistics add up, a database outage (a real
PostgreSQL stopped and started) loses nothing, and each role sees what it should."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.sipcall import SoftPhone
from tests.conftest import ROOT, postgres_database
from tests.integration.conftest import WORKING_HOURS, Service, call, free_tcp_port

CONSULTATION = ("0800213103", "11")  # Ukrainian, legal consultation
CALLER = "380671112233"  # as the sandbox's carrier sends it
LOGGED = "+380671112233"  # as the log keeps it (E.164)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, service: Service) -> Iterator[str]:
    """The service's database: SQLite in its data folder, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    with postgres_database() as url:
        service.settings["HOTLINE_DATABASE_URL"] = url
        yield "postgresql"


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def answered_and_abandoned(
    service: Service, phone: Callable[..., SoftPhone]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """op3 answers a consultation and talks 4 s; then, op3 paused, a caller gives up after
    about 8 s in the queue."""
    op3 = phone("op3", talk_ms=4000)
    service.login("op3")
    answered = await call(*CONSULTATION, caller=CALLER, hold_ms=60_000)
    assert op3.answered() == 1, answered.output
    a = service.record(answered.call_id)
    assert service.post("/api/agents/op3/pause", reason="training").status_code == 200
    abandoned = await call(*CONSULTATION, caller="380509998877", hold_ms=8_000)
    b = service.record(abandoned.call_id)
    return a, b


async def test_one_caller_whatever_form_the_carrier_sends_their_number_in(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    """A carrier sends a caller's number nationally one time (0671112255) and internationally
    the next (380671112255): the log keeps one caller, +380671112255; the calls' filter finds
    both calls by any form of it; and while the second call rings op3, their desk shows the
    first among the caller's earlier calls."""
    service.start()
    op3 = phone("op3", ring_ms=3000, talk_ms=3000)
    service.login("op3")
    first = await call(*CONSULTATION, caller="0671112255", hold_ms=60_000)
    assert op3.answered() == 1, first.output
    earlier = service.record(first.call_id)
    assert earlier["caller"] == "+380671112255"
    service.post("/api/agents/op3/ready")

    second = asyncio.create_task(call(*CONSULTATION, caller="380671112255", hold_ms=60_000))
    deadline = time.monotonic() + 60
    while not (desk := service.get("/api/desk", operator="op3"))["call"]:
        assert time.monotonic() < deadline, desk
        await asyncio.sleep(0.3)
    assert desk["call"]["caller"] == "+380671112255"
    assert [c["id"] for c in desk["call"]["previous"]] == [earlier["id"]]
    later = service.record((await second).call_id)
    assert later["caller"] == "+380671112255"
    for form in ("0671112255", "380671112255", "+380671112255"):
        found = [c["id"] for c in service.get("/api/calls", caller=form)]
        assert found == [later["id"], earlier["id"]], form


async def test_calls_times_outcomes_filters_and_figures(
    service: Service, phone: Callable[..., SoftPhone], database: str
) -> None:
    service.start()
    started = time.monotonic()
    a, b = await answered_and_abandoned(service, phone)
    elapsed = time.monotonic() - started

    # outcomes, operator, and the times (the service's clock starts at WORKING_HOURS)
    assert (a["outcome"], a["operator"], a["line"], a["caller"]) == (
        "answered",
        "op3",
        "consultation",
        LOGGED,
    )
    assert (b["outcome"], b["operator"], b["line"]) == ("abandoned", None, "consultation")
    clock_start = when(WORKING_HOURS)
    for record in (a, b):
        assert clock_start <= when(record["started"]) <= clock_start + timedelta(seconds=elapsed)
        assert when(record["started"]) < when(record["queued"]) < when(record["ended"])
    assert when(a["ended"]) < when(b["started"])
    assert 0 <= a["wait"] < 3  # op3 was free: only the ring
    assert a["wait"] == pytest.approx(
        (when(a["answered"]) - when(a["queued"])).total_seconds(), abs=0.05
    )
    assert 3.5 <= a["talk"] <= 5.5
    assert a["talk"] == pytest.approx(
        (when(a["ended"]) - when(a["answered"])).total_seconds(), abs=0.05
    )
    # 8 s of hold after the last key, less the hold prompt (which runs late on a busy machine)
    assert 4 <= b["wait"] <= 10
    kinds = [e["kind"] for e in a["events"]]
    assert kinds[0] == "call.started" and kinds[-1] == "call.ended"
    assert kinds.index("call.queued") < kinds.index("call.offered") < kinds.index("call.answered")
    assert [e["seq"] for e in a["events"]] == list(range(1, len(kinds) + 1))

    # filters, pagination, CSV
    def ids(**params: Any) -> list[str]:
        return [c["id"] for c in service.get("/api/calls", **params)]

    assert ids() == [b["id"], a["id"]]  # newest first
    assert ids(outcome="abandoned") == [b["id"]]
    assert ids(operator="op3") == [a["id"]]
    assert ids(caller=CALLER) == [a["id"]]
    assert ids(line="detention") == []
    assert ids(**{"from": b["started"]}) == [b["id"]]
    assert ids(**{"to": b["started"]}) == [a["id"]]
    page = service.get_as(service.token, "/api/calls", limit=1, offset=1)
    assert page.headers["X-Total-Count"] == "2" and [c["id"] for c in page.json()] == [a["id"]]
    exported = service.get_as(service.token, "/api/calls.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["id"], r["outcome"], r["caller"]) for r in rows] == [
        # (a spreadsheet would read "+380..." as a number: kept as text)
        (b["id"], "abandoned", "'+380509998877"),
        (a["id"], "answered", "'" + LOGGED),
    ]

    # the figures, worked out from the two calls: one answered within 20 s, one abandoned
    figures = service.get("/api/stats")
    total = figures["total"]
    assert (total["offered"], total["answered"], total["abandoned"], total["waiting"]) == (
        2,
        1,
        1,
        0,
    )
    assert total["service_level"] == 0.5
    assert total["average_speed_of_answer"] == round(a["wait"], 1)
    assert total["average_handle_time"] == round(a["talk"], 1)
    assert total["longest_wait"] == round(b["wait"], 1)
    assert figures["lines"]["consultation"]["offered"] == 2
    assert figures["operators"]["op3"]["answered"] == 1
    hour = [p for p in figures["periods"] if p["offered"]]
    assert len(hour) == 1 and hour[0]["start"] == "2026-11-25T11:00:00+02:00"
    assert service.get("/api/stats", threshold=0.001)["total"]["service_level"] == 0.0
    assert service.get("/health")["database"]["backend"] == database

    # /metrics says the same
    found = service.metrics()
    org = ("organisation", "ua-legal-aid")
    line = ("line", "consultation")
    assert found[("hotline_calls_total", frozenset({org, line, ("outcome", "answered")}))] == 1
    assert found[("hotline_calls_total", frozenset({org, line, ("outcome", "abandoned")}))] == 1
    waits = ("hotline_wait_seconds_count", frozenset({org, line, ("outcome", "abandoned")}))
    assert found[waits] == 1
    within = (
        "hotline_wait_seconds_bucket",
        frozenset({org, line, ("outcome", "abandoned"), ("le", "5.0")}),
    )
    assert found[within] == 0  # the abandoned caller waited 7-10 s
    assert found[("hotline_talk_seconds_sum", frozenset({org, line}))] == pytest.approx(a["talk"])
    assert found[("hotline_callers_waiting", frozenset({org, line}))] == 0
    assert found[("hotline_operators", frozenset({org, line, ("state", "paused")}))] == 1  # op3
    assert (
        found[("hotline_operators", frozenset({org, line, ("state", "logged_out")}))] == 4
    )  # op2, op4-op6
    assert found[("hotline_ami_up", frozenset())] == 1
    assert found[("hotline_active", frozenset())] == 1  # (a standby's says 0)
    # a routed caller's variables in one MSet (EXEC), the result with the time queued in another
    assert found[("hotline_agi_command_seconds_count", frozenset({("command", "EXEC")}))] >= 2
    # op3 free as the caller was routed: rung from the end of their session, no AMI action
    assert ("hotline_ami_action_seconds_count", frozenset({("action", "Redirect")})) not in found


# -- a database outage ----------------------------------------------------------------------
class PrivatePostgres:
    """A PostgreSQL of the test's own (the machine's binaries), so that it can be stopped."""

    def __init__(self) -> None:
        self.bin = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
        self.dir = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        self.port = free_tcp_port()
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(
            self.bin / "initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres"
        )

    def _as_postgres(self, *command: str | Path) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, command)],
            check=True,
            capture_output=True,
            cwd=self.dir,
        )

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._as_postgres(
            self.bin / "pg_ctl",
            "-D",
            self.dir / "data",
            "-o",
            options,
            "-l",
            self.dir / "log",
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.dir / "data", "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "immediate",
                "stop",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    pg.start()
    yield pg
    pg.remove()


class EventWitness(threading.Thread):
    """Reads /api/events as a supervisor, reconnecting, and keeps every event it sees."""

    def __init__(self, service: Service, token: str | None = None) -> None:
        super().__init__(daemon=True)
        self.service = service
        self.token = token or service.token
        self.events: list[dict[str, Any]] = []
        self.connected = threading.Event()
        self.done = False

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self.done:
            self.connected.clear()
            try:
                with httpx.stream(
                    "GET", self.service.url("/api/events"), headers=headers, timeout=None
                ) as stream:
                    for line in stream.iter_lines():
                        self.connected.set()
                        if line.startswith("data: "):
                            self.events.append(json.loads(line.removeprefix("data: ")))
                        if self.done:
                            return
            except httpx.HTTPError:
                time.sleep(0.3)

    def of_call(self, call_id: str) -> list[str]:
        return [e["id"] for e in self.events if e["call_id"] == call_id]


def health(service: Service) -> dict[str, Any]:
    found: dict[str, Any] = service.health()
    return found


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


async def test_a_database_outage_loses_no_event(
    service: Service, phone: Callable[..., SoftPhone], private_postgres: PrivatePostgres
) -> None:
    service.settings["HOTLINE_DATABASE_URL"] = private_postgres.url
    service.start()
    witness = EventWitness(service)
    witness.start()
    witness.connected.wait(10)
    op3 = phone("op3", talk_ms=2000)
    service.login("op3")
    placed = [await call(*CONSULTATION, hold_ms=30_000)]  # before the outage

    private_postgres.stop()
    placed.append(await call(*CONSULTATION, hold_ms=30_000))  # answered during it
    wait_until(lambda: not health(service)["database"]["connected"], 15, "outage unnoticed")
    assert health(service)["database"]["spooled"] > 0
    refused = service.get_as(service.token, "/api/calls")
    assert refused.status_code == 503 and "unreachable" in refused.json()["detail"]
    assert service.get("/api/queues")["consultation"]["waiting"] == []  # live state still works

    service.stop()  # restarted during the outage: the spool is on disk
    service.start(ready=False)
    witness.connected.wait(10)
    service.login("op3")
    placed.append(await call(*CONSULTATION, hold_ms=30_000))
    assert op3.answered() == 3

    private_postgres.start()
    wait_until(
        lambda: (
            health(service)["database"]["connected"] and health(service)["database"]["spooled"] == 0
        ),
        60,
        f"the spool was not written back: {health(service)}",
    )
    witness.done = True
    for p in placed:
        record = service.record(p.call_id)
        assert record["outcome"] == "answered"
        seen = witness.of_call(record["id"])
        assert seen, f"the witness saw nothing of {record['id']}"
        assert [e["id"] for e in record["events"]] == seen  # all of them, once, in order


# -- roles ----------------------------------------------------------------------------------
def create_token(service: Service, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "token", "create", *args],
        cwd=ROOT,
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def test_each_role_sees_what_it_should(
    service: Service, phone: Callable[..., SoftPhone]
) -> None:
    service.settings["HOTLINE_API_TOKENS"] = "operator:op4=op4-token-from-the-environment"
    service.start()
    viewer = create_token(
        service, "--role", "viewer", "--name", "wallboard", "--organisation", "ua-legal-aid"
    )
    op3 = create_token(service, "--role", "operator", "--operator", "op3", "--name", "lawyer 3")
    op4 = "op4-token-from-the-environment"
    assert viewer.startswith("hl_") and len(viewer) > 40
    a, b = await answered_and_abandoned(service, phone)

    def status(token: str | None, path: str, **params: Any) -> int:
        return service.get_as(token, path, **params).status_code

    # no token, a wrong one: 401
    for path in ("/api/queues", "/api/calls", "/api/stats", "/api/agents", "/api/events"):
        assert status(None, path) == 401 and status("hl_wrong", path) == 401, path
    # the viewer: queues, operators and figures; no calls, no notifications, no actions
    assert status(viewer, "/api/stats") == 200
    assert status(viewer, "/api/agents") == 200
    for path in ("/api/calls", f"/api/calls/{a['id']}", "/api/calls.csv", "/api/notifications"):
        assert status(viewer, path) == 403, path
    assert (
        httpx.post(
            service.url("/api/agents/op3/resume"), headers={"Authorization": f"Bearer {viewer}"}
        ).status_code
        == 403
    )
    # an operator: their own state and calls, nothing of others'
    mine = service.get_as(op3, "/api/calls").json()
    assert [c["id"] for c in mine] == [a["id"]] and mine[0]["caller"] == LOGGED
    # a call of a line they serve (their colleagues' wrap-ups), the caller's number masked
    colleagues = service.get_as(op3, f"/api/calls/{b['id']}").json()
    assert colleagues["caller"] == "*" * 11 + "77", colleagues
    assert status(op3, f"/api/calls/{b['id']}/recording") == 404
    assert status(op3, "/api/calls", operator="op4") == 403
    assert [x["id"] for x in service.get_as(op3, "/api/agents").json()] == ["op3"]
    assert status(op3, "/api/stats") == 403 and status(op3, "/api/queues") == 403
    assert service.get_as(op4, "/api/calls").json() == []  # op4 (from the environment) took none
    act = httpx.post(
        service.url("/api/agents/op4/pause"), headers={"Authorization": f"Bearer {op3}"}
    )
    assert act.status_code == 403
    act = httpx.post(
        service.url("/api/agents/op3/resume"), headers={"Authorization": f"Bearer {op3}"}
    )
    assert act.status_code == 200 and act.json()["state"] == "available"
    # the supervisor sees numbers; the viewer sees the queue with them masked
    assert service.get(f"/api/calls/{a['id']}")["caller"] == LOGGED
    watching = EventWitness(service, viewer)
    watching.start()
    assert watching.connected.wait(10)
    waiting = asyncio.create_task(call(*CONSULTATION, caller=CALLER, hold_ms=12_000))
    service.post("/api/agents/op3/pause")
    deadline = time.monotonic() + 20
    while not (queue := service.get_as(viewer, "/api/queues").json()["consultation"]["waiting"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
    assert queue[0]["caller"] == "*" * (len(LOGGED) - 2) + LOGGED[-2:]
    assert service.get("/api/queues")["consultation"]["waiting"][0]["caller"] == LOGGED
    live = service.metrics()
    consultation = frozenset({("organisation", "ua-legal-aid"), ("line", "consultation")})
    assert live[("hotline_callers_waiting", consultation)] == 1
    assert live[("hotline_longest_wait_seconds", consultation)] > 0
    # every figure the alert rules an operator installs use is one the service exports
    rules = (ROOT / "config/prometheus/hotline-alerts.yml").read_text()
    families = list(text_string_to_metric_families(service.get_as(service.token, "/metrics").text))
    # (a counter's family is named without its samples' _total)
    exported = {f.name for f in families} | {s.name for f in families for s in f.samples}
    assert set(re.findall(r"\bhotline_[a-z_]+", rules)) <= exported, exported
    await waiting
    watching.done = True
    (started,) = [e for e in watching.events if e["kind"] == "call.started"]
    assert started["data"]["caller"] == queue[0]["caller"]  # masked in the stream too
    # bad parameters: a 422 naming the parameter
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"line": "nope"}, "line"),
        ({"outcome": "won"}, "outcome"),
        ({"from": "yesterday"}, "from"),
        ({"tz": "Mars/Olympus"}, "tz"),
    ):
        reply = service.get_as(service.token, "/api/calls", **params)
        assert reply.status_code == 422 and field in reply.text, (params, reply.text)
    reply = service.get_as(service.token, "/api/stats", **{"from": "2020-01-01T00:00Z"})
    assert reply.status_code == 422 and "366 days" in reply.text


def read_events(
    service: Service, count: int, last_event_id: str | None = None, seconds: float = 60
) -> list[dict[str, Any]]:
    """The first ``count`` events of /api/events (as a supervisor), each with its SSE id."""
    headers = {"Authorization": f"Bearer {service.token}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    found: list[dict[str, Any]] = []
    fields: dict[str, str] = {}  # of the message being read (a blank line ends it)
    with httpx.stream("GET", service.url("/api/events"), headers=headers, timeout=seconds) as s:
        for line in s.iter_lines():
            if line:
                name, _, value = line.partition(": ")
                fields[name] = value
                continue
            if "data" in fields:
                found.append({**json.loads(fields["data"]), "sse_id": fields.get("id", "")})
                if len(found) == count:
                    break
            fields = {}
    return found


async def test_a_stream_that_reconnects_with_last_event_id_misses_nothing(
    service: Service,
) -> None:
    """A client reads a call's first events, drops, and the call goes on without it; it comes
    back with the last id it had in Last-Event-ID (as a browser's EventSource does): the events
    it missed come first, in order, none twice; an id the service no longer holds gives a
    `stream.reset` first (read the state again)."""
    service.start()
    first = asyncio.create_task(asyncio.to_thread(read_events, service, 3))
    await asyncio.sleep(1)  # (listening)
    placed = await call(*CONSULTATION, hold_ms=2000)  # nobody to answer: it ends abandoned
    seen = await first
    record = service.record(placed.call_id)
    assert [e["kind"] for e in seen] == ["call.started", "menu.answer", "menu.answer"]
    assert all(e["sse_id"] == e["id"] for e in seen)
    expected = [e["id"] for e in record["events"]]

    resumed = await asyncio.to_thread(read_events, service, len(expected) - 3, seen[-1]["id"])
    assert [e["id"] for e in resumed] == expected[3:]  # the rest of the call, in order
    assert resumed[-1]["kind"] == "call.ended"

    (reset,) = await asyncio.to_thread(read_events, service, 1, "an-id-never-seen")
    assert reset["kind"] == "stream.reset"
