"""Every error the API answers has one shape, RFC 9457's problem details with a stable
``code`` (``{"type", "title", "status", "code", "detail": "<sentence>", "errors"?: [...]}``), and
is declared on its route: the real app (create_api) over plain doubles of the service's parts."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from agents.state import OperatorError, OperatorState
from hotline import __version__
from hotline.api.access import Tokens, parse_tokens
from hotline.api.deps import Parts
from hotline.api.errors import ErrorResponse, sentence
from hotline.api.limits import MAX_TARGET
from hotline.api.routes import create_api
from hotline.calls.switchboard import NotActive

SUPERVISOR = "supervisor-token-of-the-error-tests"
VIEWER = "viewer-token-of-the-error-tests"


class Store:
    """The call log's database: call "1" was recorded, then its recording deleted; call
    "away" finds the database away; any other call is unknown."""

    async def tokens(self) -> list[Any]:
        return []

    async def call(self, call_id: str) -> tuple[Any, list[Any]] | None:
        if call_id == "away":
            raise ConnectionRefusedError("the database is away")
        if call_id != "1":
            return None
        return SimpleNamespace(number="0800213103", operator=None, transfers=[], line=None), []

    async def recording(self, call_id: str) -> Any:
        return SimpleNamespace(deleted_at=datetime(2026, 1, 2, tzinfo=UTC), path="/gone.wav")


def refuse_every_change(operator: str, event: Any) -> None:
    raise OperatorError(f"{operator} is logged out")


def parts(
    role: str = "active", holder_url: Callable[[], Awaitable[str | None]] | None = None
) -> Parts:
    store = Store()
    configured = parse_tokens(f"supervisor={SUPERVISOR},viewer={VIEWER}", {})
    deployment = SimpleNamespace(
        organisation_of=lambda **what: None,
        policy_of=lambda *_, **__: SimpleNamespace(pause_reasons=("break", "training")),
    )
    switchboard = SimpleNamespace(
        operators={"op1": OperatorState("op1")},
        operator_event=refuse_every_change,
        clock=lambda: datetime(2026, 11, 25, 9, tzinfo=UTC),
    )
    notifications = SimpleNamespace(items={})
    unused: Any = None
    return Parts(
        deployment=deployment,  # type: ignore[arg-type]
        switchboard=switchboard,  # type: ignore[arg-type]
        notifications=notifications,  # type: ignore[arg-type]
        store=store,  # type: ignore[arg-type]
        call_log=unused,
        bus=unused,
        tokens=Tokens(configured, store),  # type: ignore[arg-type]
        supervision=unused,
        health=unused,
        sessions=unused,
        role=lambda: role,
        holder_url=holder_url,
    )


@functools.cache
def schema() -> dict[str, Any]:
    """The app's OpenAPI schema (built once: it takes a while)."""
    return create_api(parts()).openapi()


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    #: The route as the OpenAPI names it (None: no route matches).
    route: str | None
    status: int
    token: str | None = SUPERVISOR
    content: bytes | None = None
    #: What ``detail`` says (a part of it).
    says: str = ""
    content_type: str = "application/json"


