"""The config changed while the hotline runs, on the real sandbox: a lawyer joins Sumy and
consultations close early, taken by `hotline reload` while one caller talks and another
waits; the waiting caller keeps their place and is answered by the new lawyer (whose phone
registers only because Asterisk's endpoints were reloaded), the next consultation caller hears
that the line is closed, the talk goes on; a config that cannot run is refused with what
`hotline check` says, the call still up; SIGHUP takes the first config back. With a standby,
both instances take a reload of the active one."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bench.sipcall import SoftPhone
from hotline.asterisk import render
from hotline.config.deployment import Deployment
from tests.integration.conftest import ROOT, Asterisk, Service, call, config_variant
from tests.integration.test_call_log import EventWitness
from tests.integration.test_dashboard import until_api
from tests.integration.test_queues import waiting_on
from tests.integration.test_shelter import agent_is
from tests.integration.test_standby import LEASE, pair, role, until

__all__ = ["pair"]  # (the standby tests' fixture: two instances, one database)

CONSULTATION = ("0800213103", "11")  # Ukrainian, legal consultation: Sumy's lawyers
INFORMATION = ("0800213103", "14")  # Ukrainian, information: Chernivtsi
LAWYER_7 = {
    "name": "Lawyer 7",
    "office": "sumy",
    "lines": ["consultation", "detention"],
    "languages": ["uk", "en"],
    "code": "97",
}


def reload(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    """`hotline reload` as an administrator runs it beside the service."""
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", "reload", *args],
        cwd=ROOT,
        env=service.env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(path: Path, raw: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))


def restore(asterisk: Asterisk, deployment: Deployment) -> None:
    """Asterisk's files as the sandbox wrote them, read again: the next tests of this worker
    meet the endpoints and the dialplan they expect (a reload by an instance on another
    FastAGI port writes that port into the dialplan)."""
    sandbox = asterisk.sandbox
    files = render.generated(
        deployment,
        asterisk.secrets,
        sandbox.settings.agi_address(),
        sandbox.settings.ami_username,
        sandbox.settings.takeover_seconds(),
    )
    render.write(files, sandbox.root / "etc/asterisk", only_changed=True)
    for module in ("res_pjsip.so", "pbx_config.so", "app_queue.so"):
        assert sandbox.cli(f"module reload {module}").returncode == 0


async def test_a_lawyer_joins_and_a_line_closes_early_while_calls_go_on(
    service: Service,
    asterisk: Asterisk,
    phone: Callable[..., SoftPhone],
    tmp_path: Path,
    deployment: Deployment,
) -> None:
    path, _ = config_variant(tmp_path)
    first = path.read_text()
    kept = asterisk.sandbox.secrets_file.read_text()
    password = secrets.token_urlsafe(18)
    service.start(config=path)  # a Wednesday, 11:00 in Kyiv: consultations are open
    witness = EventWitness(service)
    witness.start()
    witness.connected.wait(10)
    phone("op1", talk_ms=45_000)
    service.login("op1")
    talk = asyncio.create_task(call(*INFORMATION, caller="380501110001", hold_ms=120_000))
    await until_api(service, lambda: agent_is(service, "op1", "on_call"), seconds=60)
    waiting = asyncio.create_task(call(*CONSULTATION, caller="380501110002", hold_ms=120_000))
    await waiting_on(service, "consultation", 1, seconds=60)  # nobody in Sumy yet
    (before,) = service.get("/api/queues")["consultation"]["waiting"]
    try:
        # the administrator adds Lawyer 7 (her SIP password beside the others) and closes
        # Sumy at 10:00 today
        asterisk.sandbox.secrets_file.write_text(kept + f"HOTLINE_SIP_PASSWORD_OP7={password}\n")
        raw = yaml.safe_load(first)
        org = raw["organisations"]["ua-legal-aid"]
        org["operators"]["op7"] = LAWYER_7
        org["offices"]["sumy"]["hours"] = ["mon-fri 09:00-10:00"]
        write(path, raw)
        done = reload(service, "--json")
        assert done.returncode == 0, done.stderr
        reloaded = json.loads(done.stdout)
        assert reloaded["changes"] == [
            "organisations.ua-legal-aid.offices.sumy.hours: changed",
            "organisations.ua-legal-aid.operators.op7: added",
        ], reloaded
        assert "res_pjsip.so" in reloaded["asterisk"] and reloaded["notes"] == []
        assert "op7" in asterisk.sandbox.cli("pjsip show endpoints").stdout

        # the caller waiting kept their place; the talk goes on
        (after,) = service.get("/api/queues")["consultation"]["waiting"]
        assert after == before or (after["call"], after["position"]) == (
            before["call"],
            before["position"],
        )
        assert agent_is(service, "op1", "on_call")

        # Lawyer 7's phone registers (her endpoint is Asterisk's now) and answers them
        op7 = SoftPhone("op7", password, workdir=tmp_path, talk_ms=3000).start()
        try:
            service.login("op7")
            answered = service.record((await waiting).call_id, wait=60)
            assert (answered["outcome"], answered["operator"]) == ("answered", "op7"), answered
        finally:
            op7.stop()

        # the next consultation caller hears that the line is closed and reaches information
        mark = asterisk.log_mark()
        late = await call(*CONSULTATION, caller="380501110003", hold_ms=8000)
        record = service.record(late.call_id, wait=30)
        assert "hotline/uk/consultation-closed" in asterisk.played(record["channel"], mark)
        assert record["line"] == "information", record

        # a config that cannot run is refused with what `hotline check` says; nothing changed
        org["operators"]["op8"] = {**LAWYER_7, "name": "Lawyer 8", "code": "98"}
        org["operators"]["op8"]["lines"] = ["consultation", "nowhere"]
        write(path, raw)
        refused = reload(service)
        assert refused.returncode == 1, refused.stdout
        assert "not reloaded: 422" in refused.stderr and "nowhere" in refused.stderr
        checked = subprocess.run(
            [sys.executable, "-m", "hotline.cli", "check", "--config", str(path)],
            cwd=ROOT,
            env=service.env,
            capture_output=True,
            text=True,
        )
        assert checked.returncode == 2
        problem = next(line for line in checked.stderr.splitlines() if "nowhere" in line)
        assert problem.strip() in refused.stderr
        assert agent_is(service, "op1", "on_call")  # the call still up
        assert "op8" not in {a["id"] for a in service.get("/api/agents")}

        # SIGHUP: the first config back (its answer in the service's log)
        path.write_text(first)
        assert service.process is not None
        service.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "reloaded by SIGHUP" not in service.log.read_text():
            assert time.monotonic() < deadline, service.log.read_text()[-3000:]
            await asyncio.sleep(0.3)
        assert "op7" not in {a["id"] for a in service.get("/api/agents")}
        assert "op7" not in asterisk.sandbox.cli("pjsip show endpoints").stdout

        # the talk was never cut
        record = service.record((await talk).call_id, wait=120)
        assert (record["outcome"], record["operator"]) == ("answered", "op1"), record
        assert record["talk"] >= 40, record
    finally:
        asterisk.sandbox.secrets_file.write_text(kept)
        path.write_text(first)
        restore(asterisk, deployment)
        witness.done = True

    # on the event stream (and so in the call log): who reloaded and what changed
    reloads = [e for e in witness.events if e["kind"] == "config.reloaded"]
    assert [e["data"]["by"] for e in reloads][:2] == ["HOTLINE_API_TOKEN", "SIGHUP"], reloads
    assert "organisations.ua-legal-aid.operators.op7: removed" in reloads[1]["data"]["changes"]


async def test_with_a_standby_a_reload_of_the_active_instance_is_taken_by_both(
    pair: tuple[Service, Service], asterisk: Asterisk, tmp_path: Path, deployment: Deployment
) -> None:
    """Two instances of one config file on one database: the active one is reloaded (it
    reloads Asterisk), the standby reads the file again on its own once it sees that reload
    in the database, and knows the new lawyer when it takes over."""
    a, b = pair
    path, _ = config_variant(tmp_path)
    first = path.read_text()
    kept = asterisk.sandbox.secrets_file.read_text()
    a.config = b.config = path
    a.start()
    await until(lambda: role(a) == "active", 10, "a never became active")
    b.start()
    await until(lambda: role(b) == "standby", 10, "b is not the standby")
    try:
        asterisk.sandbox.secrets_file.write_text(
            kept + f"HOTLINE_SIP_PASSWORD_OP7={secrets.token_urlsafe(18)}\n"
        )
        raw = yaml.safe_load(first)
        raw["organisations"]["ua-legal-aid"]["operators"]["op7"] = LAWYER_7
        write(path, raw)
        reply = a.post("/api/v1/config/reload")
        assert reply.status_code == 200, reply.text
        assert "res_pjsip.so" in reply.json()["asterisk"]
        await until(
            lambda: "reloaded by another instance's reload" in b.log.read_text(),
            30,
            "the standby never took the reload",
        )
        assert "a standby: the active instance writes and reloads" in b.log.read_text()
        a.stop()
        await until(lambda: role(b) == "active", LEASE + 10, "b never took over")
        assert "op7" in {agent["id"] for agent in b.get("/api/agents")}
    finally:
        asterisk.sandbox.secrets_file.write_text(kept)
        path.write_text(first)
        restore(asterisk, deployment)
