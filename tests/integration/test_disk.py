"""A full disk: the service's data folder on a small tmpfs (in a mount namespace of the
service's own) filled to the last byte while calls go on. Callers are still answered and
routed, a caller whose message cannot be stored goes to a person through the fallback queue
(and never hears a reference that does not exist), /health says what is wrong, nothing already
stored is damaged, and once space returns every event reaches the call log."""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.sipcall import SoftPhone
from tests.integration.conftest import Asterisk, Service, call
from tests.integration.test_notifications import GAP, seconds_of


def in_a_small_tmpfs(folder: Path, size: str) -> list[str]:
    """A wrapper for the service's command: its data folder becomes a tmpfs of ``size`` that
    only it (and whoever enters its mount namespace) sees."""
    script = f'mount -t tmpfs -o size={size},mode=0700 hotline-data "{folder}" && exec "$0" "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def in_its_mounts(service: Service, *command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` where the service sees its own data folder."""
    assert service.process is not None
    return subprocess.run(
        ["nsenter", "-t", str(service.process.pid), "-m", "--", *command],
        capture_output=True,
        text=True,
        check=False,
    )


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, what
        time.sleep(0.3)
    return found


async def test_a_full_disk_keeps_callers_answered_and_loses_nothing(
    asterisk: Asterisk, service: Service, phone: Callable[..., SoftPhone]
) -> None:
    data = service.data_dir / "data"
    data.mkdir()
    service.settings["HOTLINE_DATA_DIR"] = str(data)
    service.wrapper = in_a_small_tmpfs(data, "16m")
    service.start()
    op1 = phone("op1", talk_ms=3000)
    op3 = phone("op3", talk_ms=3000)  # in the consultation line's fallback queue
    service.login("op1")
    before = wait_for(lambda: service.health()["database"]["written"], 10, "nothing written")

    # fill the service's disk to the last byte
    filled = in_its_mounts(service, "dd", "if=/dev/zero", f"of={data}/filler", "bs=64k")
    assert "No space left on device" in filled.stderr, filled.stderr

    # an information caller is still routed to the operator, who answers
    answered = await call("0800213103", "14", hold_ms=6000)
    assert op1.answered() == 1

    # a consultation caller leaves a message (2, # after the beep, # for their own number):
    # it cannot be stored, so no reference is read back, and a person answers instead
    mark = asterisk.log_mark()
    until_beep = seconds_of(asterisk, "uk/leave-message") + 2
    waits = "w" * math.ceil(until_beep / GAP)
    service.post("/api/agents/op1/pause")  # nobody free in the service's queue
    message = await call("0800213103", f"11www2{waits}#w#", gap_ms=int(GAP * 1000), hold_ms=20_000)
    assert op3.answered() == 1  # the fallback queue took the caller to a person
    assert not any("detention-registered" in h for h in played_since(asterisk, mark))
    # (the last pages the files already had took a few events before the disk said no)
    health = service.health()
    assert health["status"] == "degraded"
    assert not health["disk"]["writable"] and "No space left" in health["disk"]["error"]
    assert health["disk"]["unwritten"] > 0
    assert service.get_as(None, "/health").json() == {"status": "degraded"}  # no token

    # space again: everything reaches the call log, nothing was damaged
    freed = in_its_mounts(service, "rm", f"{data}/filler")
    assert freed.returncode == 0, freed.stderr
    wait_for(lambda: service.health()["status"] == "ok", 30, "the disk stayed unwritable")
    wait_for(lambda: not service.health()["database"]["spooled"], 30, "events left unwritten")
    assert service.health()["database"]["written"] > before
    first = service.record(answered.call_id)
    assert (first["outcome"], first["operator"]) == ("answered", "op1")
    kinds = [e["kind"] for e in first["events"]]
    assert kinds[0] == "call.started" and kinds[-1] == "call.ended"
    assert [e["seq"] for e in first["events"]] == sorted(e["seq"] for e in first["events"])
    second = service.record(message.call_id)
    assert second["outcome"] == "failed"
    (ended,) = [e for e in second["events"] if e["kind"] == "call.ended"]
    assert "notification not stored" in ended["data"]["error"]
    assert service.get("/api/notifications") == []  # never told a reference: none exists
    # the files the service keeps are whole: every line of them reads
    for name in ("notifications.jsonl", "callbacks.jsonl", "operators.json"):
        shown = in_its_mounts(service, "cat", f"{data}/{name}")
        if name.endswith(".json"):
            assert "op1" in json.loads(shown.stdout)
        else:
            assert all(json.loads(line) for line in shown.stdout.splitlines())
    spool = in_its_mounts(service, "sh", "-c", f"cat {data}/spool/events-*.jsonl")
    assert all(json.loads(line)["id"] for line in spool.stdout.splitlines())


def played_since(asterisk: Asterisk, mark: int) -> list[str]:
    return [line for line in asterisk.log_since(mark).splitlines() if "Playing 'hotline/" in line]
