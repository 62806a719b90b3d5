"""Detention notifications: the list (the open ones first) and closing one as handled."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query

from hotline.api.access import Role
from hotline.api.deps import (
    App,
    Handler,
    Supervisor,
    api_router,
    organisation,
    unprocessable,
)
from hotline.notifications import UnknownNotification

router = api_router()


@router.get("/notifications")
async def notifications(app: App, who: Supervisor) -> list[dict[str, Any]]:
    """Detention notifications (of the token's organisation), the open ones first; ``overdue``:
    open for longer than its organisation's ``notification_target``."""
    now = app.switchboard.clock()
    shown = []
    for n in app.notifications.listing():
        org = app.deployment.organisation_of(line=n.line)
        if not who.sees(org.id if org else None):
            continue
        target = org.notification_target if org else app.deployment.policy.notification_target
        overdue = n.handled_at is None and now - n.at > timedelta(seconds=target)
        shown.append({**n.as_json(), "overdue": overdue})
    return shown


@router.post("/notifications/{ref}/handled")
async def notification_handled(
    app: App,
    who: Handler,
    ref: Annotated[str, Path(pattern=r"^[0-9]{6}$")],
    by: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> dict[str, Any]:
    """An operator (``by``; an operator's token: themselves) handled the notification: it
    closes, its callbacks stop."""
    if who.role is Role.OPERATOR:
        if by not in (None, who.operator):
            raise HTTPException(403, f"this token acts for {who.operator} only")
        by = who.operator
    if by is None:
        raise unprocessable("by", "query", "say which operator handled it")
    board = app.switchboard
    guesser = f"{who.role}:{who.operator}:{who.name}"
    if (wait := app.guesses.wait(guesser)) > 0:
        raise HTTPException(
            429,
            "too many unknown references from this token; try again later",
            headers={"Retry-After": str(math.ceil(wait))},
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
        app.guesses.count(guesser)
        raise HTTPException(404, f"no notification {ref}")
    try:
        item = app.notifications.handle(ref, by, board.clock())
    except UnknownNotification:
        raise HTTPException(404, f"no notification {ref}") from None
    board.handled(ref, item.call, by)
    return item.as_json()