CASES = [
    Case("GET", "/api/v1/calls/1", "/api/v1/calls/{call_id}", 401, None, says="bearer token"),
    Case("GET", "/api/v1/calls/1", "/api/v1/calls/{call_id}", 401, "hl_not-a-token"),
    Case("GET", "/api/v1/calls/1", "/api/v1/calls/{call_id}", 403, VIEWER, says="viewer role"),
    Case("GET", "/api/v1/calls/nope", "/api/v1/calls/{call_id}", 404, says="no call 'nope'"),
    Case("GET", "/api/v1/calls/away", "/api/v1/calls/{call_id}", 503, says="unreachable"),
    Case(
        "GET",
        "/api/v1/calls/1/recording",
        "/api/v1/calls/{call_id}/recording",
        410,
        says="2026-01-02",
    ),
    Case(
        "POST",
        "/api/v1/agents/op1/login",
        "/api/v1/agents/{operator}/{action}",
        409,
        says="logged out",
    ),
    Case("POST", "/api/v1/agents/op9/login", "/api/v1/agents/{operator}/{action}", 404, says="op9"),
    Case(
        "POST",
        "/api/v1/agents/op1/pause?reason=lunch",
        "/api/v1/agents/{operator}/{action}",
        422,
        says="query parameter 'reason': not a pause reason; one of break, training",
    ),
    Case(
        "POST",
        "/api/v1/agents/op1/dance",
        "/api/v1/agents/{operator}/{action}",
        422,
        says="path parameter 'action': ",
    ),
    Case(
        "GET",
        "/api/v1/calls/1?verbose=1",
        "/api/v1/calls/{call_id}",
        422,
        says="query parameter 'verbose': unknown parameter",
    ),
    Case(
        "PUT",
        "/api/v1/calls/1/wrap-up",
        "/api/v1/calls/{call_id}/wrap-up",
        422,
        content=b'{"topics": [], "resolution": "x"}',
        says="body field 'topics': List should have at least 1 item",
    ),
    Case(
        "PUT",
        "/api/v1/calls/1/wrap-up",
        "/api/v1/calls/{call_id}/wrap-up",
        422,
        content=b'{"topics": [',
        says="the request body is not valid JSON",
    ),
    Case(
        "PUT",
        "/api/v1/calls/1/wrap-up",
        "/api/v1/calls/{call_id}/wrap-up",
        400,
        content=b'{"topics": ["\xff"]}',
    ),
    Case(
        "PUT",
        "/api/v1/calls/1/wrap-up",
        "/api/v1/calls/{call_id}/wrap-up",
        422,
        content=b"\xff\xfe not JSON",
        says="request body: Input should be a valid dictionary",
        content_type="text/plain",
    ),
    Case(
        "GET",
        "/api/v1/calls?outcome=lawyer-sent",
        "/api/v1/calls",
        422,
        says="query parameter 'outcome': Input should be 'answered', 'called-back', ",
    ),
    Case(
        "GET",
        "/api/v1/stats?from=0212-03-07T07:20:07Z&to=0212-03-07T11:20:07Z&tz=UTC",
        "/api/v1/stats",
        422,
        says="query parameter 'from': must be 1970 or later",
    ),
    Case("POST", "/api/v1/session", "/api/v1/session", 422, None, b"{}", "body field 'token'"),
    Case("POST", "/api/v1/session", "/api/v1/session", 401, None, b'{"token": "hl_x"}', "unknown"),
    Case("GET", "/api/v1/nowhere", None, 404, says="Not Found"),
    Case("DELETE", "/api/v1/calls/1", None, 405, says="Method Not Allowed"),
    Case("GET", "/api/v1/calls/" + "1" * MAX_TARGET, None, 414, says="request target over"),
]


async def answer(app: Any, case: Case) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    headers = {"Content-Type": case.content_type}
    if case.token:
        headers["Authorization"] = f"Bearer {case.token}"
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        return await client.request(case.method, case.path, content=case.content, headers=headers)


#: What every problem details document holds (RFC 9457, and the API's ``code``).
PROBLEM = {"type", "title", "status", "code", "detail"}


def assert_one_shape(
    reply: httpx.Response, status: int, says: str = "", code: str | None = None
) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = reply.json()
    ErrorResponse.model_validate(body, strict=True)
    assert isinstance(body["detail"], str) and body["detail"], body
    assert says in body["detail"], body
    assert body["status"] == status and body["type"] == f"urn:hotline:problem:{body['code']}"
    if code is not None:
        assert body["code"] == code, body
    # the errors one by one on a 422, and only then
    assert set(body) == (PROBLEM | {"errors"} if status == 422 else PROBLEM), body
    return body


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.status} {c.method} {c.path[:40]}")
async def test_every_error_has_the_one_shape_and_is_declared(case: Case) -> None:
    app = create_api(parts())
    body = assert_one_shape(await answer(app, case), case.status, case.says)
    if case.status == 422:
        assert all(e["loc"][0] in ("query", "path", "body") for e in body["errors"]), body
    if case.route is not None:
        declared = schema()["paths"][case.route][case.method.lower()]["responses"]
        assert str(case.status) in declared, sorted(declared)


