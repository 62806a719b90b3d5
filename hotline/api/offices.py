"""The offices, and a supervisor taking one to shelter (an air-raid alert) and back: its
operators paused with the reason ``shelter``, its lines answered by the other offices at
once, its callers told why they may wait longer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query

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
from hotline.api.errors import errors

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
    minutes: Annotated[int | None, Query(ge=1, le=int(LONGEST.total_seconds() // 60))] = None,
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
    if minutes is not None and until is not None:
        raise unprocessable("until", "query", "give minutes or until, not both")
    if until is not None:
        if until.tzinfo is None:
            raise unprocessable("until", "query", "a time with its zone (2026-12-24T15:00+02:00)")
        if not now < until <= now + LONGEST:
            raise unprocessable("until", "query", "must be ahead, at most a week")
        until = until.astimezone(UTC)
    elif minutes is not None:
        until = now + timedelta(minutes=minutes)
    board.shelter(office, who.name or who.role.value, until)
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
    board.end_shelter(office, who.name or who.role.value)
    await board.kept()
    return office_view(app, office)
