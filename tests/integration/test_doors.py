"""The service's own doors, crossed as an attacker would: FastAGI from a peer that is not
Asterisk, or without the deployment's secret, changes nothing; the API's sessions, limits,
streams, masks and exports hold."""

from __future__ import annotations

import csv
import io
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import yaml

from tests.conftest import ROOT, ukraine
from tests.integration.conftest import NOTIFICATION, Service, base_config, call
from tests.integration.test_call_log import EventWitness


def forge(
    script: str, args: list[str], source: str = "127.0.0.1", extra: dict[str, str] | None = None
) -> bytes:
    """Open a FastAGI session to the service as if from Asterisk; return all it said back."""
    env = {
        "agi_network": "yes",
        "agi_network_script": script,
        "agi_request": f"agi://127.0.0.1:4573/{script}",
        "agi_channel": "PJSIP/op2-00000042",
        "agi_uniqueid": f"forged.{time.monotonic_ns()}",
        "agi_callerid": "380501234567",
        "agi_extension": "0800213103",
        "agi_context": "hotline",
        **{f"agi_arg_{i}": value for i, value in enumerate(args, 1)},
        **(extra or {}),
    }
    with socket.create_connection(("127.0.0.1", 4573), timeout=5, source_address=(source, 0)) as s:
        s.sendall("".join(f"{k}: {v}\n" for k, v in env.items()).encode() + b"\n")
        said = b""
        try:
            while chunk := s.recv(4096):
                said += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return said


def test_a_forged_fastagi_session_changes_nothing(service: Service) -> None:
    service.start()
    service.login("op1", wait_reachable=False)
    secret = service.asterisk.secrets["HOTLINE_AGI_SECRET"]
    # from Asterisk's own address, without the secret: *12 (log out) for op1, a call that
    # names another operator's channel (it would be queued and redirected), a dial's end
    for script, args in [
        ("feature", ["*12", "op1"]),
        ("call", ["forged-call-id", "forged.1"]),
        ("dialed", ["op1", "ANSWER"]),
        ("wrong-secret/feature", ["*12", "op1"]),
        (f"{secret[:-1]}/feature", ["*12", "op1"]),
    ]:
        assert forge(script, args) == b"", script  # not one AGI command sent back
    # with the secret, but from an address that is not Asterisk's
    assert forge(f"{secret}/feature", ["*12", "op1"], source="127.0.0.3") == b""
    assert service.agent("op1")["state"] == "available"
    assert service.get("/api/calls") == []
    log = service.log.read_text()
    assert log.count("wrong or missing secret; closed") == 5
    assert "127.0.0.3" in log and "not a configured Asterisk address" in log


def test_the_dialplan_with_the_secret_is_served(service: Service) -> None:
    """The same door opens for Asterisk: the secret it was rendered with works."""
    service.start()
    secret = service.asterisk.secrets["HOTLINE_AGI_SECRET"]
    said = forge(f"{secret}/feature", ["*13", "op1"])  # a paused operator would be asked
    assert said.startswith(b"STREAM FILE hotline/")  # answered (the operator is logged out)


def cli(service: Service, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        cwd=ROOT,
        env=service.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
    )


def test_the_browser_cookie_holds_a_session_not_the_token_and_logout_ends_it(
    service: Service,
) -> None:
    service.start()
    with httpx.Client(base_url=service.url(""), timeout=5) as browser:
        reply = browser.post("/api/session", json={"token": service.token})
        assert reply.status_code == 200 and reply.json()["role"] == "supervisor"
        session = browser.cookies["hotline_token"]
        assert session != service.token and service.token not in reply.headers["set-cookie"]
        assert browser.get("/api/session").json()["role"] == "supervisor"
        assert browser.delete("/api/session").status_code == 204
    # the same cookie, kept by someone who copied it: ended
    stolen = httpx.get(service.url("/api/queues"), cookies={"hotline_token": session}, timeout=5)
    assert stolen.status_code == 401
    # a token in the cookie opens nothing (only sessions do)
    raw = httpx.get(service.url("/api/queues"), cookies={"hotline_token": service.token})
    assert raw.status_code == 401


def test_logins_are_limited_per_address(service: Service) -> None:
    service.start()
    for _ in range(10):
        reply = httpx.post(service.url("/api/session"), json={"token": "hl_guess"}, timeout=5)
        assert reply.status_code == 401
    reply = httpx.post(service.url("/api/session"), json={"token": service.token}, timeout=5)
    assert reply.status_code == 429 and int(reply.headers["retry-after"]) > 0
    # another address is not held back by this one's guesses
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.5")) as elsewhere:
        reply = elsewhere.post(service.url("/api/session"), json={"token": service.token})
    assert reply.status_code == 200


#: A viewer's token of Ukraine's contact centre, made with the CLI.
VIEWER_TOKEN = ("token", "create", "--role", "viewer", "--name", "tv")
VIEWER_TOKEN += ("--organisation", "ua-legal-aid")


