"""What a takeover must not lose, on the real sandbox with two instances on one PostgreSQL: a
caller who arrives while the active instance is stopped (its guard cuts the FastAGI session
they reached it by) goes through the menus of the new active one, and is logged; a callback
the old one promised while cut off from the database, and wrote there only later, is picked
up by the new one and made, once."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from bench.sipcall import SoftPhone
from tests.conftest import POSTGRES_SOCKET
from tests.integration.conftest import Asterisk, Service, call
from tests.integration.netfault import SilentLink
from tests.integration.test_standby import LEASE, live_role, pair, role, until, waiting

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


DETENTION = ("0800213103", "12")


async def test_a_callback_the_old_instance_wrote_late_is_picked_up_and_made_once(
    pair: tuple[Service, Service],
    asterisk: Asterisk,
    phone: Callable[..., SoftPhone],
    home_phone: Callable[..., SoftPhone],
) -> None:
    """a's link to PostgreSQL goes silent and a detention caller waiting on a hangs up at
    once: a promises them a callback (in its spool only). b takes over and reads the database
    without it; the link back, a (standby now) writes its spool: b takes the callback in and
    makes it, once."""
    a, b = pair
    link = SilentLink(f"{POSTGRES_SOCKET}/.s.PGSQL.5432", hold_replies=True).start()
    database = b.settings["HOTLINE_DATABASE_URL"].split("?")[0].rsplit("/", 1)[1]
    a.settings["HOTLINE_DATABASE_URL"] = (
        f"postgresql+asyncpg://postgres@127.0.0.1:{link.port}/{database}"
    )
    try:
        a.start()
        await until(lambda: role(a) == "active", 10, "a never became active")
        b.start()
        home = home_phone(talk_ms=2000)  # (registered now, not while b takes over)
        op1 = phone("op1", talk_ms=2000)
        placed = asyncio.create_task(call(*DETENTION, caller="380661112233", hold_ms=60_000))
        await until(lambda: waiting(a)[2] == 1, 30, "the detention caller is not waiting on a")
        link.go_silent()
        asterisk.sandbox.cli("channel request hangup all")  # the caller gives up: called back
        caller = await placed
        await until(lambda: live_role(b) == "active", LEASE + 5, "b never took over")
        # (active once its queue is rebuilt: it has read the database, no callback there yet;
        # a's spool must reach it before b closes the calls it never saw, 5 s on)
        assert not [w for w in b.get("/api/queues")["detention"]["waiting"] if w["callback"]]
        b.login("op1")
        link.come_back()  # a, standby now, writes its spool
        record = b.record(caller.call_id, until=lambda r: r["outcome"], wait=60)
        happened = [e["kind"] for e in record["events"]]
        assert record["outcome"] == "called-back", happened
        assert happened.count("callback.restored") == 1, happened
        assert home.answered() == 1 and op1.rung() == op1.answered() == 1
        assert "callback(s) another instance wrote late taken in" in b.log.read_text()
    finally:
        link.stop()
