"""Events as data: every kind goes to JSON and back unchanged; malformed data is refused with
the field named."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.events import ENDINGS, KINDS, CallEnded, Fact, MenuAnswer, from_data, to_data

TEXT = st.text(max_size=20)
VALUES = {
    "str": TEXT,
    "Ending": st.sampled_from(ENDINGS) | TEXT,  # (another version's outcome read back too)
    "bool": st.booleans(),
    "int": st.integers(-(2**31), 2**31),
    "float": st.floats(allow_nan=False, allow_infinity=False),
    "tuple[str, ...]": st.lists(TEXT, max_size=4).map(tuple),
}


def of_type(annotation: str) -> st.SearchStrategy[object]:
    return st.one_of(*(st.none() if t == "None" else VALUES[t] for t in annotation.split(" | ")))


def facts(cls: type[Fact]) -> st.SearchStrategy[Fact]:
    return st.builds(cls, **{f.name: of_type(str(f.type)) for f in fields(cls)})


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data())
def test_every_kind_goes_to_json_and_back(kind: str, data: st.DataObject) -> None:
    fact = data.draw(facts(KINDS[kind]))
    assert fact.kind == kind
    through_json = json.loads(json.dumps(to_data(fact)))
    assert from_data(kind, through_json) == fact


def test_only_the_fields_that_are_set_are_written() -> None:
    assert to_data(CallEnded("abandoned", "detention", wait=12.5)) == {
        "outcome": "abandoned",
        "line": "detention",
        "wait": 12.5,
    }
    assert to_data(CallEnded("finished", path=("language:1", "main:4"))) == {
        "outcome": "finished",
        "path": ["language:1", "main:4"],
    }


@pytest.mark.parametrize(
    ("kind", "data", "says"),
    [
        ("call.teleported", {}, "unknown event kind 'call.teleported'"),
        ("menu.answer", {"menu": "main"}, "key"),
        ("menu.answer", {"menu": "main", "key": 1}, "key is not str"),
        ("menu.answer", {"menu": "main", "key": "1", "colour": "red"}, "unknown field(s) colour"),
        ("call.ended", {"outcome": "answered", "wait": "12"}, "wait is not float | None"),
        ("call.queued", {"line": "a", "language": "uk", "priority": True}, "priority is not int"),
    ],
)
def test_malformed_data_is_refused_with_the_field_named(
    kind: str, data: dict[str, object], says: str
) -> None:
    with pytest.raises((TypeError, ValueError), match=says.replace("(", r"\(").replace(")", r"\)")):
        from_data(kind, data)


def test_a_fact_is_frozen() -> None:
    answer = MenuAnswer("main", "1")
    with pytest.raises(AttributeError):
        answer.key = "2"  # type: ignore[misc]
