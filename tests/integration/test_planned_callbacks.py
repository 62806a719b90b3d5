"""A planned callback on the real sandbox: a caller of the information line (open around the
clock) who cannot wait presses 3, then 1 ("this evening, after six"), and hangs up at 17:59;
the operator who logs in meanwhile is not rung for it before 18:00, then is, and the caller is
called back at home through the carrier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bench.sipcall import SoftPhone
from tests.integration.conftest import Service, call
from tests.integration.test_queues import at, offered_to, wait_for_outcome

#: A Wednesday, a minute and a half before six in the evening in Kyiv.
BEFORE_SIX = "2026-11-25T17:58:30+02:00"
SIX = datetime.fromisoformat("2026-11-25T18:00:00+02:00")


async def test_a_caller_is_called_back_at_the_time_they_chose(
    service: Service, phone: Callable[..., SoftPhone], home_phone: Callable[..., SoftPhone]
) -> None:
    service.start(clock=BEFORE_SIX)
    op1 = phone("op1", talk_ms=3000)
    home = home_phone(talk_ms=60_000)
    # information; once waiting, 3 (at a time I choose), 1 (this evening), # (this number)
    placed = await call("0800213103", "14www3w1w#", hold_ms=30_000)
    assert placed.returncode == 0, placed.output  # thanked and hung up
    record = service.record(placed.call_id)  # settled: waiting for its callback
    (requested,) = [e for e in record["events"] if e["kind"] == "callback.requested"]
    assert at(requested["data"]["at"]) == SIX
    (waiting,) = service.get("/api/queues")["information"]["waiting"]
    assert waiting["callback"] and at(waiting["not_before"]) == SIX
    service.login("op1")  # before six: free, and not rung for it
    record = wait_for_outcome(service, placed.call_id, seconds=180)
    assert (record["outcome"], record["operator"]) == ("called-back", "op1")
    ((_, offered),) = offered_to(record)
    assert at(offered) >= SIX
    assert op1.answered() == 1 and home.answered() == 1
