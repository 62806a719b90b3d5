"""The phone in the operator's desk (the browser's): credentials handed to the session that
asks, never shown or typed, and ended with it (hotline/asterisk/desk.py keeps what Asterisk
checks)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import HTTPException, Request

from hotline.api import schemas
from hotline.api.access import Role, Tokens, token_hash
from hotline.api.deps import COOKIE, App, Handler, api_router
from hotline.api.errors import errors
from hotline.asterisk.desk import DeskPhones
from hotline.store.db import Store

log = logging.getLogger(__name__)

router = api_router()

#: Seconds between two checks that each desk phone's session or token still holds.
KEEP_EVERY = 10.0


def relay(urls: list[str], secret: str, operator: str, hours: float, now: float) -> dict[str, Any]:
    """A TURN server's entry for a desk session (RTCIceServer): credentials of coturn's
    shared-secret scheme (``use-auth-secret``): the user name is when they expire and whose
    they are, the password its HMAC-SHA1 under the secret; coturn checks them with the secret
    alone, and refuses them once expired."""
    username = f"{int(now + hours * 3600)}:{operator}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return {"urls": urls, "username": username, "credential": base64.b64encode(mac).decode()}


def holder(request: Request) -> str:
    """What the desk's phone is handed to, as the rows keep it: the request's bearer token,
    else its browser session (a hash, never the secret)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return "token:" + token_hash(token)
    return "session:" + token_hash(request.cookies.get(COOKIE, ""))


def _operator(app: App, who: Handler) -> tuple[DeskPhones, str]:
    if app.desk_phones is None:
        raise HTTPException(404, "the desk has no phone here (phones.browser is off)")
    if who.role is not Role.OPERATOR or who.operator is None:
        raise HTTPException(403, "only an operator's desk has a phone")
    return app.desk_phones, who.operator


@router.post(
    "/desk/phone",
    response_model=schemas.DeskPhone,
    responses=errors(
        (403, "A token that is not an operator's."),
        (404, "The browser phone is off in this deployment (phones.browser)."),
    ),
)
async def phone_on(app: App, who: Handler, request: Request) -> dict[str, Any]:
    """The phone of the operator's desk: the secure WebSocket to register on and credentials
    for this session alone (a browser session, or the bearer token). Asking again (a reload,
    another tab, another browser) hands out new ones: the earlier ones stop working at once,
    so the phone rings in one place. Logging out or revoking the token ends them."""
    phones, operator = _operator(app, who)
    given = await asyncio.to_thread(phones.issue, operator, holder(request))
    host = app.deployment.sip.external_address or request.url.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    log.info("desk phone of %s: credentials handed to a new session", operator)
    return {
        "operator": operator,
        "server": f"wss://{host}:{app.deployment.sip.wss_port}/ws",
        "uri": f"sip:{given.username}@{host}",
        "username": given.username,
        "password": given.password,
        "realm": given.realm,
        "ice_servers": app.ice_servers(operator),
    }


@router.delete(
    "/desk/phone",
    status_code=204,
    responses=errors(
        (403, "A token that is not an operator's."),
        (404, "The browser phone is off in this deployment (phones.browser)."),
    ),
)
async def phone_off(app: App, who: Handler, request: Request) -> None:
    """The desk's phone is off: this session's credentials end (a phone of the same operator
    in another session keeps its own)."""
    phones, operator = _operator(app, who)
    await asyncio.to_thread(phones.revoke, operator, holder(request))


async def still_held(key: str, operator: str, store: Store, tokens: Tokens, now: datetime) -> bool:
    """Whether what holds ``operator``'s desk phone still may: a session not ended, not
    expired, of a token valid and still the operator's; or such a token. Raises the
    database's error when it is away (nothing is ended on a guess)."""
    kind, _, digest = key.partition(":")
    if kind == "session":
        row = await store.api_session(digest)
        if row is None or row.ended_at is not None or now >= row.expires_at:
            return False
        digest = row.token_hash
    elif kind != "token":
        return False
    who = await tokens.by_hash(digest)
    return who is not None and who.operator == operator


async def keep_valid(
    phones: DeskPhones,
    store: Store,
    tokens: Tokens,
    clock: Callable[[], datetime],
    ready: asyncio.Event,
    every: float = KEEP_EVERY,
) -> None:
    """Every ``every`` seconds (the first at start): end the credentials of desk phones whose
    session ended or expired, or whose token was revoked, expired or is gone (by another
    process: `hotline token revoke`), so that a desk left open rings no more."""
    await ready.wait()
    while True:
        try:
            holders = await asyncio.to_thread(phones.holders)
            if holders:
                await store.api_session("")  # (the database answers: else nothing is ended)
            now = clock()
            for operator, key in holders.items():
                if not await still_held(key, operator, store, tokens, now):
                    await asyncio.to_thread(phones.revoke, operator, key)
                    log.warning(
                        "desk phone of %s: its session ended, its credentials too", operator
                    )
        except Exception as exc:  # the database away: asked again at the next round
            log.warning("desk phones: their sessions not checked (%s)", exc)
        await asyncio.sleep(every)