async def test_a_422_names_each_wrong_parameter_and_echoes_little() -> None:
    app = create_api(parts())
    huge = "x" * 2000
    case = Case("GET", f"/api/v1/calls/1?verbose=1&{huge}=1", "/api/v1/calls/{call_id}", 422)
    body = assert_one_shape(await answer(app, case), 422)
    assert [e["loc"] for e in body["errors"]] == [["query", "verbose"]]  # the first unknown
    reply = await answer(app, Case("GET", f"/api/v1/calls/{huge}", None, 422))
    body = assert_one_shape(reply, 422, "path parameter 'call_id': String should have at most 64")
    assert len(reply.content) < 1000 and body["errors"][0]["input"].endswith("(2000 long)")


async def test_a_422_never_echoes_a_secret() -> None:
    app = create_api(parts())
    pasted = b'{"token": "hl_' + b"s" * 600 + b'"}'  # a token pasted twice, say
    case = Case("POST", "/api/v1/session", "/api/v1/session", 422, None, pasted)
    body = assert_one_shape(await answer(app, case), 422, "body field 'token'")
    assert [(e["loc"], e["input"]) for e in body["errors"]] == [(["body", "token"], None)]
    assert "sss" not in json.dumps(body)


async def test_unknown_references_held_back_in_the_one_shape() -> None:
    app = create_api(parts())
    case = Case("GET", "/api/v1/notifications/123456", "/api/v1/notifications/{ref}", 404)
    for _ in range(5):
        assert_one_shape(await answer(app, case), 404, "no notification 123456")
    reply = await answer(app, case)
    assert_one_shape(reply, 429, "too many unknown references")
    assert int(reply.headers["retry-after"]) > 0


async def no_holder() -> str | None:
    return None


@pytest.mark.parametrize(
    ("standby", "says"),
    [
        (parts(role="standby"), "this instance is a standby"),
        (parts(role="standby", holder_url=no_holder), "no instance is active yet"),
        # the lease's holder is this instance: answered here, not forwarded to itself
        (parts(role="taking over", holder_url=no_holder), "this instance is taking over"),
    ],
    ids=["not forwarding", "nobody to forward to", "taking over"],
)
async def test_a_standby_with_no_active_instance_says_so_in_the_one_shape(
    standby: Parts, says: str
) -> None:
    app = create_api(standby)
    reply = await answer(app, Case("GET", "/api/v1/calls/1", "/api/v1/calls/{call_id}", 503))
    assert_one_shape(reply, 503, says)
    assert reply.headers["retry-after"] == "1"


