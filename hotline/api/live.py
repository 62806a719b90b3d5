"""What a supervisor changes while the hotline runs: the config read again (a reload), an
office taken to shelter (an air-raid alert) and back (its operators paused with the reason
``shelter``, its lines answered by the other offices at once, its callers told why they may
wait longer), and a line's recorded announcement (uploaded here, or recorded from a
supervisor's phone: ``*71`` and the line's code)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Request

from hotline.api import schemas
from hotline.api.access import Principal
from hotline.api.deps import (
    App,
    Parts,
    Supervisor,
    Watcher,
    api_router,
    organisation,
    unprocessable,
)
from hotline.api.errors import Problem, errors
from hotline.calls.announcements import AnnouncementError, Announcements
from hotline.running.reload import ReloadRefused

router = api_router()

NO_OFFICE = (404, "No such office (or another organisation's).")
#: The longest shelter that may be set ahead (a week); longer ones are ended by hand.
LONGEST = timedelta(days=7)


def office_view(app: Parts, office: str) -> dict[str, Any]:
    board, deployment = app.switchboard, app.deployment
    now = board.clock()
    shelter = board.shelters.get(office)
    return {
        "id": office,
        "organisation": organisation(app, office=office),
        "lines": sorted(n for n, line in deployment.lines.items() if office in line.offices),
        "operators": sorted(op.id for op in deployment.operators.values() if op.office == office),
        "shelter": None
        if shelter is None
        else {
            "since": shelter.since.isoformat(),
            "until": shelter.until.isoformat() if shelter.until else None,
            "by": shelter.by,
            "for": round((now - shelter.since).total_seconds(), 1),
        },
    }


def ends(now: datetime, minutes: int | None, until: datetime | None) -> datetime | None:
    """When something set now ends: in ``minutes``, or at ``until`` (a time with its zone, at
    most a week ahead), or None (when it is ended); a 422 naming what is wrong."""
    if minutes is not None and until is not None:
        raise unprocessable("until", "query", "give minutes or until, not both")
    if until is not None:
        if until.tzinfo is None:
            raise unprocessable("until", "query", "a time with its zone (2026-12-24T15:00+02:00)")
        if not now < until <= now + LONGEST:
            raise unprocessable("until", "query", "must be ahead, at most a week")
        return until.astimezone(UTC)
    return now + timedelta(minutes=minutes) if minutes is not None else None


Minutes = Annotated[int | None, Query(ge=1, le=int(LONGEST.total_seconds() // 60))]


def _by(who: Principal) -> str:
    """Who did it, as the events and the views say: the token's name, else its role."""
    return who.name or who.role.value


def _own(app: Parts, who: Principal, office: str) -> None:
    if office not in app.deployment.offices or not who.sees(organisation(app, office=office)):
        raise HTTPException(404, f"no office {office!r}")


@router.get("/offices", response_model=list[schemas.Office], responses=errors(403))
async def offices(app: App, who: Watcher) -> list[dict[str, Any]]:
    """The offices (of the token's organisation): their lines and operators, and whether each
    is in shelter, since when, until when and by whom."""
    return [
        office_view(app, office)
        for office in sorted(app.deployment.offices)
        if who.sees(organisation(app, office=office))
    ]


