"""The call log: calls filtered and paged, as JSON or CSV, one call with its timeline, and its
recording."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Annotated, Any

from fastapi import Body, Depends, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotline.api import examples as ex
from hotline.api import schemas, views
from hotline.api.access import Principal, Role
from hotline.api.audio import SEALED, stream
from hotline.api.audit import UNRECORDED, accessed, exported, noted
from hotline.api.deps import (
    AWAY,
    App,
    Handler,
    Name,
    Parts,
    api_router,
    aware,
    database,
    known,
    organisation,
    own,
    paged,
    unprocessable,
    zone,
)
from hotline.api.errors import Problem, errors
from hotline.calls.switchboard import CallbackRefused, TransferRefused
from hotline.store import tables
from hotline.store.db import CallFilter
from hotline.store.trail import Kind
from routing.events import WrappedUp

router = api_router()

NO_CALL = (404, "No such call (or not one this token may see).")
#: The filters' refusals.
FILTERS = (403, "A viewer's token, or an operator's asking for another operator's calls.")


async def call_filter(
    app: App,
    who: Handler,
    since: Annotated[
        datetime | None, Query(alias="from", description="calls started at or after")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="calls started before")] = None,
    line: Name | None = None,
    outcome: Annotated[
        schemas.Outcome | None,
        Query(description="how the calls ended (`other`: a value this version does not know)"),
    ] = None,
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
        line=known(line, "line", own(app, who, "lines")),
        outcome=None if outcome is None else outcome.value,
        operator=known(operator, "operator", own(app, who, "operators")),
        # (as the log keeps it: 0501234567 read in the token's organisation's country)
        caller=None
        if caller is None
        else app.deployment.number(caller, organisation=who.organisation),
        number=number,
        sip_call_id=sip_call_id,
        numbers=(
            None
            if who.organisation is None
            else app.deployment.organisations[who.organisation].numbers
        ),
    )


Filter = Annotated[CallFilter, Depends(call_filter)]


@router.get(
    "/calls",
    response_model=list[schemas.Call],
    responses={
        **paged("calls"),
        **errors(FILTERS, AWAY),
    },
)
async def list_calls(
    app: App,
    who: Handler,
    where: Filter,
    response: Response,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Calls, newest first, filtered; ``X-Total-Count`` says how many match in all. Each
    note shown is on the audit trail."""
    rows, total = await database(app.store.calls(where, limit, offset))
    response.headers["X-Total-Count"] = str(total)
    noted(app, who, request, notes(app, rows))
    return [views.call(row, who) for row in rows]


def notes(app: Parts, rows: list[tables.Call]) -> list[tuple[str | None, str, None]]:
    """The notes these calls show (their organisation, their call) for the audit trail."""
    return [(organisation(app, number=row.number), row.id, None) for row in rows if row.note]


