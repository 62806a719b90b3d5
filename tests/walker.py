"""A walk over every route of the API's OpenAPI document, for the test that each
organisation's data is its own (tests/integration/test_route_by_route.py).

Each route is asked by each identity (an organisation and a role) with its own ids, then,
one parameter at a time, with each other organisation's id and with an id nobody has: the
parameters come from the OpenAPI document (path, query, header, the JSON body's fields), the
values from what each organisation holds (:class:`Values`). A route added later is walked
without a line here, unless it names a parameter the walk has no value for: then the walk
fails and says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

#: Which ids a parameter (or body field) of that name takes: a field of :class:`Values`.
KINDS = {
    "call_id": "calls",
    "ref": "refs",
    "operator": "operators",
    "by": "operators",
    "line": "lines",
    "supervisor": "supervisors",
    "number": "numbers",
    "caller": "callers",
    "sip_call_id": "sip_call_ids",
    "centre": "centres",
    "office": "offices",
    "organisation": "organisations",
    "person": "people",
    "last-event-id": "events",
}


@dataclass
class Values:
    """One organisation's ids by kind (its own first), and what its requests say of the rest
    (a time zone, an outcome, a topic: :attr:`plain`)."""

    calls: list[str] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    supervisors: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    callers: list[str] = field(default_factory=list)
    sip_call_ids: list[str] = field(default_factory=list)
    centres: list[str] = field(default_factory=list)
    offices: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    plain: dict[str, Any] = field(default_factory=dict)


#: Ids nobody has, by kind: what another organisation's must be answered as.
NOBODY = Values(
    calls=["1699999999.99"],
    refs=["100001"],
    operators=["nobody"],
    lines=["nowhere"],
    supervisors=["nosupervisor"],
    numbers=["0800000009"],
    callers=["380000000009"],
    sip_call_ids=["sip-nobody@carrier"],
    centres=["no-centre"],
    offices=["no-office"],
    organisations=["no-organisation"],
    people=["nobody-on-duty"],
    events=["0" * 32],
)


@dataclass
class Asked:
    """One request of the walk, and what it varied (``varied``: the parameter, and whose
    value it took: ``own``, ``nobody`` or an organisation's id)."""

    method: str
    route: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    body: Any
    varied: tuple[str, str, str] | None = None
    #: Whether the route's answer is an event stream (read while the walk goes on).
    stream: bool = False
    #: What it changed of its route's first request.
    changes: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def sent(self) -> set[str]:
        """The values it carried: echoing them back is no leak."""
        found = {str(v) for v in (*self.params.values(), *self.headers.values())}
        found |= set(re.findall(r"[^/]+", self.path))
        if self.body is not None:
            found |= set(_strings(self.body))
        return found


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


#: (the body's fields' schemas are inline: no document needed to resolve them)
NO_DOCUMENT: dict[str, Any] = {"components": {"schemas": {}}}


def _schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its $ref and ``anyOf: [X, null]`` resolved."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return _schema(document, document["components"]["schemas"][name])
    options = [s for s in schema.get("anyOf", ()) if s.get("type") != "null"]
    return _schema(document, options[0]) if len(options) == 1 else schema


def _value(name: str, schema: dict[str, Any], values: Values, route: str) -> list[Any]:
    """The own values of a parameter: an enum's every value, an id kind's own ids, or the
    organisation's plain value of that name (a list's: its item's, as a list)."""
    if "enum" in schema:
        return list(schema["enum"])
    if schema.get("type") == "array":
        return [[item] for item in _value(name, schema.get("items", {}), values, route)]
    if name in KINDS:
        return list(getattr(values, KINDS[name])[:3])
    if name in values.plain:
        return [values.plain[name]]
    raise AssertionError(f"the walk knows no value for {name!r} of {route}: add one")


@dataclass
class Route:
    method: str
    path: str
    parameters: list[tuple[str, str, dict[str, Any], bool]]  # where, name, schema, required
    body: dict[str, Any] | None  # the JSON body's object schema (None: no body)
    stream: bool


def routes(document: dict[str, Any]) -> list[Route]:
    """Every operation of the document; event streams first (read while the rest is walked)."""
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = [
                (p["in"], p["name"], _schema(document, p["schema"]), p.get("required", False))
                for p in operation.get("parameters", ())
            ]
            content = operation.get("requestBody", {}).get("content", {})
            body = (
                _schema(document, content["application/json"]["schema"])
                if "application/json" in content
                else None
            )
            answers = operation.get("responses", {})
            kinds = {c for r in answers.values() for c in r.get("content", {})}
            stream = "text/event-stream" in kinds
            found.append(Route(method.upper(), path, parameters, body, stream))
    return sorted(found, key=lambda r: not r.stream)


class Requests:
    """A route's requests for one identity: :meth:`own` with its own values (each own value of
    each parameter in turn, each enum value; optional parameters and body fields one by
    one), then :meth:`foreign`: each id parameter with each other organisation's id and with
    nobody's, on top of an own request the route took (not a 422: the rest of it valid)."""

    def __init__(self, route: Route, own: Values, token: str) -> None:
        self.route, self.own, self.token = route, own, token
        self.label = f"{route.method} {route.path}"
        self.base: dict[tuple[str, str], Any] = {}
        self.required: list[tuple[str, str, dict[str, Any]]] = []
        self.optional: list[tuple[str, str, dict[str, Any]]] = []
        for where, name, schema, needed in route.parameters:
            if needed:
                self.base[where, name] = _value(name, schema, own, self.label)[0]
                self.required.append((where, name, schema))
            else:
                self.optional.append((where, name, schema))
        if route.body is not None:
            wanted = set(route.body.get("required", ()))
            for name, schema in route.body.get("properties", {}).items():
                schema = _schema(NO_DOCUMENT, schema)
                if name in wanted:
                    self.base["body", name] = _value(name, schema, own, self.label)[0]
                    self.required.append(("body", name, schema))
                else:
                    self.optional.append(("body", name, schema))

    def asked(
        self, changes: dict[tuple[str, str], Any], varied: tuple[str, str, str] | None
    ) -> Asked:
        chosen = {**self.base, **changes}
        path = self.route.path
        for (where, name), value in chosen.items():
            if where == "path":
                path = path.replace("{" + name + "}", str(value))
        headers = {"Authorization": f"Bearer {self.token}"}
        headers |= {n: str(v) for (w, n), v in chosen.items() if w == "header"}
        body = {n: v for (w, n), v in chosen.items() if w == "body"}
        return Asked(
            self.route.method,
            self.label,
            path,
            {n: v for (w, n), v in chosen.items() if w == "query"},
            headers,
            body if self.route.body is not None else None,
            varied,
            self.route.stream,
            changes,
        )

    def own_requests(self) -> Iterator[Asked]:
        yield self.asked({}, None)
        for where, name, schema in self.required + self.optional:
            for value in _value(name, schema, self.own, self.label):
                yield self.asked({(where, name): value}, (name, "own", str(value)))

    def foreign(self, others: Mapping[str, Values], on_top: Asked) -> Iterator[Asked]:
        for where, name, schema in self.required + self.optional:
            if name not in KINDS or "enum" in schema:
                continue
            for whose, theirs in [*others.items(), ("nobody", NOBODY)]:
                for value in getattr(theirs, KINDS[name])[:1]:
                    changes = {**on_top.changes, (where, name): value}
                    yield self.asked(changes, (name, whose, str(value)))


async def send(client: httpx.AsyncClient, request: Asked) -> httpx.Response:
    """One request, without the cookies an earlier answer set (a login's session)."""
    client.cookies.clear()
    return await client.request(
        request.method,
        request.path,
        params=request.params,
        headers=request.headers,
        json=request.body,
    )


async def read_stream(
    client: httpx.AsyncClient, request: Asked, until: asyncio.Event
) -> tuple[int, dict[str, str], str]:
    """An event stream's status, headers and text, read until ``until`` is set."""
    chunks: list[str] = []
    async with client.stream(
        "GET", request.path, params=request.params, headers=request.headers, timeout=None
    ) as reply:

        async def pump() -> None:
            async for chunk in reply.aiter_text():
                chunks.append(chunk)

        reading = asyncio.create_task(pump())
        await until.wait()
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
        return reply.status_code, dict(reply.headers), "".join(chunks)


def events(text: str) -> list[dict[str, Any]]:
    """The events of an event stream's text."""
    return [
        json.loads(line.removeprefix("data:"))
        for line in text.splitlines()
        if line.startswith("data:")
    ]


@dataclass
class Secrets:
    """What an identity must never be answered: other organisations' ids (found as a whole
    value, or as a word of a text) and words (found anywhere: numbers, names, notes)."""

    ids: set[str]
    words: set[str]


#: A word of a text, as ids are written (``ge-consultation``, ``op1``, ``318274``).
WORD = re.compile(r"[A-Za-z0-9_-]+")


def leaks(secrets: Secrets, request: Asked, headers: Mapping[str, str], text: str) -> list[str]:
    """What of ``secrets`` an answer holds (its body ``text``, its headers), beyond what the
    request itself said."""
    sent = request.sent
    ids, words = secrets.ids - sent, {w for w in secrets.words if w not in sent}
    kind = headers.get("content-type", "").split(";")[0]
    found = [f"{w!r} in the body" for w in words if w in text]
    heads = " ".join(v for k, v in headers.items() if k.lower() != "date")
    found += [f"{w!r} in a header" for w in words if w in heads]
    found += [f"{i!r} in a header" for i in set(WORD.findall(heads)) & ids]
    for value in _values(kind, text):
        if value in ids:
            found.append(f"{value!r} in the body")
    return sorted(set(found))


def _values(kind: str, text: str) -> Iterator[str]:
    """The values an answer is made of: a JSON document's strings (keys too), an event
    stream's events', a CSV's cells, a Prometheus text's label values; any other text's
    words (an error's sentence)."""
    if kind == "application/problem+json":
        yield from WORD.findall(text)  # an error: a sentence that may name ids
    elif kind == "application/json":
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        yield from _strings(document)
    elif kind == "text/event-stream":
        for line in text.splitlines():
            if line.startswith("data:"):
                yield from _strings(json.loads(line.removeprefix("data:")))
    elif kind == "text/csv":
        for row in csv.reader(io.StringIO(text)):
            yield from row
    elif kind == "text/plain":
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                yield from sample.labels.values()
    elif kind.startswith("text/") or not kind:
        yield from WORD.findall(text)


def normalised(request: Asked, text: str) -> str:
    """An answer with the varied value written as ``<id>``: another organisation's id and
    one nobody has must be answered alike."""
    if request.varied is None:
        return text
    return text.replace(request.varied[2], "<id>")
