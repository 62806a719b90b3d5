"""One shape for every error the API answers: an RFC 9457 problem details document
(``application/problem+json``): ``{"type": "urn:hotline:problem:<code>", "title": "...",
"status": 409, "code": "<code>", "detail": "<a sentence>", "errors": [...]}``.

``code`` (and ``type``, the same as a URI) is stable: what an integrator tells two answers of
one status apart by (``callback-refused`` or ``escalation-over``, both 409), never the English
of ``detail``. ``detail`` is always a sentence a person can read (the desk, the call search and
the CLI show it as it is); ``errors``, on a 422 only, names each rejected parameter as FastAPI
does (``loc``: where, then the name). :class:`Problem` (a route's error with its own code),
HTTPException (a code by its status), FastAPI's validation errors, the size limits
(:mod:`hotline.api.limits`), a standby's refusals (:mod:`hotline.api.standby`) and an
unexpected failure all answer in it. Each route declares the statuses it can answer with
:func:`errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.utils import is_body_allowed_for_status_code
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException

from hotline.calls.switchboard import NotActive


class FieldError(BaseModel):
    """One rejected input, as FastAPI names it."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    loc: list[str | int]
    """Where: ``query``, ``path``, ``header``, ``cookie`` or ``body``, then the parameter's or
    field's name (and an item's index), e.g. ``["query", "limit"]``, ``["body", "topics", 1]``."""
    msg: str
    """What is wrong with it."""
    type: str
    """A machine-readable kind (``missing``, ``less_than_equal``, ``value_error``, ...)."""
    input: Any = None
    """The value rejected (a long one cut to 256 characters; null when missing)."""


class ErrorResponse(BaseModel):
    """Every error the API answers (4xx and 5xx): an RFC 9457 problem details document."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    type: str = Field(examples=["urn:hotline:problem:invalid-input"])
    """The kind of problem, as a URI: ``urn:hotline:problem:`` and its :attr:`code`."""
    title: str = Field(examples=["A parameter or body field is wrong"])
    """The kind of problem in words (the same for every answer of its code)."""
    status: int = Field(examples=[422])
    """The HTTP status, repeated."""
    code: str = Field(examples=["invalid-input"])
    """The kind of problem, stable: what a program tells two answers of one status apart by."""
    detail: str = Field(
        examples=["query parameter 'limit': Input should be less than or equal to 1000"]
    )
    """What was wrong, in a sentence a person can read (shown as it is by the desk and the CLI)."""
    errors: list[FieldError] = []
    """On a 422 only: each rejected parameter or body field."""


#: The problem details' media type (RFC 9457).
PROBLEM = "application/problem+json"

#: The code and title of an error that has no code of its own, by status.
CODES: Mapping[int, tuple[str, str]] = {
    400: ("unreadable-body", "The request body could not be read"),
    401: ("unauthenticated", "No valid token or session"),
    403: ("forbidden", "Not allowed to this token"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Not possible now"),
    410: ("gone", "Gone"),
    413: ("body-too-large", "Request body too large"),
    414: ("target-too-long", "Request target too long"),
    416: ("range-not-satisfiable", "Range not satisfiable"),
    422: ("invalid-input", "A parameter or body field is wrong"),
    429: ("too-many-requests", "Too many requests"),
    431: ("headers-too-large", "Request headers too large"),
    500: ("internal-error", "Internal error"),
    503: ("unavailable", "Not available now"),
}


class Problem(HTTPException):
    """A route's error with a code of its own (``raise Problem(409, "escalation-over",
    "report 482193's escalation is over")``), so that a program need not read ``detail``."""

    def __init__(
        self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(status, detail, dict(headers) if headers else None)
        self.code = code


#: What each status means, wherever it is answered (a route may say more).
WHY: Mapping[int, str] = {
    400: "The request body could not be read (not UTF-8 text, say).",
    401: "No bearer token or session, or one that is unknown, revoked or expired.",
    403: "The token's role (or operator) may not do this; a metrics token may use no /api route.",
    404: "Not found (or not the token's organisation's to see).",
    409: "Not possible in the state things are in now; `detail` says why.",
    410: "Gone: deleted by the retention period.",
    413: "The request body is over 64 KiB.",
    422: "A parameter or body field is wrong: `errors` names each one.",
    429: "Too many tries: `Retry-After` says in how many seconds to try again.",
    503: (
        "This instance cannot answer now: a standby with no active instance to forward to "
        "(`Retry-After`)."
    ),
}

#: Headers an error may carry, by status.
HEADERS: Mapping[int, Mapping[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}},
}

REF = {"$ref": "#/components/schemas/ErrorResponse"}


def errors(*statuses: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route for the error statuses it can answer (a status alone, or
    with what it means on this route), each an :class:`ErrorResponse` in JSON whatever the
    route's own media type."""
    out: dict[int | str, dict[str, Any]] = {}
    for entry in statuses:
        status, why = entry if isinstance(entry, tuple) else (entry, WHY[entry])
        out[status] = {
            "description": why,
            "content": {PROBLEM: {"schema": REF}},
            **({"headers": dict(HEADERS[status])} if status in HEADERS else {}),
        }
    return out


