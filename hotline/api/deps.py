"""What every API route depends on: the service's parts, who is asking (a bearer token or a
browser session), the roles a route allows, and one way to say a parameter is wrong (a 422
naming it) or the database is away (a 503); each in the one error shape of
:mod:`hotline.api.errors`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hotline.api.access import (
    STREAMS_PER_TOKEN,
    Principal,
    Role,
    Sessions,
    Streams,
    Tokens,
)
from hotline.api.errors import errors
from hotline.api.proxies import Networks
from hotline.api.throttles import Counts, Throttles
from hotline.api.versions import API
from hotline.asterisk.desk import DeskPhones
from hotline.calls import supervision
from hotline.calls.announcements import Announcements
from hotline.calls.switchboard import Switchboard
from hotline.config.deployment import Deployment
from hotline.events import EventBus
from hotline.lifecycle.erasure import Eraser
from hotline.reports.duty import Duty
from hotline.reports.escalations import Escalations
from hotline.reports.notifications import NotificationStore
from hotline.running.reload import Reloader
from hotline.store.calllog import CallLog
from hotline.store.db import Store
from hotline.store.trail import Trail
from hotline.vault import Vault

bearer = HTTPBearer(
    auto_error=False, description="a token from HOTLINE_API_TOKEN(S) or `hotline token create`"
)

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
    #: The service's state, of every organisation (None) or of one (hotline/app.py).
    health: Callable[[str | None], Awaitable[dict[str, Any]]]
    sessions: Sessions
    #: "active", "taking over", or "standby" (HOTLINE_HA): a standby forwards /api to the
    #: active instance.
    role: Callable[[], str] = lambda: "active"
    #: With a standby (HOTLINE_HA): where the active instance's API answers now, and this
    #: instance's name (hotline/api/standby.py).
    holder_url: Callable[[], Awaitable[str | None]] | None = None
    instance: str = ""
    #: /metrics asks for a token (HOTLINE_METRICS_AUTH).
    metrics_auth: bool = True
    #: Recordings and messages, sealed: opened only to be streamed.
    vault: Vault | None = None
    #: Logins per address, unknown notification references per token: in this instance's
    #: memory, or in Redis (HOTLINE_RATE_LIMIT_STORAGE).
    throttles: Throttles = field(default_factory=lambda: Throttles(Counts()))
    #: Event streams open per token (HOTLINE_STREAMS_PER_TOKEN).
    streams: Streams = field(default_factory=lambda: Streams(STREAMS_PER_TOKEN))
    #: The proxies whose X-Forwarded-For is believed (HOTLINE_TRUSTED_PROXIES).
    trusted_proxies: Networks = ()
    #: Each report's escalation to the people on duty.
    escalations: Escalations | None = None
    #: Who is on duty (None: a service built without rotas, as some tests build it).
    duty: Duty | None = None
    #: Erasure on request (None: a service built without it, as some tests build it).
    eraser: Eraser | None = None
    #: The audit trail of access to personal data (None: nothing recorded).
    trail: Trail | None = None
    #: The desk's phones' credentials (None: phones.browser is off).
    desk_phones: DeskPhones | None = None
    #: The ICE servers (TURN) a desk's phone gathers with, per operator (phones.turn).
    ice_servers: Callable[[str], list[dict[str, Any]]] = lambda _: []
    #: The lines' recorded announcements (None: a service built without them).
    announcements: Announcements | None = None
    #: Reads the config again and takes it (None: a service built without it).
    reloader: Reloader | None = None


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
    if who.role is Role.METRICS:  # a scraper's token, kept where Prometheus' config is
        raise HTTPException(403, "a metrics token reads /metrics and /health only")
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


def unprocessable(
    field: str, where: str, message: str, *within: int | str
) -> RequestValidationError:
    """A 422 as FastAPI's own are, naming the field (and the item ``within`` it)."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (where, field, *within), "msg": message, "input": None}]
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


def known(value: str | None, field: str, names: Any) -> str | None:
    """``value`` if it is one of ``names`` (those the token may name: :func:`own`), else a
    422 listing them: another organisation's id is as unknown as one nobody has."""
    if value is not None and value not in names:
        raise unprocessable(field, "query", f"unknown {field} {value!r}: one of {sorted(names)}")
    return value


def own(app: Parts, who: Principal, kind: str) -> frozenset[str]:
    """The ``lines``, ``operators`` or ``supervisors`` of ``who``'s organisation (a token of
    every organisation: the deployment's)."""
    organisations = app.deployment.organisations.values()
    return frozenset(
        name for org in organisations if who.sees(org.id) for name in getattr(org, kind)
    )


def organisation(app: Parts, **what: str | None) -> str | None:
    """The id of the organisation a ``number``, ``line``, ``operator`` or ``supervisor``
    belongs to (None: no organisation's)."""
    found = app.deployment.organisation_of(**what)
    return found.id if found else None


def targets(app: Parts, who: Principal) -> tuple[int, float]:
    """The service-level threshold (s) and target ``who``'s figures are held to: their
    organisation's (a token of none: the shared ones)."""
    policy = app.deployment.policy_of(who.organisation)
    return policy.service_level_threshold, policy.service_level_target


def home(app: Parts, who: Principal) -> str:
    """The time zone ``who``'s figures count days in: their organisation's, else the
    hotline's."""
    return app.deployment.rules_of(who.organisation).timezone


def zone(name: str | None, app: Parts, who: Principal | None = None) -> ZoneInfo:
    try:
        return ZoneInfo(name or (home(app, who) if who else app.deployment.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise unprocessable("tz", "query", f"unknown time zone {name!r}") from None


def aware(at: datetime | None, tz: ZoneInfo) -> datetime | None:
    """A time given without a zone is taken in the hotline's time zone."""
    return at.replace(tzinfo=tz) if at is not None and at.tzinfo is None else at


#: The 503 of a route that reads or writes the call log's database.
AWAY = (
    503,
    "The call log's database is unreachable, or this instance is a standby with no active "
    "instance to forward to: try again.",
)


async def database(coro: Any) -> Any:
    """Run a query; a database that is away is a clear 503, not a 500."""
    try:
        return await coro
    except Exception as exc:
        raise HTTPException(
            503, f"the call log database is unreachable ({type(exc).__name__}); try again"
        ) from None


def paged(what: str) -> dict[int | str, dict[str, Any]]:
    """The 200 of a paged listing: its ``X-Total-Count`` header (how many ``what`` match)."""
    header = {"description": f"how many {what} match in all", "schema": {"type": "integer"}}
    return {200: {"headers": {"X-Total-Count": header}}}


def api_router() -> APIRouter:
    """A router for /api routes: each needs a token (401), not a metrics token (403), names
    only the parameters it knows (422) and answers only on the active instance (503); each
    route adds the other errors it can answer. Every route is `async def`: the switchboard and
    the call log live on the event loop, and a plain `def` route would run in a worker
    thread."""
    return APIRouter(
        prefix=API,
        dependencies=[Depends(serving), Depends(principal), Depends(declared_only)],
        responses=errors(401, 403, 422, 503),
    )


async def serving(request: Request) -> None:
    """A standby holds no queue, and an instance taking over only part of it: its /api says
    so (503) rather than show an empty or partial one."""
    role = parts(request).role()
    if role == "taking over":
        raise HTTPException(
            503, "this instance is taking over: try again in a second", headers={"Retry-After": "1"}
        )
    if role != "active":
        raise HTTPException(
            503, "this instance is a standby: ask the active one", headers={"Retry-After": "1"}
        )
