"""Detention notifications: the list (the open ones first), one taken by phone by the operator
talking to the caller, its recorded message, and closing one as handled."""

from __future__ import annotations

import math
import secrets
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body, HTTPException, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from hotline.api import examples as ex
from hotline.api import schemas
from hotline.api.access import Principal, Role
from hotline.api.audio import AUDIO_SCHEMA, SEALED, stream
from hotline.api.audit import UNRECORDED, accessed, noted
from hotline.api.deps import (
    AWAY,
    App,
    Handler,
    Name,
    Parts,
    Supervisor,
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
from hotline.api.throttles import retry_after
from hotline.calls.switchboard import CallbackRefused
from hotline.reports.notifications import Notification
from hotline.store.trail import Kind
from routing import escalation as esc
from routing.events import KINDS
from routing.signals import CallBackNow

router = api_router()

NO_NOTIFICATION = (
    404,
    "No such notification (or not one of the token's organisation or operator's lines).",
)
#: Unknown references asked by one token: 5 in 10 minutes.
GUESSES = (
    429,
    "Too many unknown references from this token (5 in 10 minutes, counted by every instance "
    "that shares HOTLINE_RATE_LIMIT_STORAGE): `Retry-After` says when to retry.",
)
ACTING = (403, "A viewer's token, or an operator's acting for another operator.")


@router.get(
    "/notifications",
    response_model=list[schemas.ListedNotification],
    responses={
        **paged("notifications"),
        **errors(403, 422),
    },
)
async def notifications(
    app: App,
    who: Supervisor,
    response: Response,
    open_: Annotated[
        bool | None, Query(alias="open", description="open ones only (true) or handled (false)")
    ] = None,
    line: Name | None = None,
    since: Annotated[
        datetime | None, Query(alias="from", description="reported at or after")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="reported before")] = None,
    tz: Annotated[str | None, Query(max_length=64, description="zone of a from/to without")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> list[dict[str, Any]]:
    """Detention notifications (of the token's organisation), the open ones first (oldest
    first), then the handled ones (newest first), filtered; ``X-Total-Count`` says how many
    match in all. ``overdue``: open for longer than its organisation's
    ``notification_target``."""
    line = known(line, "line", own(app, who, "lines"))
    zone_ = zone(tz, app, who)
    since, until = aware(since, zone_), aware(until, zone_)
    now = app.switchboard.clock()
    matching = []
    for n in app.notifications.listing():
        org = app.deployment.organisation_of(line=n.line)
        if not who.sees(org.id if org else None):
            continue
        if open_ is not None and (n.handled_at is None) != open_:
            continue
        if (line is not None and n.line != line) or (since is not None and n.at < since):
            continue
        if until is not None and n.at >= until:
            continue
        matching.append(n)
    response.headers["X-Total-Count"] = str(len(matching))
    return [
        {
            **shown_json(app, n),
            "overdue": n.overdue(now, app.deployment.notification_target(n.line)),
        }
        for n in matching[offset : offset + limit]
    ]


def shown_json(app: Parts, item: Notification) -> dict[str, Any]:
    """A notification as the API shows it, with its escalation."""
    escalation = app.escalations.view(item.ref) if app.escalations is not None else None
    return {**item.as_json(), "escalation": escalation}


#: What a notification's history shows of the calls it went through (the call log's events;
#: its own steps come from the notifications file, which is never behind).
HISTORY = (
    "callback.requested",
    "call.offered",
    "call.missed",
    "call.answered",
    "callback.failed",
    "callback.refused",
    "call.ended",
    *(kind for kind in KINDS if kind.startswith("escalation.")),
)

# six digits, reserved in the database; seven: chosen alone with the database away; a mark
# after ~: a report kept apart, whose reference another call's report has
# (hotline/reports/references.py)
Ref = Annotated[str, Path(pattern=r"^[0-9]{6,7}(~[0-9a-f]{6})?$")]


class Handled(BaseModel):
    """How the notification was handled: an outcome of its organisation's
    ``queues.notification_outcomes``, and a note (personal data: for supervisors and the
    operators of its line only)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=ex.examples(ex.HANDLED))

    outcome: str | None = Field(None, max_length=64)
    note: str | None = Field(None, max_length=4000)


def _acting(who: Principal, by: str | None) -> str:
    """The operator a request acts for: an operator's token, themselves; a supervisor names
    them (``by``)."""
    if who.role is Role.OPERATOR:
        if by not in (None, who.operator):
            raise HTTPException(403, f"this token acts for {who.operator} only")
        assert who.operator is not None
        return who.operator
    if by is None:
        raise unprocessable("by", "query", "say which operator")
    return by


def _of_the_line(app: Parts, by: str, item: Notification) -> None:
    """A 422 unless ``by`` is an operator of the notification's line (so of its
    organisation): a supervisor acts in the name of one of them, never of anyone."""
    if by not in app.switchboard.operators or not app.deployment.operators[by].serves(item.line):
        raise unprocessable("by", "query", f"{by!r} is no operator of the line {item.line!r}")


async def _theirs(app: Parts, who: Principal, ref: str) -> Notification:
    """Notification ``ref``, if ``who`` may act on it (a supervisor of its organisation, an
    operator of its line); else a 404, as for a wrong reference, and guesses are throttled."""
    guesser = f"{who.role}:{who.operator}:{who.name}"
    if (wait := await app.throttles.guesses.wait(guesser)) > 0:
        raise HTTPException(
            429,
            f"too many unknown references from this token; try again in {math.ceil(wait)} s",
            headers=retry_after(wait),
        )
    found = app.notifications.items.get(ref)
    if (
        found is None
        or not who.sees(organisation(app, line=found.line))
        or not (
            who.supervisor
            or (
                who.operator is not None
                and app.deployment.operators[who.operator].serves(found.line)
            )
        )
    ):  # another line's notification is none of theirs: as unknown as a wrong number
        await app.throttles.guesses.count(guesser)
        raise HTTPException(404, f"no notification {ref}")
    return found


@router.get(
    "/notifications/{ref}",
    response_model=schemas.NotificationWithHistory,
    responses=errors(403, NO_NOTIFICATION, GUESSES, AWAY),
)
async def notification(app: App, who: Handler, ref: Ref, request: Request) -> dict[str, Any]:
    """One notification with its note and its history: stored, each callback (rung, answered,
    failed), each time an operator played its message or called it back, and its close. Its
    note shown is on the audit trail."""
    item = await _theirs(app, who, ref)
    events = await database(app.store.notification_events(ref, item.call, item.at, HISTORY))
    stored = {"at": item.at.isoformat(), "kind": "stored", "by": item.taken_by, "call": item.call}
    own = [stored, *item.done]
    if item.handled_at is not None:
        at = item.handled_at.isoformat()
        own.append({"at": at, "kind": "handled", "by": item.handled_by, "outcome": item.outcome})
    history = [
        {"at": e.at.isoformat(), "kind": e.kind, "call": e.call_id, **e.data} for e in events
    ] + [{**done, "kind": f"notification.{done['kind']}"} for done in own]
    history.sort(key=lambda h: datetime.fromisoformat(h["at"]))  # (stable: own steps after)
    if item.note:
        noted(app, who, request, [(organisation(app, line=item.line), item.call, ref)])
    return {**shown_json(app, item), "note": item.note, "history": history}


@router.post(
    "/notifications/{ref}/handled",
    response_model=schemas.Notification,
    responses=errors(
        ACTING,
        NO_NOTIFICATION,
        400,
        413,
        (
            422,
            "A supervisor's token without `by`, `by` no operator of its line, or an outcome "
            "not of its organisation's.",
        ),
        GUESSES,
    ),
)
async def notification_handled(
    app: App,
    who: Handler,
    ref: Ref,
    by: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    handled: Annotated[Handled | None, Body()] = None,
) -> dict[str, Any]:
    """An operator (``by``; an operator's token: themselves) handled the notification: it
    closes, its callbacks stop; the body may say how (``outcome``) with a ``note``."""
    by = _acting(who, by)
    handled = handled or Handled()
    found = await _theirs(app, who, ref)
    outcomes = app.deployment.policy_of(line=found.line).notification_outcomes
    if handled.outcome is not None and handled.outcome not in outcomes:
        raise unprocessable("outcome", "body", f"one of {', '.join(outcomes)}")
    board = app.switchboard
    _of_the_line(app, by, found)
    item = app.notifications.handle(
        found.ref, by, board.clock(), handled.outcome, handled.note or None
    )
    board.handled(ref, item.call, by, item.outcome, item.note)
    return item.as_json()


@router.post(
    "/notifications/{ref}/call-back",
    status_code=202,
    response_model=schemas.CallingBack,
    responses=errors(
        ACTING,
        NO_NOTIFICATION,
        (
            409,
            "The operator cannot call now (paused, busy), or it is being called already "
            "(`callback-refused`).",
        ),
        (422, "A supervisor's token without `by`, or `by` no operator of its line."),
        GUESSES,
        AWAY,
    ),
)
async def call_back(
    app: App,
    who: Handler,
    ref: Ref,
    by: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    """The operator (``by``; an operator's token: themselves) calls the notification's
    number back now: their phone rings, and once they pick up the number is dialled. A
    callback of it already waiting is made now, by them. 409: they cannot now (why)."""
    by = _acting(who, by)
    item = await _theirs(app, who, ref)
    board = app.switchboard
    _of_the_line(app, by, item)
    found = await database(app.store.call(item.call))
    org = app.deployment.organisation_of(line=item.line)
    hotline_number = found[0].number if found else min(org.numbers) if org else ""
    language = found[0].language if found and found[0].language else "en"
    now = CallBackNow(
        f"callback-{ref}-{secrets.token_hex(4)}", by, ref, item.line, language, item.number
    )
    asked = board.clock()
    try:
        board.call_back_now(now, hotline_number)
    except CallbackRefused as exc:
        raise Problem(409, "callback-refused", str(exc)) from None
    call = next(
        (c for c, cb in board.callbacks.items() if cb.notification == ref and c in board.talks),
        now.call,
    )
    app.notifications.did(ref, "called", by, asked, call=call)
    return {"ref": ref, "call": call, "operator": by, "number": item.number}


@router.post(
    "/calls/{call_id}/notification",
    status_code=201,
    response_model=schemas.Notification,
    responses=errors(
        403,
        (404, "No such call in a conversation (an operator's token: of theirs)."),
        (422, "A number that cannot be called back."),
        (503, "The notification could not be stored (the disk), or no instance is active."),
    ),
)
async def taken_by_phone(
    app: App,
    who: Handler,
    call_id: Annotated[str, Path(max_length=64)],
    number: Annotated[str | None, Query(pattern=r"^\+?[0-9]{3,20}$")] = None,
) -> dict[str, Any]:
    """The operator talking to the caller takes a detention notification by phone: stored and
    synced, then its reference is returned to be read out; it is filed on the organisation's
    detention line, and stays open (on the wallboard, against its target) until an operator
    marks it handled. ``number``: where to call back
    (default: the caller's)."""
    board = app.switchboard
    offered = board.talks.get(call_id)
    if (
        offered is None
        or offered.answered is None
        or not who.sees(organisation(app, line=offered.waiting.line))
        or (who.role is Role.OPERATOR and offered.operator != who.operator)
    ):
        raise HTTPException(404, f"no call {call_id!r} in a conversation of yours")
    caller = board.callers.get(call_id, "")
    # (an operator types what the caller says: 0501234567 is read in the line's country)
    number = app.deployment.number(number, line=offered.waiting.line) if number else caller
    if (why := app.deployment.callbacks.refuses(number)) is not None:
        raise unprocessable("number", "query", f"cannot be called back: {why}")
    # filed on the organisation's detention line (the one that takes messages: its operators
    # answer around the clock), whichever line the caller came in on
    line = offered.waiting.line
    org = app.deployment.organisation_of(line=line)
    urgent = [n for n in sorted(org.lines if org else ()) if app.deployment.lines[n].urgent]
    line = line if line in urgent or not urgent else urgent[0]
    try:
        item = app.notifications.take(
            call_id, line, caller, number, offered.operator, board.clock(), offered.waiting.language
        )
    except OSError as exc:
        raise HTTPException(503, f"the notification could not be stored: {exc.strerror}") from None
    board.emit(
        call_id,
        item.stored(),
    )
    return shown_json(app, item)


@router.get(
    "/notifications/{ref}/recording",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/wav": {"schema": AUDIO_SCHEMA}}},
        206: {
            "description": "The bytes of the range asked for (a player seeking).",
            "content": {"audio/wav": {"schema": AUDIO_SCHEMA}},
        },
        **errors(
            403,
            (404, "No such notification, or no recorded message of it."),
            (416, "The range asked for is beyond the message's end."),
            SEALED,
            UNRECORDED,
            GUESSES,
        ),
    },
)
async def notification_recording(
    app: App, who: Handler, ref: Ref, request: Request
) -> StreamingResponse:
    """The caller's recorded message (supervisors; operators of its line), opened from the
    vault; who played it is kept in the notification's history, and each request on the
    audit trail."""
    found = await _theirs(app, who, ref)
    if not found.recording:
        raise HTTPException(404, f"no recorded message {ref}")
    answer = await stream(
        app.vault, found.recording, request, f"{ref}.wav", "audio/wav", f"the message of {ref}"
    )
    whose = organisation(app, line=found.line)
    part = answer.headers.get("content-range")
    accessed(app, who, request, Kind.MESSAGE, whose, call=found.call, ref=ref, detail=part)
    by = who.operator or f"supervisor:{who.name}"
    if not any(d["kind"] == "played" and d["by"] == by for d in found.done):
        app.notifications.did(ref, "played", by, app.switchboard.clock())
    return answer


class EscalationAction(BaseModel):
    """What a supervisor does to a report's escalation: ``restart`` it from the top,
    ``skip`` to its next step now, or ``accept`` it on ``person``'s behalf (none: their
    own)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=ex.examples(ex.ESCALATION_ACTION))

    action: Literal["restart", "skip", "accept"]
    person: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


@router.post(
    "/notifications/{ref}/escalation",
    response_model=schemas.Notification,
    responses=errors(
        403,
        NO_NOTIFICATION,
        (
            409,
            "The report has no escalation (`no-escalation`), or it is over: accepted, or the "
            "report closed (`escalation-over`); or it cannot do that now (`escalation-busy`).",
        ),
        (422, "An unknown action, or a person who is none of its organisation's duty people."),
        400,
        413,
        GUESSES,
    ),
)
async def escalation_action(
    app: App, who: Supervisor, ref: Ref, action: Annotated[EscalationAction, Body()]
) -> dict[str, Any]:
    """A supervisor restarts a report's escalation, skips its step, or accepts the report on
    someone's behalf; each on the report's history with who did it."""
    item = await _theirs(app, who, ref)
    escalations = app.escalations
    current = escalations.items.get(ref) if escalations is not None else None
    if escalations is None or current is None:
        raise Problem(409, "no-escalation", f"report {ref} has no escalation")
    if current.stopped is not None:
        raise Problem(
            409, "escalation-over", f"report {ref}'s escalation is over ({current.stopped})"
        )
    by = f"supervisor:{who.name or 'api'}"
    org = app.deployment.organisation_of(line=item.line)
    if action.person is not None and (org is None or action.person not in org.duty.people):
        people = sorted(org.duty.people) if org else []
        raise unprocessable("person", "body", f"not one of its duty people ({', '.join(people)})")
    signal: esc.Signal
    match action.action:
        case "restart":
            signal = esc.Restart(ref, by)
        case "skip":
            signal = esc.Skip(ref, by)
        case _:
            signal = esc.AcceptFor(ref, action.person or by, by)
    if not escalations.feed(ref, signal):
        raise Problem(409, "escalation-busy", f"report {ref}'s escalation cannot do that now")
    return shown_json(app, item)