def body(
    status: int, detail: str, errors: Sequence[FieldError] = (), code: str | None = None
) -> dict[str, Any]:
    """The problem details of an error (``errors`` only when there are some; ``code``: its
    own, else its status's)."""
    default, title = CODES.get(status, ("error", "Error"))
    code = code or default
    if code != default:
        title = code.replace("-", " ").capitalize()
    found = [error.model_dump(mode="json") for error in errors]
    problem = {"type": f"urn:hotline:problem:{code}", "title": title, "status": status}
    return {**problem, "code": code, "detail": detail, **({"errors": found} if found else {})}


def answer(
    status: int,
    detail: str,
    errors: Sequence[FieldError] = (),
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error's response: its problem details, as ``application/problem+json``."""
    return JSONResponse(
        body(status, detail, errors, code), status, headers=headers, media_type=PROBLEM
    )


#: How much of a rejected value a 422 echoes back (a 100 kB parameter is not sent back whole).
ECHO = 256

#: What each place of ``loc`` is called in a sentence.
PLACES = {
    "query": "query parameter",
    "path": "path parameter",
    "header": "header",
    "cookie": "cookie",
    "body": "body field",
}


def sentence(error: Mapping[str, Any]) -> str:
    """One rejected input in words: ``query parameter 'limit': Input should be ...``."""
    place, *path = error.get("loc") or ("request",)
    if error.get("type") == "json_invalid":
        why = (error.get("ctx") or {}).get("error")
        return "the request body is not valid JSON" + (f" ({why})" if why else "")
    if not path:
        return f"request {place}: {error.get('msg')}"
    name = str(path[0]) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[1:])
    return f"{PLACES.get(str(place), str(place))} {name!r}: {error.get('msg')}"


def echo(value: Any) -> Any:
    """A rejected value as a 422 sends it back: a body that is not JSON as text (whatever its
    bytes), a long one cut to :data:`ECHO` characters."""
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, str) and len(value) > ECHO:
        return f"{value[:ECHO]}... ({len(value)} long)"
    return jsonable_encoder(value)


#: Inputs a 422 never echoes back (a mistyped token is still a secret: proxies log bodies).
SECRETS = ("token", "password", "secret")


def secret(loc: Sequence[Any]) -> bool:
    """Whether an input at ``loc`` holds a secret (its value is withheld)."""
    return any(isinstance(p, str) and any(word in p.lower() for word in SECRETS) for p in loc)


async def invalid(request: Request, exc: Exception) -> JSONResponse:
    """A 422 naming each rejected input (in ``detail``, and one by one in ``errors``)."""
    assert isinstance(exc, RequestValidationError)
    found = [
        FieldError(
            loc=[p if isinstance(p, int) else str(p) for p in error.get("loc", ())],
            msg=str(error.get("msg", "")),
            type=str(error.get("type", "")),
            input=None if secret(error.get("loc", ())) else echo(error.get("input")),
        )
        for error in exc.errors()
    ]
    detail = "; ".join(sentence(error) for error in exc.errors()) or "invalid request"
    return answer(422, detail, found)


async def refused(request: Request, exc: Exception) -> Response:
    """An HTTPException (the routes' own, and Starlette's 404 and 405) in the one shape."""
    assert isinstance(exc, HTTPException)
    if not is_body_allowed_for_status_code(exc.status_code):
        return Response(status_code=exc.status_code, headers=exc.headers)
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    code = exc.code if isinstance(exc, Problem) else None
    return answer(exc.status_code, detail, code=code, headers=exc.headers)


async def not_active(request: Request, exc: Exception) -> JSONResponse:
    """The instance may not act now (its lease in doubt for a moment, or another active):
    nothing was done; a 503 that says to ask again, never a 200 for nothing."""
    return answer(503, str(exc), code="not-active", headers={"Retry-After": "1"})


async def failed(request: Request, exc: Exception) -> JSONResponse:
    """An unexpected failure: a 500 in the one shape (the traceback goes to the log, as the
    server logs it after this answer)."""
    return answer(500, "internal error: the service's log says more")


def install(app: FastAPI) -> None:
    """Every error of ``app`` in the one shape, and that shape among its OpenAPI components."""
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, refused)
    app.add_exception_handler(NotActive, not_active)
    app.add_exception_handler(Exception, failed)

    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()  # (FastAPI's, kept in app.openapi_schema: completed in place)
        _, found = models_json_schema(
            [(ErrorResponse, "serialization")], ref_template="#/components/schemas/{model}"
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(found["$defs"])
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