@router.get(
    "/calls.csv",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **errors(FILTERS, UNRECORDED),
    },
)
async def export_calls(
    app: App,
    who: Handler,
    where: Filter,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Response:
    """The same calls as CSV, for a spreadsheet (on the audit trail: by whom, how many
    calls of which organisation)."""
    rows, _ = await database(app.store.calls(where, limit, 0))
    exported(app, who, request, (organisation(app, number=row.number) for row in rows))
    return Response(
        views.csv_rows([views.call(row, who) for row in rows]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="calls.csv"'},
    )


AUDIO = {"type": "string", "format": "binary"}


def operators_of(row: tables.Call) -> set[str | None]:
    """Every operator who talked to the caller: the last, and those who transferred them."""
    return {row.operator, *(t.get("operator") for t in row.transfers)}


async def visible_call(
    app: Parts, who: Principal, call_id: str
) -> tuple[tables.Call, list[tables.Event]]:
    """The call and its events, if ``who`` may see it (an operator: their own); else 404."""
    found: tuple[tables.Call, list[tables.Event]] | None = await database(app.store.call(call_id))
    if (
        found is None
        or (who.role is Role.OPERATOR and not operator_sees(app, who, found[0]))
        or not who.sees(organisation(app, number=found[0].number))
    ):  # another organisation's call is as unknown as a wrong id
        raise HTTPException(404, f"no call {call_id!r}")
    return found


def operator_sees(app: Parts, who: Principal, row: tables.Call) -> bool:
    """An operator sees the calls they talked to, and those of the lines they serve (their
    colleagues' wrap-ups: the caller's number masked)."""
    serves = app.deployment.operators[who.operator].lines if who.operator else ()
    return who.operator in operators_of(row) or row.line in serves


@router.get(
    "/calls/{call_id}", response_model=schemas.CallWithEvents, responses=errors(403, NO_CALL, AWAY)
)
async def get_call(
    app: App, who: Handler, call_id: Annotated[str, Path(max_length=64)], request: Request
) -> dict[str, Any]:
    """One call with its ordered event timeline (its note shown: on the audit trail)."""
    row, events = await visible_call(app, who, call_id)
    noted(app, who, request, notes(app, [row]))
    return {**views.call(row, who), "events": [views.stored_event(e, who) for e in events]}


class TransferTo(BaseModel):
    """Where to send the caller: exactly one of a line, an operator, a centre (by id)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=ex.examples(*(t["value"] for t in ex.TRANSFERS.values())),
    )

    line: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    operator: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    centre: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _one(self) -> TransferTo:
        if sum(v is not None for v in (self.line, self.operator, self.centre)) != 1:
            raise ValueError("name exactly one of: line, operator, centre")
        return self


@router.post(
    "/calls/{call_id}/transfer",
    status_code=202,
    response_model=schemas.Transferring,
    responses=errors(
        403,
        (404, "No such call under way (an operator's token: not their caller)."),
        (
            409,
            "The caller is not talking to an operator (`not-in-conversation`), or the target "
            "cannot take them now (`transfer-refused`).",
        ),
        400,
        413,
        (422, "Not exactly one target, or no such target in the call's organisation."),
    ),
)
async def transfer(
    app: App,
    who: Handler,
    call_id: Annotated[str, Path(max_length=64)],
    to: Annotated[TransferTo, Body(openapi_examples=ex.TRANSFERS)],
) -> dict[str, Any]:
    """Send a caller who is talking to an operator elsewhere (blind: the operator leaves the
    call): to a line's queue (they keep their arrival time and place, and hear that they are
    being connected), to an operator (rung now; no answer brings the caller back to the head
    of their queue) or to a legal aid centre of the organisation (dialled through the
    carrier). An operator's token transfers their own caller only."""
    board = app.switchboard
    offered = board.talks.get(call_id)
    known_here = offered.waiting if offered else board.waiting.get(call_id)
    whose = organisation(app, line=known_here.line if known_here else None)
    if (
        known_here is None
        or not who.sees(whose)
        or (who.role is Role.OPERATOR and (offered is None or offered.operator != who.operator))
    ):
        raise HTTPException(404, f"no call {call_id!r} under way")
    kind, name = next((k, v) for k, v in to.model_dump().items() if v is not None)
    target = app.deployment.target(name)
    if target is None or target.kind != kind or organisation(app, **{kind: name}) != whose:
        raise unprocessable(kind, "body", f"no {kind} {name!r} in this call's organisation")
    if offered is None:
        raise Problem(
            409, "not-in-conversation", "the call is not in a conversation with an operator"
        )
    try:
        board.transfer(call_id, target, who.operator or who.name or who.role.value)
    except TransferRefused as exc:
        raise Problem(409, "transfer-refused", str(exc)) from None
    return {"call": call_id, "from": offered.operator, "target": kind, "to": name}


class WrapUp(BaseModel):
    """What the call was about (topics of its line), how it ended for the caller (one of its
    organisation's ``queues.resolutions``) and a note (personal data)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=ex.examples(ex.WRAP_UP))

    topics: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(
        min_length=1, max_length=8
    )
    resolution: Annotated[str, Field(min_length=1, max_length=32)]
    note: Annotated[str, Field(max_length=4000)] = ""
    callback_at: datetime | None = None
    """Plans a callback of the caller's number from then (a time with its zone, within a
    week; the first moment from then that the line is open): offered to the line's operators
    at its time, ahead of those who came after, and listed on their desks."""


@router.put(
    "/calls/{call_id}/wrap-up",
    response_model=schemas.WrappedUp,
    response_model_exclude_unset=True,
    responses=errors(
        (403, "A viewer's token, or an operator's who did not talk to the caller."),
        NO_CALL,
        (
            409,
            "The call reached no line with topics to wrap it up by (`no-topics`); the "
            "callback asked may not be made (`callback-refused`).",
        ),
        400,
        413,
        (422, "A topic not of the call's line, or a resolution not of its organisation's."),
        AWAY,
    ),
)
async def wrap_up(
    app: App, who: Handler, call_id: Annotated[str, Path(max_length=64)], body: WrapUp
) -> dict[str, Any]:
    """Save the call's wrap-up (a later one replaces it), on its timeline: by a supervisor,
    or an operator who talked to the caller. The note is shown to supervisors and the line's
    operators only, never to viewers, in logs, metrics or the CSV export. With
    ``callback_at``, a callback of the caller is planned for then (``callback``: its call)."""
    row, _ = await visible_call(app, who, call_id)
    if who.role is Role.OPERATOR and who.operator not in operators_of(row):
        raise HTTPException(403, "only an operator who talked to the caller wraps the call up")
    line = app.deployment.lines.get(row.line or "")
    if line is None or not line.topics:
        raise Problem(409, "no-topics", "the call reached no line with topics to wrap it up by")
    for i, topic in enumerate(body.topics):
        if topic not in line.topics:
            raise unprocessable(
                "topics", "body", f"not a topic of {line.name}: one of {', '.join(line.topics)}", i
            )
    resolutions = app.deployment.policy_of(line=line.name).resolutions
    if body.resolution not in resolutions:
        raise unprocessable("resolution", "body", f"one of {', '.join(resolutions)}")
    by = who.operator or who.name or who.role.value
    planned = _planned(app, row, body.callback_at, by) if body.callback_at else None
    topics = tuple(dict.fromkeys(body.topics))
    app.switchboard.emit(call_id, WrappedUp(topics, body.resolution, by, body.note or None))
    done = {"call": call_id, "topics": list(topics), "resolution": body.resolution, "by": by}
    return done | ({"callback": planned} if planned else {})


#: How far ahead a callback may be planned.
AHEAD = timedelta(days=7)


def _planned(app: Parts, row: tables.Call, at: datetime, by: str) -> dict[str, str]:
    """A callback of ``row``'s caller planned for ``at`` (a 422 naming what is wrong, a 409
    when it may not be made)."""
    board = app.switchboard
    now = board.clock()
    if at.tzinfo is None:
        raise unprocessable("callback_at", "body", "a time with its zone (2026-12-08T10:00+02:00)")
    if not now < at <= now + AHEAD:
        raise unprocessable("callback_at", "body", "must be ahead, at most a week")
    if not row.caller.lstrip("+").isdigit():
        raise Problem(409, "callback-refused", "the caller's number was withheld")
    call = f"planned-{secrets.token_hex(8)}"
    # (a row logged before numbers were normalised keeps the carrier's form of then)
    caller = app.deployment.number(row.caller, line=row.line)
    try:
        when = board.plan_callback(
            call, row.line or "", row.language or "en", caller, at, by, row.number
        )
    except CallbackRefused as exc:
        raise Problem(409, "callback-refused", str(exc)) from None
    except OSError:
        raise HTTPException(503, "the callback could not be stored: nothing was planned") from None
    return {"call": call, "at": when.isoformat()}


@router.get(
    "/calls/{call_id}/recording",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "audio/wav": {"schema": AUDIO},
                "audio/mpeg": {"schema": AUDIO},
            }
        },
        206: {
            "description": "The bytes of the range asked for (a player seeking).",
            "content": {"audio/wav": {"schema": AUDIO}, "audio/mpeg": {"schema": AUDIO}},
        },
        **errors(
            403,
            (404, "No such call (or not one this token may hear), or it was not recorded."),
            (410, "The recording was deleted by the retention period."),
            (416, "The range asked for is beyond the recording's end."),
            SEALED,
            UNRECORDED,
        ),
    },
)
async def get_recording(
    app: App, who: Handler, call_id: Annotated[str, Path(max_length=64)], request: Request
) -> StreamingResponse:
    """The conversation's recording (supervisors; an operator: their own calls), opened from
    the vault. 410 once the retention period deleted it. Each request is on the audit trail
    (a player seeking asks again: each range too)."""
    row, _ = await visible_call(app, who, call_id)
    if who.role is Role.OPERATOR and who.operator not in operators_of(row):
        raise HTTPException(404, f"no call {call_id!r}")  # a colleague's: not theirs to hear
    recording = await database(app.store.recording(call_id))
    if recording is None:
        raise HTTPException(404, f"call {call_id!r} was not recorded")
    if recording.deleted_at is not None:
        raise HTTPException(410, f"deleted on {recording.deleted_at:%Y-%m-%d} (retention)")
    kind = "audio/mpeg" if recording.path.endswith(".mp3") else "audio/wav"
    name = PurePath(recording.path).name
    answer = await stream(
        app.vault, recording.path, request, name, kind, f"the recording of {call_id}"
    )
    whose = organisation(app, number=row.number)
    part = answer.headers.get("content-range")
    accessed(app, who, request, Kind.RECORDING, whose, call=call_id, detail=part)
    return answer
