"""The side API: queues, operators, the call log, statistics, notifications, live events.

Every /api route needs a bearer token; what it answers depends on the token's role (see
:mod:`hotline.api.access`). Bad parameters get a 422 naming the parameter.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from agents.state import Event, LogIn, LogOut, OperatorError, Pause, Resume
from hotline import stats, supervision
from hotline.api import views, web
from hotline.api.access import SESSION_HOURS, Principal, Role, Sessions, Throttle, Tokens
from hotline.api.limits import Limits
from hotline.calllog import CallLog
from hotline.config import Deployment
from hotline.events import CallEvent, EventBus
from hotline.metrics import REGISTRY
from hotline.notifications import NotificationStore, UnknownNotification
from hotline.store import tables
from hotline.store.db import CallFilter, Store
from hotline.switchboard import Switchboard
from routing.events import CallEnded

bearer = HTTPBearer(
    auto_error=False, description="a token from HOTLINE_API_TOKEN(S) or `hotline token create`"
)

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
Name = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


@dataclass
class Parts:
    """What the routes work with (one per app, in ``app.state.parts``)."""

    deployment: Deployment
    switchboard: Switchboard
    notifications: NotificationStore
    store: Store
    call_log: CallLog
    bus: EventBus
    tokens: Tokens
    supervision: supervision.Supervision
    health: Callable[[], Any]
    sessions: Sessions
    #: /metrics asks for a token (HOTLINE_METRICS_AUTH).
    metrics_auth: bool = False
    #: Logins per address: 10 a minute.
    logins: Throttle = field(default_factory=lambda: Throttle(10, 60.0))
    #: Unknown notification references per token: 5 in 10 minutes (they are six digits).
    guesses: Throttle = field(default_factory=lambda: Throttle(5, 600.0))


def parts(request: Request) -> Parts:
    found: Parts = request.app.state.parts
    return found


#: The cookie a browser holds its token in (set by POST /api/session).
COOKIE = "hotline_token"


async def resolve(request: Request) -> Principal | None:
    """Who the request comes from: its bearer token, else its browser session's cookie."""
    app = parts(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        return await app.tokens.find(token) if len(token) <= 512 else None
    session = request.cookies.get(COOKIE)
    if session and len(session) <= 512:
        return await app.sessions.find(session, app.switchboard.clock())
    return None


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    who = await resolve(request)
    if who is None:
        raise HTTPException(
            401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    return who


def allow(*roles: Role) -> Callable[..., Any]:
    async def check(who: Annotated[Principal, Depends(principal)]) -> Principal:
        if who.role not in roles:
            raise HTTPException(403, f"the {who.role} role may not use this")
        return who

    return check


Anyone = Annotated[Principal, Depends(principal)]
Watcher = Annotated[Principal, Depends(allow(Role.SUPERVISOR, Role.VIEWER))]
Handler = Annotated[Principal, Depends(allow(Role.SUPERVISOR, Role.OPERATOR))]
Supervisor = Annotated[Principal, Depends(allow(Role.SUPERVISOR))]
App = Annotated[Parts, Depends(parts)]


def unprocessable(field: str, where: str, message: str) -> RequestValidationError:
    """A 422 in FastAPI's own shape, naming the field."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (where, field), "msg": message, "input": None}]
    )


#: The query parameters each route declares (filled as routes are first called).
_DECLARED: dict[str, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> frozenset[str]:
    """The query parameters of a route and of all its dependencies."""
    names = frozenset(field.alias for field in dependant.query_params)
    return names.union(*(_query_names(sub) for sub in dependant.dependencies))


async def declared_only(request: Request) -> None:
    """A query parameter no route knows is a 422 naming it, not silently ignored: a
    misspelt filter (``?caler=``) would otherwise list every call."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    names = _DECLARED.get(route.unique_id)
    if names is None:
        names = _DECLARED[route.unique_id] = _query_names(route.dependant)
    for name in request.query_params:
        if name not in names:
            known_names = ", ".join(sorted(names)) or "none"
            raise unprocessable(name[:64], "query", f"unknown parameter (known: {known_names})")


# Every route is `async def`: the switchboard and the call log live on the event loop, and a
# plain `def` route would run in a worker thread.
router = APIRouter(prefix="/api", dependencies=[Depends(principal), Depends(declared_only)])

#: How much of a rejected value a 422 echoes back (a 100 kB parameter is not sent back whole).
ECHO = 256


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with each rejected input cut to :data:`ECHO` characters."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        value = error.get("input")
        if isinstance(value, str | bytes) and len(value) > ECHO:
            error = {**error, "input": f"{value[:ECHO]!s}... ({len(value)} long)"}
        errors.append(error)
    return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})


