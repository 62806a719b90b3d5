"""The live queues and operators: who waits on which line, each operator's state, acting for an
operator (log in, pause, ...), and a supervisor joining an operator's call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import HTTPException, Path, Query

from agents.state import Event, LogIn, LogOut, OperatorError, Pause, Resume, WrapUpOver
from hotline.api import schemas, views
from hotline.api.access import Role
from hotline.api.deps import (
    Anyone,
    App,
    Handler,
    Name,
    Supervisor,
    Watcher,
    api_router,
    known,
    organisation,
    own,
    unprocessable,
)
from hotline.api.errors import Problem, errors
from hotline.calls import supervision

router = api_router()

NO_OPERATOR = (404, "No such operator (or another organisation's).")


@router.get("/queues", response_model=dict[str, schemas.LineQueue], responses=errors(403))
async def queues(app: App, who: Watcher) -> dict[str, Any]:
    """Every line's queue now (of the token's organisation): waiting callers (position, wait
    so far, language, priority), longest wait, estimated wait, operators serving it by state."""
    return {
        line: queue
        for line, queue in views.queues(app.switchboard, who).items()
        if who.sees(organisation(app, line=line))
    }


@router.get("/agents", response_model=list[schemas.Operator])
async def agents(app: App, who: Anyone) -> list[dict[str, Any]]:
    """Every operator's state (of the token's organisation; an operator's token: their own)."""
    return [
        views.operator(op, app.switchboard.clock())
        for op in app.switchboard.operators.values()
        if (who.role is not Role.OPERATOR or op.id == who.operator)
        and who.sees(organisation(app, operator=op.id))
    ]


@router.get("/centres", response_model=list[schemas.Centre])
async def centres(app: App, who: Anyone) -> list[dict[str, Any]]:
    """The organisation's directory of legal aid centres: where a caller can be transferred
    (``{"centre": id}``) and what to tell them of it; ``code`` is keyed after ## on a phone."""
    found = []
    for org in app.deployment.organisations.values():
        if who.sees(org.id):
            codes = {name: code for code, name in org.codes.items()}
            found += [
                {**dataclasses.asdict(app.deployment.centres[c]), "code": codes.get(c)}
                for c in sorted(org.centres)
            ]
    return found


@router.post(
    "/agents/{operator}/spy",
    status_code=202,
    response_model=schemas.Spying,
    responses=errors(
        403,
        NO_OPERATOR,
        (409, "The operator is not on a call (`operator-not-on-call`)."),
        (422, "An unknown supervisor, another organisation's, or an unknown mode."),
    ),
)
async def spy(
    app: App,
    who: Supervisor,
    operator: Annotated[str, Path(max_length=64)],
    supervisor: Name,
    mode: supervision.Mode = "listen",
) -> dict[str, Any]:
    """Ring ``supervisor``'s softphone and join it to the operator's current call: ``listen``
    (neither hears the supervisor), ``whisper`` (only the operator does) or ``barge`` (both)."""
    if operator not in app.switchboard.operators or not who.sees(
        organisation(app, operator=operator)
    ):
        raise HTTPException(404, f"no operator {operator!r}")
    known(supervisor, "supervisor", own(app, who, "supervisors"))
    # a supervisor listens to their own organisation's operators only, whoever asks
    if organisation(app, supervisor=supervisor) != organisation(app, operator=operator):
        raise unprocessable("supervisor", "query", f"{supervisor} is another organisation's")
    try:
        call = app.supervision.join(supervisor, operator, mode)
    except supervision.NotOnCall as exc:
        raise Problem(409, "operator-not-on-call", str(exc)) from None
    return {"call": call, "operator": operator, "supervisor": supervisor, "mode": mode}


#: Each action's event, of the reason it was given (a pause: already one of the operator's
#: organisation's pause reasons).
ACTIONS: dict[str, Callable[[str], Event]] = {
    "login": lambda _: LogIn(),
    "logout": lambda _: LogOut(),
    "pause": lambda reason: Pause(reason),
    "resume": lambda _: Resume(),
    "ready": lambda _: WrapUpOver(),  # the wrap-up is done: offered calls again now
}


@router.post(
    "/agents/{operator}/{action}",
    response_model=schemas.Operator,
    responses=errors(
        (403, "A viewer's token, or an operator's acting for another operator."),
        NO_OPERATOR,
        (
            409,
            "The action does not apply to the operator's state: pausing while logged out "
            "(`operator-state`).",
        ),
        (
            422,
            "An unknown action, or a pause reason not of the operator's organisation's "
            "`queues.pause_reasons`.",
        ),
    ),
)
async def agent_action(
    app: App,
    who: Handler,
    operator: Annotated[str, Path(max_length=64)],
    action: Literal["login", "logout", "pause", "resume", "ready"],
    reason: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Log an operator in or out, pause them (``reason``: one of their organisation's
    ``queues.pause_reasons``, by default its first), resume, or end their wrap-up now
    (``ready``). An operator's token acts on that operator only."""
    board = app.switchboard
    if operator not in board.operators or not who.sees(organisation(app, operator=operator)):
        raise HTTPException(404, f"no operator {operator!r}")
    if who.role is Role.OPERATOR and operator != who.operator:
        raise HTTPException(403, f"this token acts for {who.operator} only")
    reasons = app.deployment.policy_of(operator=operator).pause_reasons
    if action == "pause" and reason is not None and reason not in reasons:
        raise unprocessable("reason", "query", f"not a pause reason; one of {', '.join(reasons)}")
    try:
        board.operator_event(operator, ACTIONS[action](reason or reasons[0]))
    except OperatorError as exc:
        raise Problem(409, "operator-state", str(exc)) from None
    await board.kept()
    return views.operator(board.operators[operator], board.clock())
