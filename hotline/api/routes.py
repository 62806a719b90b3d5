"""The side API: queues, operators, the call log, statistics, notifications, live events.

Every /api route needs a bearer token; what it answers depends on the token's role (see
:mod:`hotline.api.access`). Bad parameters get a 422 naming the parameter. Each resource has
its module (:mod:`hotline.api.queues`, ``calls``, ``figures``, ``notifications``,
``stream``); this one makes the app of them, with health, metrics and browser sessions. What
each route answers is a model of :mod:`hotline.api.schemas`; every error has one shape
(:mod:`hotline.api.errors`).
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field

from hotline import __version__
from hotline.api import (
    audit,
    calls,
    desk,
    duty,
    erasures,
    errors,
    figures,
    live,
    notifications,
    phone,
    queues,
    schemas,
    stream,
    stream_schema,
    web,
)
from hotline.api import examples as ex
from hotline.api.access import SESSION_HOURS, Role, token_hash
from hotline.api.deps import (
    COOKIE,
    Anyone,
    Parts,
    resolve,
)
from hotline.api.limits import MAX_BODY, MAX_HEADERS, MAX_TARGET, Limits
from hotline.api.proxies import ClientAddress
from hotline.api.standby import Forward
from hotline.api.throttles import retry_after
from hotline.api.versions import API, Aliases
from hotline.figures import metrics


def create_api(app_parts: Parts) -> FastAPI:
    """The FastAPI app (OpenAPI at /docs)."""
    app = FastAPI(
        title="Legal aid hotline",
        version=__version__,
        description=DESCRIPTION,
    )
    app.state.parts = app_parts
    if app_parts.holder_url is not None:  # (inside Limits: what is forwarded was checked)
        app.add_middleware(
            Forward,
            active=lambda: app_parts.role() != "standby",
            holder_url=app_parts.holder_url,
            me=app_parts.instance,
        )
    app.add_middleware(Limits)
    # (outside them: the limits, the standby's forwarding and the log know the real client)
    app.add_middleware(ClientAddress, proxies=app_parts.trusted_proxies)
    app.add_middleware(Aliases)  # (outermost: everything inside sees /api/v1 paths)
    errors.install(app)
    stream_schema.install(app)

    @app.get("/health", response_model=schemas.Health, response_model_exclude_unset=True)
    async def get_health(request: Request) -> dict[str, Any]:
        """Up or down (``status``: ok or degraded) for anyone; with a token (but an
        operator's), what is wrong: the Asterisk (AMI) link, the call log's database, its
        spool and the disk, and the token's organisation's rotas' calendars and outbox (every
        organisation's for a token of every one)."""
        who = await resolve(request)
        # a token of one organisation: its own rotas' calendars and outbox, no other's
        state: dict[str, Any] = await app_parts.health(who.organisation if who else None)
        if who is None or who.role is Role.OPERATOR:  # (an operator's desk needs none of it)
            return {"status": state["status"]}
        return {**state, "rate_limits": app_parts.throttles.counts.state()}

    @app.get("/health/live", response_model=schemas.Live)
    async def get_live() -> dict[str, str]:
        """Whether the service's event loop answers at all, and whether it is the active
        instance or a standby (no token; `hotline guard` asks)."""
        return {"status": "alive", "role": app_parts.role()}

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            **errors.errors(
                (401, "No valid token (unless HOTLINE_METRICS_AUTH=false)."),
                (403, "An operator's token."),
            ),
        },
    )
    async def get_metrics(request: Request) -> Response:
        """Prometheus metrics (no caller data): queues, operators, calls by outcome, wait and
        handle time histograms, AGI and AMI round trips. Each organisation's figures to its
        own tokens (supervisor, viewer, metrics), every one's to a token of every
        organisation; the service's state (up, linked, active) to any. A token is needed
        unless HOTLINE_METRICS_AUTH=false, which shows the service's state alone to anyone."""
        who = await resolve(request)
        if who is None and app_parts.metrics_auth:
            raise HTTPException(
                401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )
        if who is not None and who.role is Role.OPERATOR:
            raise HTTPException(403, "the operator role may not use this")
        if who is None:
            view = metrics.View(None)
        else:
            view = metrics.View(who.organisation, everything=who.organisation is None)
        return Response(generate_latest(view), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        f"{API}/session",
        response_model=schemas.LoggedIn,
        responses=errors.errors(
            (401, "An unknown or revoked token."),
            (403, "A metrics token (it opens no session)."),
            400,
            413,
            422,
            429,
            (503, "The database is away (sessions are kept in it), or no instance is active."),
        ),
    )
    async def login(request: Request, body: Login, response: Response) -> dict[str, Any]:
        """A browser's login with an API token: a session opens, and its id (never the token)
        goes into an HttpOnly cookie (the wallboard's EventSource cannot send a header).
        At most 10 attempts a minute from one address (429 with ``Retry-After``): the
        connection's, or the one a trusted proxy names (HOTLINE_TRUSTED_PROXIES); counted
        together by the instances that share HOTLINE_RATE_LIMIT_STORAGE."""
        address = request.client.host if request.client else "?"
        if (wait := await app_parts.throttles.logins.hit(address)) > 0:
            raise HTTPException(
                429,
                f"too many logins from this address; try again in {math.ceil(wait)} s",
                headers=retry_after(wait),
            )
        who = await app_parts.tokens.find(body.token)
        if who is None:
            raise HTTPException(401, "unknown token")
        if who.role is Role.METRICS:
            raise HTTPException(403, "a metrics token reads /metrics and /health only")
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

    @app.delete(
        f"{API}/session",
        status_code=204,
        responses=errors.errors(
            (503, "The database is away (sessions are kept in it), or no instance is active.")
        ),
    )
    async def logout(request: Request, response: Response) -> None:
        """End the browser's session (for good: the cookie's id opens nothing any more)."""
        session = request.cookies.get(COOKIE)
        if session and len(session) <= 512:
            try:
                await app_parts.sessions.end(session, app_parts.switchboard.clock())
                if app_parts.desk_phones is not None:  # (its phone's credentials end with it)
                    key = "session:" + token_hash(session)
                    await asyncio.to_thread(app_parts.desk_phones.revoke, token=key)
            except Exception as exc:
                raise HTTPException(
                    503, f"cannot log out while the database is away ({type(exc).__name__})"
                ) from None
        response.delete_cookie(COOKIE)

    @app.get(f"{API}/session", response_model=schemas.Session, responses=errors.errors(401, 503))
    async def whoami(who: Anyone) -> dict[str, Any]:
        """Who the token or cookie belongs to, and the organisation it sees (null: every one)."""
        organisations = app_parts.deployment.organisations
        return {
            "role": who.role.value,
            "operator": who.operator,
            "name": who.name,
            "organisation": who.organisation,
            "organisation_name": (
                organisations[who.organisation].name if who.organisation else None
            ),
        }

    web.mount(app)
    for resource in (
        queues,
        live,
        calls,
        desk,
        phone,
        figures,
        notifications,
        stream,
        duty,
        audit,
        erasures,
    ):
        app.include_router(resource.router)
    return app