def known(value: str | None, field: str, names: Any) -> str | None:
    if value is not None and value not in names:
        raise unprocessable(field, "query", f"unknown {field} {value!r}: one of {sorted(names)}")
    return value


def zone(name: str | None, app: Parts) -> ZoneInfo:
    try:
        return ZoneInfo(name or app.deployment.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise unprocessable("tz", "query", f"unknown time zone {name!r}") from None


def aware(at: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A time given without a zone is taken in the hotline's time zone."""
    return at.replace(tzinfo=tz) if at is not None and at.tzinfo is None else at


async def database(coro: Any) -> Any:
    """Run a query; a database that is away is a clear 503, not a 500."""
    try:
        return await coro
    except Exception as exc:
        raise HTTPException(
            503, f"the call log database is unreachable ({type(exc).__name__}); try again"
        ) from None


# -- queues and operators -------------------------------------------------------------------
@router.get("/queues")
async def queues(app: App, who: Watcher) -> dict[str, Any]:
    """Every line's queue now: waiting callers (position, wait so far, language, priority),
    longest wait, estimated wait, operators serving it by state."""
    return views.queues(app.switchboard, who)


@router.get("/agents")
async def agents(app: App, who: Anyone) -> list[dict[str, Any]]:
    """Every operator's state (an operator's token: their own)."""
    return [
        views.operator(op, app.switchboard.clock())
        for op in app.switchboard.operators.values()
        if who.role is not Role.OPERATOR or op.id == who.operator
    ]


@router.post("/agents/{operator}/spy", status_code=202)
async def spy(
    app: App,
    who: Supervisor,
    operator: Annotated[str, Path(max_length=64)],
    supervisor: Name,
    mode: supervision.Mode = "listen",
) -> dict[str, Any]:
    """Ring ``supervisor``'s softphone and join it to the operator's current call: ``listen``
    (neither hears the supervisor), ``whisper`` (only the operator does) or ``barge`` (both)."""
    if operator not in app.switchboard.operators:
        raise HTTPException(404, f"no operator {operator!r}")
    known(supervisor, "supervisor", app.deployment.supervisors)
    try:
        call = app.supervision.join(supervisor, operator, mode)
    except supervision.NotOnCall as exc:
        raise HTTPException(409, str(exc)) from None
    return {"call": call, "operator": operator, "supervisor": supervisor, "mode": mode}


ACTIONS: dict[str, Callable[[str | None], Event]] = {
    "login": lambda _: LogIn(),
    "logout": lambda _: LogOut(),
    "pause": lambda reason: Pause(reason or "break"),
    "resume": lambda _: Resume(),
}


@router.post("/agents/{operator}/{action}")
async def agent_action(
    app: App,
    who: Handler,
    operator: Annotated[str, Path(max_length=64)],
    action: Literal["login", "logout", "pause", "resume"],
    reason: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """Log an operator in or out, pause them (reason: break, training, admin) or resume.
    An operator's token acts on that operator only."""
    board = app.switchboard
    if operator not in board.operators:
        raise HTTPException(404, f"no operator {operator!r}")
    if who.role is Role.OPERATOR and operator != who.operator:
        raise HTTPException(403, f"this token acts for {who.operator} only")
    try:
        board.operator_event(operator, ACTIONS[action](reason))
    except OperatorError as exc:
        raise HTTPException(409, str(exc)) from None
    return views.operator(board.operators[operator], board.clock())


# -- the call log ---------------------------------------------------------------------------
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
    zone_ = zone(tz, app)
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
    if found is None or (who.role is Role.OPERATOR and found[0].operator != who.operator):
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


# -- statistics -----------------------------------------------------------------------------
@router.get("/stats")
async def get_stats(
    app: App,
    who: Watcher,
    since: Annotated[
        datetime | None, Query(alias="from", description="default: today 00:00")
    ] = None,
    until: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
    line: Name | None = None,
    by: stats.Period = "hour",
    threshold: Annotated[
        float | None, Query(gt=0, le=3600, description="seconds (default: the config's)")
    ] = None,
    tz: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Offered, answered, abandoned, service level (answered within ``threshold`` s), average
    speed of answer, average handle time and longest wait: in all, per line, per operator and
    per hour or day (in ``tz``, by default the hotline's)."""
    zone_ = zone(tz, app)
    now = app.switchboard.clock()
    until = aware(until, zone_) or now
    since = aware(since, zone_) or stats.period_start(now, "day", zone_)
    if since >= until:
        raise unprocessable("from", "query", "must be before 'to'")
    if until - since > timedelta(days=366):
        raise unprocessable("from", "query", "the period may be at most 366 days")
    known(line, "line", app.deployment.lines)
    rows = await database(app.store.queued_calls(since, until, line))
    queued = (
        stats.Queued(
            r.line, r.operator, r.queued_at, r.answered_at is not None, r.wait, r.talk, r.outcome
        )
        for r in rows
        if r.queued_at is not None
    )
    policy = app.deployment.policy
    figures = stats.compute(
        queued, since, until, threshold or policy.service_level_threshold, by, zone_
    )
    figures["target"] = policy.service_level_target
    return figures


# -- detention notifications ----------------------------------------------------------------
@router.get("/notifications")
async def notifications(app: App, who: Supervisor) -> list[dict[str, Any]]:
    """Detention notifications, the open ones first; ``overdue``: open for longer than the
    config's ``notification_target``."""
    now = app.switchboard.clock()
    target = timedelta(seconds=app.deployment.policy.notification_target)
    return [
        {**n.as_json(), "overdue": n.handled_at is None and now - n.at > target}
        for n in app.notifications.listing()
    ]


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
    if found is None or not (
        who.supervisor
        or (who.operator is not None and app.deployment.operators[who.operator].serves(found.line))
    ):  # another line's notification is none of theirs: as unknown as a wrong number
        app.guesses.count(guesser)
        raise HTTPException(404, f"no notification {ref}")
    try:
        item = app.notifications.handle(ref, by, board.clock())
    except UnknownNotification:
        raise HTTPException(404, f"no notification {ref}") from None
    board.handled(ref, item.call, by)
    return item.as_json()


# -- live events ----------------------------------------------------------------------------
#: Seconds between two checks that an event stream's token or session is still valid.
RECHECK = 5.0


@router.get("/events", response_class=EventSourceResponse)
async def events(request: Request, app: App, who: Anyone) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: every domain event as it happens, as JSON (``kind`` says what).
    Supervisors get everything; viewers the same without numbers or SIP identifiers; operators
    their own. The stream ends once its token is revoked or its session ended."""
    queue = app.bus.listen(maxsize=1000)
    mine: set[str] = set()
    checked = time.monotonic()
    try:
        yield ServerSentEvent(comment="connected", retry=2000)
        while True:
            try:
                item: CallEvent | None = await asyncio.wait_for(queue.get(), RECHECK)
            except TimeoutError:
                item = None
            if time.monotonic() - checked >= RECHECK:
                checked = time.monotonic()
                if await resolve(request) != who:
                    return  # revoked, logged out, expired
            if item is None:
                continue
            if who.role is Role.OPERATOR and not _theirs(item, who, mine):
                continue
            yield ServerSentEvent(data=views.event(item.as_json(), who), id=item.id)
    finally:
        app.bus.unlisten(queue)


def _theirs(item: CallEvent, who: Principal, mine: set[str]) -> bool:
    """Whether an operator may see this event: about them, or about a call offered to them."""
    if getattr(item.fact, "operator", None) == who.operator:
        if item.call_id:
            mine.add(item.call_id)
        return True
    if item.call_id in mine:
        if isinstance(item.fact, CallEnded):
            mine.discard(item.call_id)
        return True
    return False


def create_api(app_parts: Parts) -> FastAPI:
    """The FastAPI app (OpenAPI at /docs)."""
    app = FastAPI(
        title="Legal aid hotline",
        version="0.2.0",
        description="Queues, operators, the call log and statistics of the hotline service.",
    )
    app.state.parts = app_parts
    app.add_middleware(Limits)
    app.add_exception_handler(RequestValidationError, validation_error)

    @app.get("/health")
    async def get_health(request: Request) -> dict[str, Any]:
        """Up or down (``status``: ok or degraded) for anyone; with a token, what is wrong:
        the Asterisk (AMI) link, the call log's database, its spool and the disk."""
        state: dict[str, Any] = await app_parts.health()
        if await resolve(request) is None:
            return {"status": state["status"]}
        return state

    @app.get("/health/live")
    async def get_live() -> dict[str, str]:
        """Whether the service's event loop answers at all (no token; `hotline guard` asks)."""
        return {"status": "alive"}

    @app.get("/metrics", response_class=Response)
    async def get_metrics(request: Request) -> Response:
        """Prometheus metrics (no caller data): queues, operators, calls by outcome, wait and
        handle time histograms, AGI and AMI round trips. A token is needed where the config
        says so (HOTLINE_METRICS_AUTH)."""
        if app_parts.metrics_auth and await resolve(request) is None:
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    @app.post("/api/session")
    async def login(request: Request, body: Login, response: Response) -> dict[str, Any]:
        """A browser's login with an API token: a session opens, and its id (never the token)
        goes into an HttpOnly cookie (the wallboard's EventSource cannot send a header).
        At most 10 attempts a minute from one address (429)."""
        address = request.client.host if request.client else "?"
        if (wait := app_parts.logins.wait(address)) > 0:
            raise HTTPException(
                429,
                "too many logins from this address; try again later",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        app_parts.logins.count(address)
        who = await app_parts.tokens.find(body.token)
        if who is None:
            raise HTTPException(401, "unknown token")
        try:
            # (at start, the database's tables may still be on their way)
            await asyncio.wait_for(app_parts.call_log.ready.wait(), 5)
            session = await app_parts.sessions.open(body.token, app_parts.switchboard.clock())
        except Exception as exc:
            raise HTTPException(
                503, f"cannot log in while the database is away ({type(exc).__name__})"
            ) from None
        response.set_cookie(
            COOKIE,
            session,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=SESSION_HOURS * 3600,
        )
        return {"role": who.role.value, "operator": who.operator}

    @app.delete("/api/session", status_code=204)
    async def logout(request: Request, response: Response) -> None:
        """End the browser's session (for good: the cookie's id opens nothing any more)."""
        session = request.cookies.get(COOKIE)
        if session and len(session) <= 512:
            try:
                await app_parts.sessions.end(session, app_parts.switchboard.clock())
            except Exception as exc:
                raise HTTPException(
                    503, f"cannot log out while the database is away ({type(exc).__name__})"
                ) from None
        response.delete_cookie(COOKIE)

    @app.get("/api/session")
    async def whoami(who: Anyone) -> dict[str, Any]:
        """Who the token or cookie belongs to."""
        return {"role": who.role.value, "operator": who.operator, "name": who.name}

    web.mount(app)
    app.include_router(router)
    return app


class Login(BaseModel):
    token: str = Field(min_length=1, max_length=512)
