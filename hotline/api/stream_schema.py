"""The event stream's payloads (``GET /api/v1/events``) as pydantic models: one per kind of
event, a union told apart by ``kind``, and ``stream.reset``.

The models are made from the events' own dataclasses (:data:`routing.events.KINDS`), so a
new kind or field is in the schema as soon as it is in the code; every payload the stream
sends goes through :func:`serialised` (checked, then written by the model). What a reader
does not see (:data:`hotline.api.views.HIDDEN`, left out for viewers) is optional here.
"""

from __future__ import annotations

import logging
from dataclasses import MISSING, fields
from typing import Annotated, Any, Literal, Union

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from hotline.api import examples as ex
from hotline.api.schemas import Outcome, Time
from hotline.api.views import HIDDEN
from routing.events import KINDS, Fact

log = logging.getLogger(__name__)

#: The types the events' fields are written with (their annotations' text), as JSON sends
#: them (tuples as lists).
TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "tuple[str, ...]": list[str],
    "Ending": Outcome,
    "None": None,
}


class Payload(BaseModel):
    """What every event of the stream carries besides its ``kind`` and ``data``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    id: str
    """The event's id: what a reconnecting client sends in ``Last-Event-ID``."""
    call_id: str
    """The call it is about (empty: none, e.g. an operator's state)."""
    seq: int
    """Its place among the call's events."""
    at: Time
    organisation: str | None = None
    """Whose it is (absent: no organisation's)."""


def _annotation(text: str) -> Any:
    parts = [TYPES[part] for part in text.split(" | ")]
    return Union[tuple(parts)] if len(parts) > 1 else parts[0]  # noqa: UP007 (made at runtime)


def _data(cls: type[Fact]) -> type[BaseModel]:
    """The model of ``cls``' ``data``: its fields that are set (a field left unset is absent,
    never null)."""
    found: dict[str, Any] = {}
    for f in fields(cls):
        annotation = _annotation(str(f.type))
        required = f.default is MISSING and f.default_factory is MISSING
        if required and f.name not in HIDDEN:
            found[f.name] = (annotation, ...)
        else:
            found[f.name] = (annotation | None, None)
    model = create_model(
        f"{cls.__name__}Data",
        __config__=ConfigDict(extra="forbid"),
        __doc__=(cls.__doc__ or cls.__name__).strip(),
        **found,
    )
    return model


def _event(kind: str, cls: type[Fact]) -> type[BaseModel]:
    named: Any = Literal[kind]  # (a literal made at runtime: mypy sees no type in it)
    return create_model(
        f"{cls.__name__}Event",
        __base__=Payload,
        __doc__=f"``{kind}``: {(cls.__doc__ or '').strip()}",
        kind=(named, ...),
        data=(_data(cls), ...),
    )


class ResetData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_event_id: str | None


class StreamReset(BaseModel):
    """``stream.reset``: the events since ``Last-Event-ID`` are no longer held (or were too
    many): read the state again. It has no id."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["stream.reset"]
    data: ResetData


#: Each kind's model, by kind.
MODELS: dict[str, type[BaseModel]] = {
    kind: _event(kind, cls) for kind, cls in sorted(KINDS.items())
}
#: One payload of the stream: a model by its ``kind``.
StreamEvent: Any = Annotated[
    Union[(StreamReset, *MODELS.values())],
    Field(discriminator="kind"),
]
ADAPTER: TypeAdapter[Any] = TypeAdapter(StreamEvent)


def serialised(payload: dict[str, Any]) -> str:
    """An event's payload as the stream sends it: checked against its model and written by
    it. One that does not fit (a bug) is logged and sent as it is: a wallboard misses no
    event for a schema's sake."""
    try:
        return ADAPTER.dump_json(ADAPTER.validate_python(payload), exclude_unset=True).decode()
    except ValidationError as exc:
        log.error("event stream: %s does not fit its schema: %s", payload.get("kind"), exc)
        return ADAPTER.dump_json(payload, warnings=False).decode()


#: The stream's ``text/event-stream`` response in the OpenAPI (its payload: ``StreamEvent``).
RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "Server-sent events; each `data:` is a `StreamEvent` in JSON (its `kind` says "
            "which), each `id:` the event's id."
        ),
        "content": {
            "text/event-stream": {
                "itemSchema": {
                    "required": ["data"],
                    "properties": {
                        "data": {
                            "type": "string",
                            "contentMediaType": "application/json",
                            "contentSchema": {"$ref": "#/components/schemas/StreamEvent"},
                        }
                    },
                }
            }
        },
    }
}


def install(app: FastAPI) -> None:
    """``StreamEvent`` and each kind's model among ``app``'s OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        found = ADAPTER.json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(found.pop("$defs"))
        components["StreamEvent"] = {
            "title": "StreamEvent",
            "description": "One payload of the event stream (GET /api/v1/events), by `kind`.",
            **found,
            "examples": [ex.STREAM_EVENT],
        }
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