def test_the_schema_has_a_model_for_every_answer_and_the_one_shape_for_every_error() -> None:
    assert schema()["info"]["version"] == __version__
    error = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    operations = [(p, m, op) for p, ops in schema()["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 20
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == error, (where, status)
            elif int(status) != 204:  # (a 204 has no body)
                for media, content in response["content"].items():
                    described = content.get("schema") or content.get("itemSchema")
                    assert described, (where, status, media)
                    if media == "application/json":  # a model, not a bare dict
                        assert "$ref" in str(described), (where, status, described)
        if path.startswith("/api/v1/"):  # a standby forwards them, or says why it cannot
            assert "503" in operation["responses"], where
            assert "401" in operation["responses"] or where == "DELETE /api/v1/session", where
    assert "HTTPValidationError" not in schema()["components"]["schemas"]  # FastAPI's own 422


@pytest.mark.parametrize(
    ("error", "said"),
    [
        ({"loc": ("query", "limit"), "msg": "too big"}, "query parameter 'limit': too big"),
        ({"loc": ("path", "ref"), "msg": "no match"}, "path parameter 'ref': no match"),
        ({"loc": ("header", "last-event-id"), "msg": "bad"}, "header 'last-event-id': bad"),
        ({"loc": ("body", "topics", 1), "msg": "not one"}, "body field 'topics[1]': not one"),
        ({"loc": ("body", "a", "b"), "msg": "wrong"}, "body field 'a.b': wrong"),
        ({"loc": ("body",), "msg": "Field required"}, "request body: Field required"),
        (
            {"loc": ("body", 12), "msg": "JSON decode error", "type": "json_invalid", "ctx": {}},
            "the request body is not valid JSON",
        ),
        (
            {"loc": ("body", 1), "type": "json_invalid", "ctx": {"error": "Expecting value"}},
            "the request body is not valid JSON (Expecting value)",
        ),
    ],
)
def test_each_rejected_input_in_words(error: dict[str, Any], said: str) -> None:
    assert sentence(error) == said


async def test_an_operator_change_while_the_lease_is_in_doubt_is_a_503_never_a_200() -> None:
    """The lease goes into doubt after the request was let in (the database slow): the
    switchboard refuses the change (NotActive), and the API says so, to be asked again."""
    api = parts()

    def in_doubt(operator: str, event: Any) -> None:
        raise NotActive("this instance's lease is in doubt for a moment: ask again")

    api.switchboard.operator_event = in_doubt  # type: ignore[method-assign]
    app = create_api(api)
    case = Case("POST", "/api/v1/agents/op1/login", "/api/v1/agents/{operator}/{action}", 503)
    reply = await answer(app, case)
    assert_one_shape(reply, 503, "in doubt for a moment")
    assert reply.headers["retry-after"] == "1"


async def test_two_answers_of_one_status_are_told_apart_by_their_code() -> None:
    """A route's own problems (`Problem`) carry their code; a plain HTTPException its
    status's: a program reads ``code``, never the English of ``detail``."""
    from fastapi import FastAPI, HTTPException

    from hotline.api.errors import Problem, install

    app = FastAPI()
    install(app)

    @app.get("/over")
    async def over() -> None:
        raise Problem(409, "escalation-over", "report 482193's escalation is over (accepted)")

    @app.get("/plain")
    async def plain() -> None:
        raise HTTPException(409, "not now")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        over_ = assert_one_shape(await client.get("/over"), 409, "is over", "escalation-over")
        plain_ = assert_one_shape(await client.get("/plain"), 409, "not now", "conflict")
    assert (over_["title"], plain_["title"]) == ("Escalation over", "Not possible now")


async def test_the_paths_of_before_answer_as_their_v1_path_and_say_they_are_deprecated() -> None:
    """Every route is under /api/v1 (the schema names no other /api path); a path of before is
    answered as its /api/v1 path, errors included, with ``Deprecation`` and a ``Link`` to it;
    a version that does not exist is a 404."""
    app = create_api(parts())
    assert all(path.startswith("/api/v1/") for path in schema()["paths"] if path.startswith("/api"))
    for old in ("/api/calls/nope", "/api/calls/1/recording"):
        new = old.replace("/api/", "/api/v1/")
        before = await answer(app, Case("GET", old, None, 0))
        now = await answer(app, Case("GET", new, None, 0))
        assert (before.status_code, before.json()) == (now.status_code, now.json())
        assert before.headers["deprecation"] == "true"
        assert before.headers["link"] == f'<{new}>; rel="successor-version"'
        assert "deprecation" not in now.headers
    unknown = await answer(app, Case("GET", "/api/v2/calls/1", None, 404))
    assert_one_shape(unknown, 404, "Not Found")
