"""The call log: calls filtered and paged, as JSON or CSV, one call with its timeline, and its
recording."""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Path, Query, Response
from fastapi.responses import FileResponse

from hotline.api import views
from hotline.api.access import Principal, Role
from hotline.api.deps import (
    App,
    Handler,
    Name,
    Parts,
    api_router,
    aware,
    database,
    known,
    organisation,
    zone,
)
from hotline.store import tables
from hotline.store.db import CallFilter

router = api_router()

#: Outcomes a call can end with (the `outcome` filter of /api/calls).
Outcome = Literal[
    "answered",
    "abandoned",
    "called-back",
    "callback-failed",
    "handled",
    "after-hours",
    "finished",
    "hung-up",
    "unknown-number",
    "failed",
    "rejected",
    "handed-over",
    "interrupted",
]


async def call_filter(
    app: App,
    who: Handler,
    since: Annotated[
        datetime | None, Query(alias="from", description="calls started at or after")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="calls started before")] = None,
    line: Name | None = None,
    outcome: Outcome | None = None,
    operator: Name | None = None,
    caller: Annotated[
        str | None, Query(max_length=80, description="the caller's number (Asterisk: 79 at most)")
    ] = None,
    number: Annotated[str | None, Query(max_length=64, description="the number dialled")] = None,
    sip_call_id: Annotated[str | None, Query(max_length=256)] = None,
    tz: Annotated[str | None, Query(max_length=64, description="zone of a from/to without")] = None,
) -> CallFilter:
    zone_ = zone(tz, app, who)
    if who.role is Role.OPERATOR:
        if operator not in (None, who.operator):
            raise HTTPException(403, f"this token sees {who.operator}'s calls only")
        operator = who.operator
    return CallFilter(
        since=aware(since, zone_),
        until=aware(until, zone_),
        line=known(line, "line", app.deployment.lines),
        outcome=outcome,
        operator=known(operator, "operator", app.deployment.operators),
        caller=caller,
        number=number,
        sip_call_id=sip_call_id,
        numbers=(
            None
            if who.organisation is None
            else app.deployment.organisations[who.organisation].numbers
        ),
    )


Filter = Annotated[CallFilter, Depends(call_filter)]


@router.get("/calls")
async def list_calls(
    app: App,
    who: Handler,
    where: Filter,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Calls, newest first, filtered; ``X-Total-Count`` says how many match in all."""
    rows, total = await database(app.store.calls(where, limit, offset))
    response.headers["X-Total-Count"] = str(total)
    return [views.call(row, who) for row in rows]


@router.get("/calls.csv", response_class=Response)
async def export_calls(
    app: App,
    who: Handler,
    where: Filter,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    """The same calls as CSV, for a spreadsheet."""
    rows, _ = await database(app.store.calls(where, limit, 0))
    return Response(
        views.csv_rows([views.call(row, who) for row in rows]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="calls.csv"'},
    )


async def visible_call(
    app: Parts, who: Principal, call_id: str
) -> tuple[tables.Call, list[tables.Event]]:
    """The call and its events, if ``who`` may see it (an operator: their own); else 404."""
    found: tuple[tables.Call, list[tables.Event]] | None = await database(app.store.call(call_id))
    if (
        found is None
        or (who.role is Role.OPERATOR and found[0].operator != who.operator)
        or not who.sees(organisation(app, number=found[0].number))
    ):  # another organisation's call is as unknown as a wrong id
        raise HTTPException(404, f"no call {call_id!r}")
    return found


@router.get("/calls/{call_id}")
async def get_call(
    app: App, who: Handler, call_id: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    """One call with its ordered event timeline."""
    row, events = await visible_call(app, who, call_id)
    return {**views.call(row, who), "events": [views.stored_event(e, who) for e in events]}


@router.get(
    "/calls/{call_id}/recording",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}, "audio/mpeg": {}}}},
)
async def get_recording(
    app: App, who: Handler, call_id: Annotated[str, Path(max_length=64)]
) -> FileResponse:
    """The conversation's recording (supervisors; an operator: their own calls). 410 once the
    retention period deleted it."""
    await visible_call(app, who, call_id)
    recording = await database(app.store.recording(call_id))
    if recording is None:
        raise HTTPException(404, f"call {call_id!r} was not recorded")
    if recording.deleted_at is not None:
        raise HTTPException(410, f"deleted on {recording.deleted_at:%Y-%m-%d} (retention)")
    if not await asyncio.to_thread(os.path.exists, recording.path):
        raise HTTPException(404, f"the recording file of call {call_id!r} is missing")
    kind = "audio/mpeg" if recording.path.endswith(".mp3") else "audio/wav"
    return FileResponse(recording.path, media_type=kind, filename=PurePath(recording.path).name)
