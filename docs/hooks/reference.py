"""An MkDocs hook (mkdocs.yml's ``hooks:``): the two reference pages, generated at each build
from the code itself so that they cannot drift from it.

- ``reference/api.md``: every route of the side API, its parameters, body and answers, and
  every schema, from the OpenAPI document the service serves at ``/openapi.json``.
- ``reference/config.md``: every section and key of ``config/hotline.yaml``, its type, its
  default and what it means, from the config's schema (hotline/config/) and the ``#:``
  comments above each key there.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Iterator
from typing import Any, cast

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

API_PAGE, CONFIG_PAGE = "reference/api.md", "reference/config.md"
METHODS = ("get", "post", "put", "patch", "delete")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, content in ((API_PAGE, api_page()), (CONFIG_PAGE, config_page())):
        files.append(File.generated(config, uri, content=content))
    return files


# -- the API ---------------------------------------------------------------------------------


class _Unserved:
    """Stands for a running service's parts: the routes read them per request only, and the
    document needs no request."""

    holder_url = None
    trusted_proxies = ()


def openapi() -> dict[str, Any]:
    from hotline.api.deps import Parts
    from hotline.api.routes import create_api

    document: dict[str, Any] = create_api(cast(Parts, _Unserved())).openapi()
    return document


def api_page() -> str:
    document = openapi()
    out = [
        "# API reference",
        "",
        f"{document['info']['title']} {document['info']['version']}: generated from the OpenAPI "
        "document a running service serves at `/openapi.json` (and shows at `/docs`). Every "
        "route but `/health` and `/metrics` wants a token (`Authorization: Bearer ...`) or the "
        "session cookie; errors are problem details (`application/problem+json`).",
        "",
    ]
    for path, operations in document["paths"].items():
        for method in METHODS:
            if method in operations:
                out += _operation(method, path, operations[method])
    out += ["## Schemas", ""]
    for name, schema in document["components"]["schemas"].items():
        out += [f"### {name}", ""]
        if schema.get("description"):
            out += [_text(schema["description"]), ""]
        if schema.get("enum"):
            out += ["One of " + ", ".join(f"`{v}`" for v in schema["enum"]) + ".", ""]
        properties = schema.get("properties", {})
        if properties:
            required = set(schema.get("required", []))
            out += ["| Field | Type | Description |", "|---|---|---|"]
            for field, sub in properties.items():
                mark = "" if field in required else " (optional)"
                out.append(
                    f"| `{field}`{mark} | {_cell(_type(sub))} | {_cell(sub.get('description'))} |"
                )
            out.append("")
    return "\n".join(out)


def _operation(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    out = [f"## {method.upper()} `{path}`", ""]
    if operation.get("description"):
        out += [_text(operation["description"]), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        out += ["| Parameter | In | Type | Description |", "|---|---|---|---|"]
        for p in parameters:
            name = f"`{p['name']}`" + (" (required)" if p.get("required") else "")
            description = p.get("description") or p["schema"].get("description")
            kind = _cell(_type(p["schema"]))
            out.append(f"| {name} | {p['in']} | {kind} | {_cell(description)} |")
        out.append("")
    body = operation.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        out += [f"Body ({media}): {_type(content.get('schema', {}))}", ""]
    answers = []
    for status, answer in operation.get("responses", {}).items():
        schemas = [c.get("schema") for c in answer.get("content", {}).values() if c.get("schema")]
        shape = f" {_type(schemas[0])}" if schemas and status.startswith("2") else ""
        answers.append(f"- {status}{shape}: {_cell(answer.get('description'))}")
    return [*out, "Answers:", "", *answers, ""]


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema or "oneOf" in schema:
        kinds = [_type(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
        return " or ".join(k for k in kinds if k != "null") + (
            " or null" if "null" in kinds else ""
        )
    if "enum" in schema:
        return " | ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map to {_type(schema['additionalProperties'])}"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


# -- the config ------------------------------------------------------------------------------


def config_page() -> str:
    from hotline.config.schema import DeploymentModel

    out = [
        "# Config reference",
        "",
        "Every key of `config/hotline.yaml` (or the file `HOTLINE_CONFIG` names), generated from "
        "the config's schema. `hotline check` checks a file against it and names what is wrong; "
        "`hotline reload` takes a changed file without a restart (all but `sip` and `phones`). "
        "With several organisations, each one's sections sit under `organisations.<id>`; with "
        "one, at the top level.",
        "",
    ]
    seen: set[type[BaseModel]] = set()
    for path, model in _sections("", DeploymentModel, seen):
        out += [f"## `{path or '(top level)'}`", ""]
        if model.__doc__ and model.__doc__ is not BaseModel.__doc__:
            out += [_text(inspect.cleandoc(model.__doc__)), ""]
        notes = _comments(model)
        out += ["| Key | Type | Default | Meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            key = field.alias or name
            meaning = field.description or notes.get(name, "")
            out.append(
                f"| `{key}` | {_cell(_annotation(field.annotation))} | "
                f"{_cell(_default(field))} | {_cell(meaning)} |"
            )
        out.append("")
    return "\n".join(out)


def _sections(
    path: str, model: type[BaseModel], seen: set[type[BaseModel]]
) -> Iterator[tuple[str, type[BaseModel]]]:
    """Each model of the config once, depth first, with the dotted path where it first sits."""
    seen.add(model)
    yield path, model
    for name, field in model.model_fields.items():
        key = field.alias or name
        for inner, suffix in _models(field.annotation):
            if inner not in seen:
                yield from _sections(f"{path}.{key}{suffix}".lstrip("."), inner, seen)


def _models(annotation: Any, suffix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation, suffix
    elif origin is typing.Annotated:
        yield from _models(args[0], suffix)
    elif origin in (dict, typing.Mapping) and len(args) == 2:
        yield from _models(args[1], f"{suffix}.<id>")
    elif origin in (list, tuple, set, frozenset):
        for arg in args:
            yield from _models(arg, f"{suffix}[]")
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            yield from _models(arg, suffix)


def _annotation(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if origin is typing.Annotated:
        return _annotation(args[0])
    if origin is typing.Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_annotation(a) for a in args)
    if origin in (dict, typing.Mapping):
        return f"map of {_annotation(args[0])} to {_annotation(args[1])}"
    if origin in (list, tuple, set, frozenset):
        return f"list of {_annotation(args[0])}" if args else "list"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return getattr(annotation, "__name__", str(annotation)).replace("Model", "")


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        default = field.default_factory()
    else:
        default = field.default
    if default is PydanticUndefined or default is None:
        return ""
    if isinstance(default, BaseModel):
        return "(its defaults)"
    return f"`{default}`" if default not in ({}, [], "") else ""


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The ``#:`` comments written above each key in the model's source."""
    notes: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(model).splitlines()[1:]:
        if comment := re.match(r"\s+#:\s?(.*)", line):
            pending.append(comment.group(1))
        elif key := re.match(r"\s+(\w+)\s*:", line):
            if pending:
                notes[key.group(1)] = " ".join(pending)
            pending = []
        else:
            pending = []
    return notes


def _text(text: str) -> str:
    """A docstring as Markdown: reStructuredText's double backquotes as code."""
    return text.replace("``", "`")


def _cell(text: str | None) -> str:
    return _text(" ".join((text or "").split())).replace("|", "\\|")
