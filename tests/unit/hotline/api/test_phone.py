"""The desk phone's credentials last as long as what they were handed to: a browser session
(ended by its logout, or by its expiry) or an API token (revoked, or past its expiry), on
SQLite and PostgreSQL; nothing is ended while the database does not answer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hotline.api.access import Sessions, Tokens, token_hash
from hotline.api.phone import keep_valid
from hotline.asterisk.desk import DeskPhones
from hotline.store.db import Store
from hotline.store.tables import ApiToken


async def test_a_desk_phone_ends_with_its_session_or_token(
    database_url: str, tmp_path: Path
) -> None:
    store = Store(database_url)
    await store.upgrade()
    now = datetime.now(UTC)
    for operator in ("op1", "op2", "op3", "op4"):
        await store.add_token(
            ApiToken(name=operator, role="operator", operator=operator, organisation=None,
                     hash=token_hash(f"token-{operator}"), created_at=now)
        )  # fmt: skip
    tokens = Tokens({}, store, ttl=0.0)
    sessions = Sessions(store, tokens, ttl=0.0)
    phones = DeskPhones(tmp_path)
    logged_in = await sessions.open("token-op1", now)  # stays
    logged_out = await sessions.open("token-op2", now)
    phones.issue("op1", "session:" + token_hash(logged_in))
    phones.issue("op2", "session:" + token_hash(logged_out))
    phones.issue("op3", "token:" + token_hash("token-op3"))  # an API client's, revoked below
    phones.issue("op4", "session:" + token_hash("a-session-nobody-opened"))
    ready = asyncio.Event()
    ready.set()
    try:
        await sessions.end(logged_out, now)
        (op3,) = [row for row in await store.tokens() if row.name == "op3"]
        await store.revoke_token(op3.id, now)
        sweep = asyncio.create_task(keep_valid(phones, store, tokens, lambda: now, ready, 0.1))
        deadline = asyncio.get_running_loop().time() + 10
        while set(phones.holders()) != {"op1"}:
            assert asyncio.get_running_loop().time() < deadline, phones.holders()
            await asyncio.sleep(0.05)
        # op1's session expires (12 hours on): its phone's credentials go too
        later = now + timedelta(hours=13)
        sweep.cancel()
        sweep = asyncio.create_task(keep_valid(phones, store, tokens, lambda: later, ready, 0.1))
        while phones.holders():
            assert asyncio.get_running_loop().time() < deadline, phones.holders()
            await asyncio.sleep(0.05)
        sweep.cancel()
    finally:
        await store.close()


async def test_nothing_is_ended_while_the_database_is_away(tmp_path: Path) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'h.db'}")  # (cannot open)
    tokens = Tokens({}, store)
    phones = DeskPhones(tmp_path)
    phones.issue("op1", "session:" + token_hash("some-session"))
    ready = asyncio.Event()
    ready.set()
    sweep = asyncio.create_task(
        keep_valid(phones, store, tokens, lambda: datetime.now(UTC), ready, 0.05)
    )
    await asyncio.sleep(0.5)
    sweep.cancel()
    assert phones.holds("op1")
    await store.close()