DESCRIPTION = (
    """Queues, operators, the call log and statistics of the hotline service.

Every `/api` route needs `Authorization: Bearer <token>` (or a browser's session cookie, from
`POST /api/v1/session`). Every route is under `/api/v1`; the paths of before (`/api/...`) still
answer, for one release, as their `/api/v1` path, with `Deprecation: true` and a `Link` to it.
Every error, whatever its status, is an `ErrorResponse`, RFC 9457's
problem details (`application/problem+json`): `code` (and `type`, the same as a URI) says
which problem it is, stable, so that two answers of one status are told apart without
reading English (`callback-refused`, `escalation-over`: both 409); `detail`, a sentence
saying what was wrong; on a 422 `errors` too, each rejected parameter (`loc`: where and its
name, `msg`: why). For instance `GET /api/v1/calls?limit=0` answers 422 with

    {"type": "urn:hotline:problem:invalid-input", "title": "A parameter or body field is wrong",
     "status": 422, "code": "invalid-input",
     "detail": "query parameter 'limit': Input should be greater than or equal to 1",
     "errors": [{"loc": ["query", "limit"], "msg": "Input should be greater than or equal to 1",
                 "type": "greater_than_equal", "input": "0"}]}

Each route lists the statuses it answers. Any route also answers 414, 431 or 413 to a request
whose target, headers or body is over """
    + f"{MAX_TARGET}, {MAX_HEADERS} or {MAX_BODY} bytes."
)


class Login(BaseModel):
    model_config = ConfigDict(json_schema_extra=ex.examples(ex.LOGIN))

    token: str = Field(min_length=1, max_length=512)
