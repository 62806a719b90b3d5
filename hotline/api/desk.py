"""The operator's desk: what the console shows an operator in one read, refreshed on every
event of theirs: their state and what they may do, the caller ringing or talking to them
with that caller's history with the hotline, and their last call to wrap up."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import HTTPException, Query, Request

from hotline.api import schemas, views
from hotline.api.access import Principal, Role
from hotline.api.audit import noted
from hotline.api.deps import (
    AWAY,
    App,
    Handler,
    api_router,
    database,
    organisation,
    unprocessable,
)
from hotline.api.errors import errors
from hotline.api.notifications import shown_json
from hotline.privacy import identifies
from hotline.store import tables
from routing import numbers

router = api_router()


@router.get(
    "/desk",
    response_model=schemas.Desk,
    responses=errors(
        (403, "A viewer's token, or an operator's asking for another operator's desk."),
        (404, "No such operator (or another organisation's)."),
        (422, "A supervisor's token without `operator`."),
        AWAY,
    ),
)
async def desk(
    app: App,
    who: Handler,
    request: Request,
    operator: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """An operator's desk (an operator's token: their own; a supervisor names ``operator``):
    their state, pause reasons, the lines they serve with their topics, the resolutions, the
    colleagues and centres they may transfer to; ``call``: the caller ringing or talking to
    them (number, language, line, menu path, wait so far, their calls of the last
    ``queues.caller_history_days`` days,
    an open detention notification or a pending callback from that number); ``last_call``:
    the last call they answered, with its wrap-up so far; ``notifications``: the open detention
    notifications of their lines (to hear, call back and close with an outcome of
    ``notification_outcomes``); ``callbacks``: the callbacks waiting on their lines (those
    planned for a time, by a caller or at a wrap-up, first). Pause reasons, resolutions,
    outcomes and the days of history
    are their organisation's own (its ``queues:``). The notes it shows are on the audit
    trail (once a quarter of an hour per reader and note: the desk is read again and
    again)."""
    op_id = who.operator if who.role is Role.OPERATOR else operator
    if op_id is None:
        raise unprocessable("operator", "query", "say whose desk")
    if who.role is Role.OPERATOR and operator not in (None, op_id):
        raise HTTPException(403, f"this token acts for {op_id} only")
    board, deployment = app.switchboard, app.deployment
    org = deployment.organisation_of(operator=op_id)
    if op_id not in board.operators or org is None or not who.sees(org.id):
        raise HTTPException(404, f"no operator {op_id!r}")
    now = board.clock()
    me = deployment.operators[op_id]
    codes = {name: code for code, name in org.codes.items()}
    offered = next(((c, o) for c, o in board.talks.items() if o.operator == op_id), None)
    last_id = board.operators[op_id].last_call
    found = await database(app.store.call(last_id)) if last_id else None
    last = found[0] if found else None
    caller = await _caller(app, who, op_id, *offered, now) if offered else None
    shown = [(org.id, c["id"], None) for c in caller["previous"] if c["note"]] if caller else []
    if last is not None and last.note:
        shown.append((org.id, last.id, None))
    noted(app, who, request, shown)
    return {
        "operator": {
            **views.operator(board.operators[op_id], now),
            "name": me.name,
            "lines": list(me.lines),
            "languages": list(me.languages),
        },
        "organisation": {"id": org.id, "name": org.name},
        # what they may choose: their organisation's own
        "pause_reasons": list(org.policy.pause_reasons),
        "resolutions": list(org.policy.resolutions),
        "notification_outcomes": list(org.policy.notification_outcomes),
        "lines": [
            {
                "id": name,
                "titles": dict(deployment.lines[name].titles),
                "topics": list(deployment.lines[name].topics),
                "code": codes.get(name),
            }
            for name in sorted(org.lines)
        ],
        "colleagues": [
            {
                "id": other,
                "name": deployment.operators[other].name,
                "state": board.operators[other].state.value,
                "free": board.operators[other].free,
                "code": codes.get(other),
            }
            for other in sorted(org.operators - {op_id})
        ],
        "centres": [
            {**dataclasses.asdict(deployment.centres[c]), "code": codes.get(c)}
            for c in sorted(org.centres)
        ],
        # open detention notifications of their lines: to hear, call back and close
        "notifications": [
            {**shown_json(app, n), "recorded": bool(n.recording)}
            for n in app.notifications.listing()
            if n.handled_at is None and n.line in me.lines
        ],
        # callbacks waiting on their lines: the planned ones at their time, first
        "callbacks": sorted(
            (
                {
                    "call": call,
                    "line": waiting.line,
                    "number": callback.number,
                    "reason": callback.reason,
                    "at": waiting.not_before.isoformat() if waiting.not_before else None,
                    "by": callback.by,
                }
                for call, waiting in board.waiting.items()
                if waiting.callback
                and waiting.line in me.lines
                and (callback := board.callbacks.get(call)) is not None
            ),
            key=lambda c: (c["at"] is None, c["at"] or ""),
        ),
        "call": caller,
        "last_call": _wrap_up(last) if last is not None else None,
    }


async def _caller(
    app: App, who: Principal, op_id: str, call: str, offered: Any, now: datetime
) -> dict[str, Any]:
    """The screen pop: who is calling, how they got here, and what the operator's organisation
    knows of them (never another organisation's calls, reports or callbacks, whoever reads
    the desk; a withheld number matches nobody's)."""
    board, deployment = app.switchboard, app.deployment
    mine = organisation(app, operator=op_id)
    waiting = offered.waiting
    number = board.callers.get(call, "")
    found = await database(app.store.call(call))
    row = found[0] if found else None
    answered = offered.answered
    waited = ((answered or now) - waiting.entered).total_seconds() - waiting.talked
    known = identifies(number)
    forms = numbers.forms(number)
    earlier: list[tables.Call] = []
    if known:
        days = deployment.policy_of(operator=op_id).caller_history_days
        since = now - timedelta(days=days)
        earlier = await database(app.store.calls_from(number, since, but=call))
    serves = deployment.operators[op_id].lines
    return {
        "id": call,
        "state": "talking" if answered else "ringing",
        "caller": number,
        "language": waiting.language,
        "line": waiting.line,
        "path": row.path if row else [],
        "number": row.number if row else None,
        "waited": round(waited, 1),
        "answered": answered.isoformat() if answered else None,
        "previous": [
            {
                "id": r.id,
                "started": r.started_at.isoformat(),
                "line": r.line,
                "operator": r.operator,
                "outcome": views.outcome(r.outcome),
                "topics": r.topics,
                "resolution": r.resolution,
                # a note is theirs to read on the lines they serve (a supervisor: all)
                "note": r.note if who.supervisor or r.line in serves else None,
            }
            for r in earlier
            if organisation(app, number=r.number) == mine
        ],
        "notifications": [
            shown_json(app, n)
            for n in app.notifications.listing()
            if known
            and n.handled_at is None
            and (n.caller in forms or n.number in forms)
            and organisation(app, line=n.line) == mine
        ],
        "callbacks": [
            {"call": c, "number": cb.number, "reason": cb.reason}
            for c, cb in board.callbacks.items()
            if known
            and cb.number == number
            and c != call
            and organisation(app, line=board.line_of(c)) == mine
        ],
    }


def _wrap_up(row: tables.Call) -> dict[str, Any]:
    return {
        "id": row.id,
        "line": row.line,
        "answered": row.answered_at.isoformat() if row.answered_at else None,
        "ended": row.ended_at.isoformat() if row.ended_at else None,
        "topics": row.topics,
        "resolution": row.resolution,
        "note": row.note,
    }