@router.post(
    "/offices/{office}/shelter",
    response_model=schemas.Office,
    responses=errors(
        (403, "Not a supervisor's token."),
        NO_OFFICE,
        (422, "Both `minutes` and `until`, an end in the past, or one more than a week ahead."),
    ),
)
async def shelter(
    app: App,
    who: Supervisor,
    office: Annotated[str, Path(max_length=64)],
    minutes: Minutes = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Take ``office`` to shelter now (an air-raid alert): its operators are paused with the
    reason ``shelter`` (those talking once their call ends), its lines' callers are answered
    by the other offices at once and hear why they may wait longer. It lasts until it is
    ended (``DELETE``), or ``minutes`` from now, or ``until`` (a time with its zone). Asked
    again, the new end replaces the old one."""
    _own(app, who, office)
    board = app.switchboard
    now = board.clock()
    board.shelter(office, _by(who), ends(now, minutes, until))
    await board.kept()
    return office_view(app, office)


@router.delete(
    "/offices/{office}/shelter",
    response_model=schemas.Office,
    responses=errors((403, "Not a supervisor's token."), NO_OFFICE),
)
async def end_shelter(
    app: App, who: Supervisor, office: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    """End ``office``'s shelter: its operators paused for it are available again (an office
    not in shelter is left as it is)."""
    _own(app, who, office)
    board = app.switchboard
    board.end_shelter(office, _by(who))
    await board.kept()
    return office_view(app, office)


# -- announcements ----------------------------------------------------------------------------
NO_LINE = (404, "No such line (or another organisation's).")
#: The largest announcement file taken (bytes).
LARGEST = 20 * 1024 * 1024


def _announcements(app: Parts) -> Announcements:
    if app.announcements is None:
        raise HTTPException(404, "announcements are not kept by this service")
    return app.announcements


def _own_line(app: Parts, who: Principal, line: str) -> None:
    if line not in app.deployment.lines or not who.sees(organisation(app, line=line)):
        raise HTTPException(404, f"no line {line!r}")


@router.get("/announcements", response_model=list[schemas.Announcement], responses=errors(403))
async def announcements(app: App, who: Watcher) -> list[dict[str, Any]]:
    """The recorded announcements the lines' callers hear now (of the token's organisation),
    by whom and until when."""
    kept = _announcements(app)
    return [
        found.as_json()
        for line in sorted(app.deployment.lines)
        if who.sees(organisation(app, line=line)) and (found := kept.current(line)) is not None
    ]


@router.put(
    "/lines/{line}/announcement",
    response_model=schemas.Announcement,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    responses=errors(
        (403, "Not a supervisor's token."),
        NO_LINE,
        (413, "More than 20 MB."),
        (422, "Not audio, shorter than half a second or longer than two minutes; a bad end."),
    ),
)
async def put_announcement(
    app: App,
    who: Supervisor,
    request: Request,
    line: Annotated[str, Path(max_length=64)],
    minutes: Minutes = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The line's announcement, sent as the request's body (a WAV file; other formats where
    ffmpeg is installed): callers of the line hear it before they wait, for ``minutes``, until
    ``until`` or for 24 hours; it replaces the line's earlier one."""
    _own_line(app, who, line)
    kept = _announcements(app)
    end = ends(app.switchboard.clock(), minutes, until)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > LARGEST:
            raise HTTPException(413, "an announcement of 20 MB at most")
    try:
        made = await kept.upload(line, body, _by(who), end)
    except AnnouncementError as exc:
        raise unprocessable("body", "body", str(exc)) from None
    return made.as_json()


@router.delete(
    "/lines/{line}/announcement",
    status_code=204,
    responses=errors((403, "Not a supervisor's token."), NO_LINE),
)
async def delete_announcement(
    app: App, who: Supervisor, line: Annotated[str, Path(max_length=64)]
) -> None:
    """The line's callers no longer hear its announcement (a line without one: nothing
    changes)."""
    _own_line(app, who, line)
    await _announcements(app).remove(line, _by(who))


# -- the config, read again -------------------------------------------------------------------
@router.post(
    "/config/reload",
    response_model=schemas.Reloaded,
    responses=errors(
        (403, "Not a supervisor's token of every organisation (the config is all of theirs)."),
        (422, "The config cannot run (`hotline check` says why): the running one stays."),
    ),
)
async def reload(app: App, who: Supervisor) -> dict[str, Any]:
    """Read the config file again and take it while calls go on: operators, lines, menus,
    hours, holidays, centres, rotas and prompts change for the next caller; a caller waiting
    keeps their place and a talk goes on. Asterisk's endpoints and dialplan are written again
    and reloaded. A config that cannot run is refused with `hotline check`'s messages
    (``config-refused``), as is a change of ``sip`` or ``phones`` (only a restart takes
    those); the running config then stays. Published on the event stream as
    ``config.reloaded``."""
    if who.organisation is not None:
        raise HTTPException(403, "a reload takes every organisation's config: not one's token")
    if app.reloader is None:
        raise HTTPException(404, "this service does not reload its config")
    try:
        done = await app.reloader.reload(_by(who))
    except ReloadRefused as exc:
        raise Problem(
            422, "config-refused", "the config was not taken: " + "; ".join(exc.problems)
        ) from None
    return {
        "changes": list(done.changes),
        "asterisk": list(done.asterisk),
        "notes": list(done.notes),
    }
