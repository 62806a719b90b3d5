"""The OpenAPI document's examples (hotline/api/examples.py): every route's JSON body and main
(2xx) JSON answer carries one, and each example is what its model takes and sends unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from hotline.api import calls, erasures, notifications, routes, schemas, stream_schema
from hotline.api import examples as ex
from tests.unit.hotline.api.test_errors import schema


def models() -> list[type[BaseModel]]:
    """The API's models that carry examples (answers and bodies)."""
    found: list[type[BaseModel]] = []
    for module in (schemas, calls, erasures, notifications, routes, stream_schema):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
                and "examples" in (value.model_config.get("json_schema_extra") or {})  # type: ignore[operator]
            ):
                found.append(value)
    return found


def test_the_examples_are_many() -> None:
    assert len(models()) >= 30


@pytest.mark.parametrize("model", models(), ids=lambda m: m.__name__)
def test_each_example_is_taken_and_sent_unchanged_by_its_model(model: type[BaseModel]) -> None:
    extra: Any = model.model_config.get("json_schema_extra")
    for example in extra["examples"]:
        checked = model.model_validate(example)
        sent = json.loads(checked.model_dump_json(by_alias=True, exclude_unset=True))
        assert sent == json.loads(json.dumps(example)), model.__name__


def test_each_transfer_example_is_a_valid_body() -> None:
    for named in ex.TRANSFERS.values():
        calls.TransferTo.model_validate(named["value"])


def _resolved(document: dict[str, Any], schema_: dict[str, Any]) -> dict[str, Any]:
    """What carries the examples of a body or an answer: its model's schema (a list's or a
    map's item's)."""
    options = [s for s in schema_.get("anyOf", ()) if s.get("type") != "null"]
    if len(options) == 1:
        return _resolved(document, options[0])
    if "$ref" in schema_:
        return document["components"]["schemas"][schema_["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]
    if schema_.get("type") == "array":
        return _resolved(document, schema_["items"])
    if isinstance(schema_.get("additionalProperties"), dict):
        return _resolved(document, schema_["additionalProperties"])
    return schema_


def _exemplified(document: dict[str, Any], content: dict[str, Any]) -> bool:
    if "example" in content or "examples" in content:
        return True
    return "examples" in _resolved(document, content.get("schema", {}))


def test_every_json_body_and_main_answer_has_an_example() -> None:
    document = schema()
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None and not _exemplified(document, body):
                missing.append(f"{method.upper()} {path}: body")
            for status, answer in operation["responses"].items():
                found = answer.get("content", {}).get("application/json")
                if status.startswith("2") and found is not None:
                    if not _exemplified(document, found):
                        missing.append(f"{method.upper()} {path}: {status}")
    assert missing == []


def test_a_transfer_has_a_named_example_for_each_target() -> None:
    operation = schema()["paths"]["/api/v1/calls/{call_id}/transfer"]["post"]
    named = operation["requestBody"]["content"]["application/json"]["examples"]
    assert {k: v["value"] for k, v in named.items()} == {
        "line": {"line": "detention"},
        "operator": {"operator": "op2"},
        "centre": {"centre": "kyiv-left-bank"},
    }
