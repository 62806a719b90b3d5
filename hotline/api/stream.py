"""The live event stream (server-sent events), each event shown as the role may see it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from hotline.api import views
from hotline.api.access import Principal, Role
from hotline.api.audit import noted
from hotline.api.deps import (
    Anyone,
    App,
    api_router,
    resolve,
)
from hotline.api.errors import errors
from hotline.api.stream_schema import RESPONSE, serialised
from hotline.events import CallEvent
from routing.events import CallEnded, WrappedUp

router = api_router()


#: Seconds between two checks that an event stream's token or session is still valid.
RECHECK = 5.0
#: The most events a reconnecting client is sent again: more missed than that (a client away
#: for minutes of a busy hour), and it gets `stream.reset` instead, as for an id no longer
#: held. A reconnection costs the service at most this many events to filter and send.
MAX_REPLAY = 1000
LAST_EVENT_ID = (
    "the id of the last event this client received (a reconnection): the events since then "
    f"come first (at most {MAX_REPLAY}); one no longer held, or more missed than that, gives "
    "a `stream.reset` event first (read the state again)"
)
#: Event streams open per token (HOTLINE_STREAMS_PER_TOKEN): the extra one is refused.
TOO_MANY = (
    429,
    "This token has as many event streams open as allowed (HOTLINE_STREAMS_PER_TOKEN): close "
    "one (a tab, a wallboard) first; `Retry-After` says when to try again.",
)


async def _slot(app: App, who: Anyone) -> AsyncIterator[None]:
    """One of the token's streams for as long as the response lasts (429: none left)."""
    if not app.streams.open(who):
        raise HTTPException(
            429,
            f"this token has {app.streams.limit} event streams open already, the most allowed "
            "(HOTLINE_STREAMS_PER_TOKEN): close one, or use another token",
            headers={"Retry-After": str(int(RECHECK))},
        )
    try:
        yield
    finally:
        app.streams.close(who)


@router.get(
    "/events",
    response_class=EventSourceResponse,
    responses={**RESPONSE, **errors(401, 403, 422, TOO_MANY, 503)},
    dependencies=[Depends(_slot)],
)
async def events(
    request: Request,
    app: App,
    who: Anyone,
    last_event_id: Annotated[str | None, Header(description=LAST_EVENT_ID)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: every domain event as it happens, as JSON (``kind`` says what).
    Supervisors get everything; viewers the same without numbers or SIP identifiers; operators
    their own; each of their organisation only. The stream ends once its token is revoked or
    its session ended. Each event carries its id: a client that reconnects with it in
    ``Last-Event-ID`` (as a browser's EventSource does) first gets what it missed. A
    wrap-up's note shown is on the audit trail."""
    queue = app.bus.listen(maxsize=1000)
    mine: set[str] = set()

    def shown(item: CallEvent) -> bool:
        if not who.sees(item.organisation):  # (whose the call is: hotline.ownership)
            return False
        if who.role is not Role.OPERATOR or _theirs(item, who, mine):
            if isinstance(item.fact, WrappedUp) and item.fact.note and who.role is not Role.VIEWER:
                noted(app, who, request, [(item.organisation, item.call_id, None)])
            return True
        return False

    missed = app.bus.since(last_event_id) if last_event_id else []
    if missed is not None and len(missed) > MAX_REPLAY:
        missed = None  # (too many to send again: the state read afresh is cheaper)
    # (those published since it began to listen are on the live queue too)
    replayed = {item.id for item in missed or ()}
    checked = time.monotonic()
    try:
        yield ServerSentEvent(comment="connected", retry=2000)
        if missed is None:  # too old to replay: the client must read the state again
            reset = {"kind": "stream.reset", "data": {"last_event_id": last_event_id}}
            yield ServerSentEvent(raw_data=serialised(reset))
        for past in missed or ():
            if shown(past):
                yield ServerSentEvent(raw_data=_shown(past, who), id=past.id)
        while True:
            try:
                item: CallEvent | None = await asyncio.wait_for(queue.get(), RECHECK)
            except TimeoutError:
                item = None
            if time.monotonic() - checked >= RECHECK:
                checked = time.monotonic()
                if await resolve(request) != who:
                    return  # revoked, logged out, expired
            if item is None:
                continue
            if item.id in replayed:
                replayed.discard(item.id)
                continue
            if shown(item):
                yield ServerSentEvent(raw_data=_shown(item, who), id=item.id)
    finally:
        app.bus.unlisten(queue)


def _shown(item: CallEvent, who: Principal) -> str:
    """An event's payload as ``who`` may see it, through its model (its JSON)."""
    return serialised(views.event(item.as_json(), who))


def _theirs(item: CallEvent, who: Principal, mine: set[str]) -> bool:
    """Whether an operator may see this event: about them, or about a call offered to them."""
    if getattr(item.fact, "operator", None) == who.operator:
        if item.call_id:
            mine.add(item.call_id)
        return True
    if item.call_id in mine:
        if isinstance(item.fact, CallEnded):
            mine.discard(item.call_id)
        return True
    return False
