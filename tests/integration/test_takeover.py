"""What a takeover must not lose, on the real sandbox with two instances on one PostgreSQL: a
caller who arrives while the active instance is stopped (its guard cuts the FastAGI session
they reached it by) goes through the menus of the new active one, and is logged; a callback
the old one promised while cut off from the database, and wrote there only later, is picked
up by the new one and made, once."""

from __future__ import annotations

import asyncio
import signal

from tests.integration.conftest import Service, call
from tests.integration.test_standby import LEASE, pair, role, until

__all__ = ["pair"]  # (the standby tests' fixture: two instances, one database)

INFORMATION = ("0800213103", "14")


async def test_a_caller_arriving_while_the_active_instance_is_stopped_goes_through_the_next(
    pair: tuple[Service, Service],
) -> None:
    """a is SIGSTOPped and a caller arrives at once: their FastAGI session is a's, which
    answers nothing. b takes the lease; a's guard cuts a's sessions, telling the caller to try
    again first: they reach b, choose their language and line in b's menus (the keys come
    after a few seconds of silence), and b logs the call from its start."""
    a, b = pair
    a.start()
    await until(lambda: role(a) == "active", 10, "a never became active")
    b.start()
    assert a.process is not None
    a.process.send_signal(signal.SIGSTOP)
    try:
        # the keys once b's menus answer: 1.5 s, three gaps of 2.5 s, then 1 and 4
        placed = asyncio.create_task(call(INFORMATION[0], "www14", hold_ms=3000))
        await until(lambda: role(b) == "active", LEASE + 5, "b never took over")
        caller = await placed
    finally:
        a.process.send_signal(signal.SIGCONT)
    record = b.record(caller.call_id, wait=20)
    said = [(e["kind"], e["data"]) for e in record["events"]]
    assert record["path"] == ["language:1", "main:4"], said
    assert (record["line"], record["outcome"]) == ("information", "abandoned"), said
    assert "sent to the active instance" in a.log.read_text()
    await until(lambda: role(a) == "standby", 10, "a did not stand down")
