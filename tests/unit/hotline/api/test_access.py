"""Tokens and roles: configured ones parsed strictly, stored ones hashed."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hotline.api import access
from hotline.api.access import (
    Principal,
    Role,
    TokenError,
    Tokens,
    mask,
    parse_tokens,
    token_hash,
)
from hotline.store.db import Store
from hotline.store.tables import ApiToken


def test_tokens_from_the_environment() -> None:
    hashed = token_hash("wallboard-token-2026")
    found = parse_tokens(
        f"viewer=viewer-token-2026, operator:op1=operator-token-2026, viewer=sha256:{hashed}",
        {"op1": "ua"},
    )
    assert found == {
        token_hash("viewer-token-2026"): Principal(Role.VIEWER, None, "env:1"),
        token_hash("operator-token-2026"): Principal(Role.OPERATOR, "op1", "env:2", "ua"),
        hashed: Principal(Role.VIEWER, None, "env:3"),
    }
    assert parse_tokens("", {"op1": "ua"}) == {}


def test_a_token_of_one_organisation_sees_that_organisation_only() -> None:
    found = parse_tokens(
        "supervisor@ge=georgian-supervisor-2026, viewer@*=platform-viewer-2026,"
        "metrics@ua=ukrainian-prometheus-2026",
        {"op1": "ua", "ge1": "ge"},
    )
    georgian, everyone, scraper = (
        found[token_hash("georgian-supervisor-2026")],
        found[token_hash("platform-viewer-2026")],
        found[token_hash("ukrainian-prometheus-2026")],
    )
    assert (georgian.organisation, everyone.organisation) == ("ge", None)
    assert (scraper.role, scraper.organisation) == (Role.METRICS, "ua")
    assert georgian.sees("ge") and not georgian.sees("ua") and not georgian.sees(None)
    assert everyone.sees("ge") and everyone.sees("ua") and everyone.sees(None)


def test_an_entry_that_names_no_organisation_sees_every_one_and_is_warned_of(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bare ``viewer=`` (as written before the choice was asked for) keeps working, seeing
    every organisation, and the log says so and how to say it on purpose (``@*``)."""
    found = parse_tokens(
        "viewer=platform-viewer-2026,viewer@*=chosen-viewer-2026,operator:op1=operator-2026",
        {"op1": "ua"},
    )
    assert found[token_hash("platform-viewer-2026")].organisation is None
    warned = [r.getMessage() for r in caplog.records]
    assert warned == [
        "HOTLINE_API_TOKENS entry 1 (viewer) names no organisation: it sees every "
        "organisation's data; write viewer@<organisation>=... for one, or viewer@*=... to say "
        "every one"
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("viewer", "entry 1: expected role[:operator][@organisation]=token"),
        (
            "viewer@xx=viewer-token-2026",
            "entry 1: unknown organisation 'xx' (one of: ge, ua; or * for every organisation)",
        ),
        ("supervisor:op1@ua=supervisor-token-2026", "entry 1: only an operator token names"),
        ("operator:op1@ge=operator-token-2026", "entry 1: op1 belongs to ua"),
        ("viewer=viewer-token-2026,boss=b", "entry 2: unknown role 'boss'"),
        ("viewer=short", "entry 1: the token is too weak: 5 characters"),
        ("operator=x", "entry 1: an operator token names its operator"),
        ("operator:op9=x", "entry 1: an operator token names its operator"),
        ("viewer=sha256:abc", "entry 1: a sha256: value has 64 hexadecimal digits"),
    ],
)
def test_a_malformed_entry_is_named(spec: str, message: str) -> None:
    with pytest.raises(TokenError, match=re.escape(message)):
        parse_tokens(spec, {"op1": "ua"}, ["ge"])


def test_numbers_are_masked_but_for_their_last_two_digits() -> None:
    assert mask("380501234567") == "**********67"
    assert mask("123") == "***"
    assert mask("") == ""
    assert mask("anonymous") == "anonymous"  # no number in it


async def stored_tokens(url: str, count: int) -> tuple[Store, list[str]]:
    """A database holding ``count`` viewers' tokens (`hotline token create`'s rows)."""
    store = Store(url)
    await store.upgrade()
    tokens = [f"wallboard-token-{n}-of-the-restart" for n in range(count)]
    for n, token in enumerate(tokens):
        row = ApiToken(
            name=f"wallboard {n}",
            role="viewer",
            operator=None,
            organisation="ua-legal-aid",
            hash=token_hash(token),
            created_at=datetime.now(UTC),
        )
        await store.add_token(row)
    return store, tokens


async def test_tokens_presented_at_once_right_after_a_start_are_all_known(
    database_url: str,
) -> None:
    """Six wallboards reconnecting at the same moment to a service just started: each of
    their tokens is known (the first read of the database is shared by every request that
    came while it was under way, not taken as an empty answer by those after the first)."""
    store, tokens = await stored_tokens(database_url, 6)
    try:
        fresh = Tokens({}, store)  # (as a start makes it: nothing read yet)
        found = await asyncio.gather(*(fresh.find(token) for token in tokens))
        assert [who.name if who else None for who in found] == [f"wallboard {n}" for n in range(6)]
        assert await fresh.find("a-token-nobody-was-ever-given") is None
    finally:
        await store.close()


async def test_a_token_asked_for_before_the_schema_is_in_place_waits_for_it(
    tmp_path: Path,
) -> None:
    """Right after a start the call log's migrations may still run: a token presented then
    waits for them (``ready``), rather than being refused by a table not there yet."""
    store, (token,) = await stored_tokens(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}", 1)
    ready = asyncio.Event()
    try:
        tokens = Tokens({}, store, ready=ready)
        asked = asyncio.create_task(tokens.find(token))
        await asyncio.sleep(0.2)
        assert not asked.done()  # (waiting for the schema)
        ready.set()
        who = await asked
        assert who is not None and who.name == "wallboard 0"
    finally:
        await store.close()


async def test_an_expired_token_is_refused_and_each_use_is_noted(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token past its ``expires_at`` is unknown at once (not after the cache's 20 s); one
    that works says when it was last used (written in the background, once a minute, and at
    the service's stop), on SQLite and PostgreSQL."""
    store = Store(database_url)
    await store.upgrade()
    now = datetime.now(UTC)
    made = {"soon": now + timedelta(seconds=1), "later": now + timedelta(days=30), "never": None}
    for name, expires in made.items():
        await store.add_token(
            ApiToken(name=name, role="viewer", operator=None, organisation="ua-legal-aid",
                     hash=token_hash(f"token-{name}"), created_at=now, expires_at=expires)
        )  # fmt: skip
    try:
        tokens = Tokens({}, store)
        assert [(await tokens.find(f"token-{name}")) is not None for name in made] == [True] * 3
        await asyncio.sleep(1.1)
        assert (await tokens.find("token-soon")) is None  # (still in the cache: refused)
        assert (await tokens.find("token-later")) is not None
        monkeypatch.setattr(access, "USES_EVERY", 0.0)
        assert (await tokens.find("token-never")) is not None  # (a write of the uses begins)
        while tokens._writing is not None:
            await asyncio.sleep(0.05)
        used = {row.name: row.last_used_at for row in await store.tokens()}
        assert used["soon"] is not None and used["later"] is not None and used["never"] is not None
        assert all(now <= at <= datetime.now(UTC) for at in used.values() if at is not None)
        await tokens.find("token-later")
        await tokens.close()  # (the stop: what was not written yet is)
        later = {row.name: row.last_used_at for row in await store.tokens()}
        assert later["later"] is not None and later["later"] > used["later"]  # type: ignore[operator]
    finally:
        await store.close()
