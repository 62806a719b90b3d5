"""The side API: health and the call log (queues, statistics and roles grow from here)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hotline.calllog import CallLog

bearer = HTTPBearer(auto_error=False)


def require_token(
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


router = APIRouter(prefix="/api", dependencies=[Depends(require_token)])


def _log(request: Request) -> CallLog:
    log: CallLog = request.app.state.call_log
    return log


@router.get("/calls")
def list_calls(
    request: Request,
    sip_call_id: Annotated[str | None, Query(max_length=256)] = None,
    number: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Recent calls, newest first."""
    return [r.summary() for r in _log(request).find(sip_call_id, number, limit)]


@router.get("/calls/{call_id}")
def get_call(request: Request, call_id: str) -> dict[str, Any]:
    """One call with its ordered events."""
    record = _log(request).calls.get(call_id)
    if record is None:
        raise HTTPException(404, f"no call {call_id!r}")
    return {**record.summary(), "events": [e.as_json() for e in record.events]}


def create_api(call_log: CallLog, api_token: str, health: Any) -> FastAPI:
    """The FastAPI app; ``health`` is a callable returning the components' state."""
    app = FastAPI(title="Legal aid hotline", version="0.1.0")
    app.state.call_log = call_log
    app.state.api_token = api_token

    @app.get("/health")
    def get_health() -> dict[str, Any]:
        """Whether Asterisk (AMI) and the call log are reachable."""
        state: dict[str, Any] = health()
        return state

    app.include_router(router)
    return app
