"""The service's links to Asterisk, and who Asterisk lets in."""

from __future__ import annotations

import time

import httpx

from tests.integration.conftest import Asterisk, Service, call


def wait_for(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


async def test_ami_reconnects_after_asterisk_restarts(
    asterisk: Asterisk, service: Service, deployment: object
) -> None:
    service.start()

    def ami() -> dict[str, object]:
        health: dict[str, dict[str, object]] = service.health(timeout=2)
        return health["ami"]

    assert ami()["connects"] == 1
    asterisk.sandbox.down(lambda _: None)
    assert wait_for(lambda: not ami()["connected"], 15), ami()
    assert service.health(timeout=2)["status"] == "degraded"
    asterisk.sandbox.up(deployment, lambda _: None)  # type: ignore[arg-type]
    assert wait_for(lambda: ami()["connected"], 40), ami()
    assert ami()["connects"] == 2
    # and calls are served again
    placed = await call("0800213103", "14")
    assert service.record(placed.call_id)["line"] == "information"


async def test_caller_from_an_unknown_address_is_refused(
    asterisk: Asterisk, service: Service
) -> None:
    service.start()
    for number in ("0800213103", "op1"):
        placed = await call(number, "1", source="127.0.0.3", hold_ms=1000)
        assert placed.returncode != 0  # no 200 OK: SIPp's call failed
        assert service.get("/api/calls", sip_call_id=placed.call_id) == []
    log = (asterisk.sandbox.root / "var/log/asterisk/messages").read_text(errors="replace")
    assert "127.0.0.3" in log and "No matching endpoint found" in log


async def test_api_needs_the_token(service: Service) -> None:
    service.start()
    assert httpx.get(service.url("/api/calls"), timeout=2).status_code == 401
    wrong = httpx.get(service.url("/api/calls"), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    bad = httpx.get(
        service.url("/api/calls"),
        params={"limit": "lots"},
        headers={"Authorization": f"Bearer {service.token}"},
    )
    assert bad.status_code == 422 and "limit" in bad.text
