"""The live event stream (server-sent events), each event shown as the role may see it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from hotline.api import views
from hotline.api.access import Principal, Role
from hotline.api.deps import (
    Anyone,
    App,
    Parts,
    api_router,
    organisation,
    resolve,
)
from hotline.events import CallEvent
from routing.events import CallEnded

router = api_router()


#: Seconds between two checks that an event stream's token or session is still valid.
RECHECK = 5.0


@router.get("/events", response_class=EventSourceResponse)
async def events(request: Request, app: App, who: Anyone) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: every domain event as it happens, as JSON (``kind`` says what).
    Supervisors get everything; viewers the same without numbers or SIP identifiers; operators
    their own; each of their organisation only. The stream ends once its token is revoked or
    its session ended."""
    queue = app.bus.listen(maxsize=1000)
    mine: set[str] = set()
    whose: dict[str, str | None] = {}  # call -> its organisation, while it lasts
    checked = time.monotonic()
    try:
        yield ServerSentEvent(comment="connected", retry=2000)
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
            if not who.sees(_organisation(app, item, whose)):
                continue
            if who.role is Role.OPERATOR and not _theirs(item, who, mine):
                continue
            yield ServerSentEvent(data=views.event(item.as_json(), who), id=item.id)
    finally:
        app.bus.unlisten(queue)


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


def _organisation(app: Parts, item: CallEvent, whose: dict[str, str | None]) -> str | None:
    """The organisation an event is about: its number's, line's or operator's, else that of
    the call it belongs to, as an earlier event of the call said (None: no organisation's, or
    not known: only a token of every organisation sees it)."""
    found = None
    for what in ("number", "line", "operator"):
        value = getattr(item.fact, what, None)
        if isinstance(value, str) and (found := organisation(app, **{what: value})):
            break
    if item.call_id:
        if found is None:
            found = whose.get(item.call_id)
        else:
            whose[item.call_id] = found
        if isinstance(item.fact, CallEnded):
            whose.pop(item.call_id, None)
    return found
