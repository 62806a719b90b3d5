"""The side API: health and the call log (queues, statistics and roles grow from here)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from agents.state import Event, LogIn, LogOut, OperatorError, Pause, Resume
from hotline.api import views
from hotline.calllog import CallLog
from hotline.notifications import NotificationStore, UnknownNotification
from hotline.switchboard import Switchboard

bearer = HTTPBearer(auto_error=False)


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    expected: str = request.app.state.api_token
    if (
        credentials is None
        or not expected
        or not hmac.compare_digest(credentials.credentials.encode(), expected.encode())
    ):
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )


# Every route is `async def`: the switchboard and the call log live on the event loop, and a
# plain `def` route would run in a worker thread.
router = APIRouter(prefix="/api", dependencies=[Depends(require_token)])


def _log(request: Request) -> CallLog:
    log: CallLog = request.app.state.call_log
    return log


@router.get("/calls")
async def list_calls(
    request: Request,
    sip_call_id: Annotated[str | None, Query(max_length=256)] = None,
    number: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Recent calls, newest first."""
    return [r.summary() for r in _log(request).find(sip_call_id, number, limit)]


@router.get("/calls/{call_id}")
async def get_call(request: Request, call_id: str) -> dict[str, Any]:
    """One call with its ordered events."""
    record = _log(request).calls.get(call_id)
    if record is None:
        raise HTTPException(404, f"no call {call_id!r}")
    return {**record.summary(), "events": [e.as_json() for e in record.events]}


def _board(request: Request) -> Switchboard:
    board: Switchboard = request.app.state.switchboard
    return board


@router.get("/queues")
async def queues(request: Request) -> dict[str, Any]:
    """Every line's queue now: waiting callers, longest wait, estimates, operators by state."""
    return views.queues(_board(request))


@router.get("/agents")
async def agents(request: Request) -> list[dict[str, Any]]:
    """Every operator's state."""
    return [views.operator(op) for op in _board(request).operators.values()]


ACTIONS: dict[str, Callable[[str | None], Event]] = {
    "login": lambda _: LogIn(),
    "logout": lambda _: LogOut(),
    "pause": lambda reason: Pause(reason or "break"),
    "resume": lambda _: Resume(),
}


@router.post("/agents/{operator}/{action}")
async def agent_action(
    request: Request,
    operator: Annotated[str, Path(max_length=32)],
    action: Literal["login", "logout", "pause", "resume"],
    reason: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Log an operator in or out, pause them (reason: break, training, admin) or resume."""
    board = _board(request)
    if operator not in board.operators:
        raise HTTPException(404, f"no operator {operator!r}")
    try:
        board.operator_event(operator, ACTIONS[action](reason))
    except OperatorError as exc:
        raise HTTPException(409, str(exc)) from None
    return views.operator(board.operators[operator])


@router.get("/notifications")
async def notifications(request: Request) -> list[dict[str, Any]]:
    """Detention notifications, the open ones first."""
    store: NotificationStore = request.app.state.notifications
    return [n.as_json() for n in store.listing()]


@router.post("/notifications/{ref}/handled")
async def notification_handled(
    request: Request,
    ref: Annotated[str, Path(pattern=r"^[0-9]{6}$")],
    by: Annotated[str, Query(min_length=1, max_length=32)],
) -> dict[str, Any]:
    """An operator (``by``) handled the notification: it closes, its callbacks stop."""
    store: NotificationStore = request.app.state.notifications
    board = _board(request)
    try:
        item = store.handle(ref, by, board.clock())
    except UnknownNotification:
        raise HTTPException(404, f"no notification {ref}") from None
    board.handled(ref)
    return item.as_json()


def create_api(
    call_log: CallLog,
    api_token: str,
    health: Any,
    switchboard: Switchboard,
    notifications: NotificationStore,
) -> FastAPI:
    """The FastAPI app; ``health`` is a callable returning the components' state."""
    app = FastAPI(title="Legal aid hotline", version="0.1.0")
    app.state.call_log = call_log
    app.state.api_token = api_token
    app.state.switchboard = switchboard
    app.state.notifications = notifications

    @app.get("/health")
    async def get_health() -> dict[str, Any]:
        """Whether Asterisk (AMI) and the call log are reachable."""
        state: dict[str, Any] = health()
        return state

    app.include_router(router)
    return app
