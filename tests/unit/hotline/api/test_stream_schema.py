"""The event stream's payload schema (hotline/api/stream_schema.py): every kind of event the
service publishes, as each role sees it, fits its model and comes out of it as the same JSON;
the OpenAPI document has the union, one model per kind, referenced from /api/v1/events."""

from __future__ import annotations

import json
import logging
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.api import views
from hotline.api.access import Principal, Role
from hotline.api.stream_schema import ADAPTER, MODELS, serialised
from hotline.events import CallEvent
from routing.events import ENDINGS, KINDS, CallEnded, Fact
from tests.unit.hotline.api.test_errors import schema

TEXT = st.text(max_size=12)
#: Values of each field type, as the service makes them (an outcome is one of ENDINGS: mypy
#: checks every end names one).
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "str": TEXT,
    "Ending": st.sampled_from(ENDINGS),
    "bool": st.booleans(),
    "int": st.integers(-(2**31), 2**31),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "tuple[str, ...]": st.lists(TEXT, max_size=3).map(tuple),
}
READERS = [
    Principal(Role.SUPERVISOR),
    Principal(Role.OPERATOR, "op1"),
    Principal(Role.VIEWER),
    Principal(Role.SUPERVISOR, organisation="ua-legal-aid"),
]


def of_type(annotation: str) -> st.SearchStrategy[Any]:
    return st.one_of(*(st.none() if t == "None" else VALUES[t] for t in annotation.split(" | ")))


def facts(cls: type[Fact]) -> st.SearchStrategy[Fact]:
    return st.builds(cls, **{f.name: of_type(str(f.type)) for f in fields(cls)})


def events(kind: str) -> st.SearchStrategy[CallEvent]:
    return st.builds(
        CallEvent,
        st.sampled_from(["1796526905.3", ""]),
        st.integers(0, 10_000),
        st.just(datetime(2026, 11, 25, 9, 0, 12, 345678, tzinfo=UTC)),
        facts(KINDS[kind]),
        st.just("1796526905.3-1"),
        st.sampled_from([None, "ua-legal-aid"]),
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=25)
@given(data=st.data())
def test_every_kind_as_each_reader_sees_it_fits_its_model(kind: str, data: st.DataObject) -> None:
    item = data.draw(events(kind))
    for who in READERS:
        payload = views.event(item.as_json(), who)
        ADAPTER.validate_python(payload)  # (raises, naming the field, if it does not fit)
        assert json.loads(serialised(payload)) == json.loads(json.dumps(payload))


def test_every_kind_has_a_model_and_only_those() -> None:
    assert set(MODELS) == set(KINDS)


def test_stream_reset_fits_too() -> None:
    for last in ("1796526905.3-7", None):
        reset = {"kind": "stream.reset", "data": {"last_event_id": last}}
        assert json.loads(serialised(reset)) == reset


@pytest.mark.parametrize(
    "payload",
    [
        {"kind": "call.exploded", "data": {}},  # no such kind
        {"id": "1", "call_id": "1", "seq": 1, "at": "2026-11-25T09:00:00+00:00",
         "kind": "call.ended", "data": {"outcome": "answered", "mood": "fine"}},  # no such field
        {"id": "1", "call_id": "1", "seq": 1, "at": "2026-11-25T09:00:00+00:00",
         "kind": "call.ended", "data": {"outcome": "lawyer-sent"}},  # no such outcome
    ],
)  # fmt: skip
def test_what_fits_no_model_is_logged_and_still_sent(
    payload: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "hotline.api.stream_schema"):
        assert json.loads(serialised(payload)) == payload
    assert "does not fit its schema" in caplog.text


def test_a_viewer_sees_no_hidden_field_yet_the_event_fits() -> None:
    started = KINDS["call.started"]
    item = CallEvent(
        "1.1",
        1,
        datetime(2026, 11, 25, 9, tzinfo=UTC),
        started(**{f.name: "x" for f in fields(started) if str(f.type) == "str"}),
    )
    payload = views.event(item.as_json(), Principal(Role.VIEWER))
    assert not set(views.HIDDEN) & set(payload["data"])
    ADAPTER.validate_python(payload)


def test_the_openapi_document_has_the_stream_schema() -> None:
    document = schema()
    components = document["components"]["schemas"]
    union = components["StreamEvent"]
    assert union["discriminator"]["propertyName"] == "kind"
    assert set(union["discriminator"]["mapping"]) == {*KINDS, "stream.reset"}
    for kind, model in MODELS.items():
        assert union["discriminator"]["mapping"][kind] == f"#/components/schemas/{model.__name__}"
        assert model.__name__ in components and f"{model.__name__[:-5]}Data" in components
    ended = components["CallEndedData"]["properties"]["outcome"]
    assert ended == {"$ref": "#/components/schemas/Outcome"}
    assert set(components["Outcome"]["enum"]) == {*ENDINGS, "other"}
    answer = document["paths"]["/api/v1/events"]["get"]["responses"]["200"]
    data = answer["content"]["text/event-stream"]["itemSchema"]["properties"]["data"]
    assert data["contentSchema"] == {"$ref": "#/components/schemas/StreamEvent"}
    assert data["contentMediaType"] == "application/json"
    for example in union["examples"]:
        assert json.loads(serialised(example)) == example


def test_an_ended_call_in_the_stream_has_its_outcome_of_the_enum() -> None:
    item = CallEvent("1.1", 9, datetime(2026, 11, 25, 9, tzinfo=UTC), CallEnded("abandoned", "x"))
    sent = json.loads(serialised(views.event(item.as_json(), Principal(Role.SUPERVISOR))))
    assert sent["data"] == {"outcome": "abandoned", "line": "x"}