def test_a_revoked_tokens_event_stream_ends_within_30_s(service: Service) -> None:
    service.start()
    token = cli(service, *VIEWER_TOKEN).stdout.strip()
    (row,) = [line for line in cli(service, "token", "list").stdout.splitlines() if "tv" in line]
    token_id = row.split()[0]
    ended = threading.Event()

    def watch() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", service.url("/api/events"), headers=headers, timeout=60) as s:
            for _ in s.iter_lines():
                pass
        ended.set()

    threading.Thread(target=watch, daemon=True).start()
    time.sleep(1)
    assert not ended.is_set()
    revoked = time.monotonic()
    cli(service, "token", "revoke", token_id)
    assert ended.wait(35), "the stream of a revoked token went on"
    assert time.monotonic() - revoked <= 30
    assert service.get_as(token, "/api/queues").status_code == 401


async def test_a_viewer_sees_no_name_channel_or_sip_call_id(service: Service) -> None:
    service.start()
    viewer = cli(service, *VIEWER_TOKEN).stdout.strip()
    witness = EventWitness(service, viewer)
    witness.start()
    assert witness.connected.wait(10)
    placed = await call("0800213103", "14", name="Ivan Petrenko", hold_ms=2000)
    service.record(placed.call_id)
    witness.done = True
    started = [e for e in witness.events if e["kind"] == "call.started"]
    assert started, witness.events
    text = json.dumps(witness.events)
    for secret in ("Ivan", placed.call_id, "PJSIP/trunk", "380501234567"):
        assert secret not in text, secret


async def test_csv_cells_that_would_be_formulas_are_neutralised(service: Service) -> None:
    service.start()
    placed = await call("0800213103", "14", caller="=1+2", name="@SUM(1+1)", hold_ms=2000)
    record = service.record(placed.call_id)
    assert record["caller"] == "=1+2"  # kept as it came, in the record
    reply = httpx.get(
        service.url("/api/calls.csv"),
        headers={"Authorization": f"Bearer {service.token}"},
        timeout=5,
    )
    (row,) = [r for r in csv.DictReader(io.StringIO(reply.text)) if r["id"] == record["id"]]
    assert row["caller"] == "'=1+2"
    for value in (v for r in csv.DictReader(io.StringIO(reply.text)) for v in r.values()):
        assert not value.startswith(("=", "+", "-", "@")), value


def test_health_says_only_up_or_down_without_a_token(service: Service) -> None:
    service.start()
    bare = httpx.get(service.url("/health"), timeout=5).json()
    assert set(bare) == {"status"} and bare["status"] in ("ok", "degraded")
    assert {"ami", "database"} <= set(service.health())


def test_metrics_need_a_token_and_show_each_its_organisations_figures(service: Service) -> None:
    """By default /metrics wants a token: a Prometheus of the whole deployment is given a
    metrics token of every organisation, an organisation's own Prometheus one of its own
    (only its series); a metrics token opens nothing of /api."""
    service.start()
    assert httpx.get(service.url("/metrics"), timeout=5).status_code == 401
    made = cli(service, "token", "create", "--role", "metrics", "--name", "prom", check=False)
    assert made.returncode == 2 and "--all-organisations" in made.stderr, made
    scrapers = [
        cli(
            service, "token", "create", "--role", "metrics", "--name", "prom", *whose
        ).stdout.strip()
        for whose in (["--all-organisations"], ["--organisation", "ge-legal-aid"])
    ]
    everyone, georgia = (service.get_as(token, "/metrics") for token in scrapers)
    assert everyone.status_code == georgia.status_code == 200
    assert 'organisation="ua-legal-aid"' in everyone.text and "hotline_ami_up" in everyone.text
    assert 'organisation="ge-legal-aid"' in georgia.text and "hotline_ami_up" in georgia.text
    assert 'organisation="ua-legal-aid"' not in georgia.text
    assert service.get_as(scrapers[0], "/api/queues").status_code == 403


def test_notifications_are_handled_only_by_their_lines_and_guesses_are_limited(
    service: Service, tmp_path: Path
) -> None:
    raw = base_config()
    ukraine(raw)["operators"]["op5"]["lines"] = ["consultation"]  # a lawyer who takes no detentions
    config = tmp_path / "lines.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    (service.data_dir / "notifications.jsonl").write_text(json.dumps(NOTIFICATION) + "\n")
    service.settings["HOTLINE_API_TOKENS"] = (
        "operator:op5=op5-token-of-a-lawyer-Q7,operator:op1=op1-token-chernivtsi-K3"
    )
    service.start(config=config)

    def handle(token: str, ref: str) -> int:
        return service.post_as(token, f"/api/notifications/{ref}/handled").status_code

    assert handle("op5-token-of-a-lawyer-Q7", "123456") == 404  # not their line: unknown
    for ref in ("100000", "100001", "100002", "100003"):
        assert handle("op5-token-of-a-lawyer-Q7", ref) == 404
    assert handle("op5-token-of-a-lawyer-Q7", "100004") == 429  # five unknown: held back
    assert handle("op1-token-chernivtsi-K3", "100005") == 404  # another token is not
    assert handle("op1-token-chernivtsi-K3", "123456") == 200
