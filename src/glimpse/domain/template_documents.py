"""The template resource as JSON: its schema (served and enforced), and JSON Patch on it.

One schema validates requests and is served at ``/v2/schemas/template``; the
parameter definitions inside are checked further by
``domain/template_parameters.py`` and ``user_data`` by
``domain/template_language.py``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import jsonschema

from glimpse.domain.patch import PatchOperation
from glimpse.domain.template_language import MAX_TEMPLATE_SIZE
from glimpse.domain.template_parameters import FORMATS, TYPES
from glimpse.domain.templates import CREATE_ATTRIBUTES, READ_ONLY_ATTRIBUTES
from glimpse.errors import InvalidPatch, ReadOnlyAttribute, SchemaViolation


def template_schema() -> dict[str, Any]:
    """``/v2/schemas/template``."""
    parameter = {
        "type": "object",
        "description": "A parameter definition, in the type system of the property catalog.",
        "properties": {
            "type": {"type": "string", "enum": list(TYPES)},
            "title": {"type": "string"}, "description": {"type": "string"}, "default": {},
            "required": {"type": "boolean"},
            "secret": {"type": "boolean", "description": "never stored or echoed; no default"},
            "format": {"type": "string", "enum": list(FORMATS)},
            "enum": {"type": "array"}, "pattern": {"type": "string"},
            "minLength": {"type": "integer"}, "maxLength": {"type": "integer"},
            "minimum": {"type": "number"}, "maximum": {"type": "number"},
            "items": {"type": "object"}, "minItems": {"type": "integer"}, "maxItems": {"type": "integer"},
            "uniqueItems": {"type": "boolean"},
        },
        "required": ["type"],
    }
    return {
        "name": "template",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "version", "image_id", "user_data"],
        "properties": {
            "id": {"type": "string", "readOnly": True, "description": "An identifier of this version"},
            "name": {"type": "string", "minLength": 1, "maxLength": 255,
                     "description": "The template's name; its versions share it"},
            "version": {"type": "string", "maxLength": 100,
                        "description": "Semantic version (MAJOR.MINOR.PATCH[-pre]); a published version is immutable"},
            "description": {"type": "string", "maxLength": 4096},
            "owner": {"type": ["null", "string"], "maxLength": 255},
            "visibility": {"type": "string", "enum": ["public", "community", "shared", "private"]},
            "protected": {"type": "boolean"},
            "deprecated": {"type": "boolean"},
            "tags": {"type": "array", "maxItems": 128, "items": {"type": "string", "minLength": 1, "maxLength": 255}},
            "image_id": {"type": "string", "description": "The image servers start from; must be active"},
            "parameters": {"type": "object", "additionalProperties": parameter},
            "user_data": {"type": "string", "maxLength": MAX_TEMPLATE_SIZE,
                          "description": "A cloud-init document (#cloud-config) in the sandboxed template language"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 255}},
            "min_ram": {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1},
            "min_disk": {"type": "integer", "minimum": 0, "maximum": 2 ** 31 - 1},
            "flavor_hint": {"type": ["null", "string"], "maxLength": 255},
            "networks_hint": {"type": "array", "maxItems": 16, "items": {"type": "string", "maxLength": 255}},
            "latest": {"type": "boolean", "readOnly": True,
                       "description": "Whether this is the newest version of its name that the caller can see"},
            "created_at": {"type": "string", "readOnly": True, "format": "date-time"},
            "updated_at": {"type": "string", "readOnly": True, "format": "date-time"},
            "self": {"type": "string", "readOnly": True},
            "schema": {"type": "string", "readOnly": True},
        },
        "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
    }


def templates_schema() -> dict[str, Any]:
    """``/v2/schemas/templates``."""
    return {
        "name": "templates",
        "properties": {"templates": {"type": "array", "items": template_schema()},
                       "first": {"type": "string"}, "next": {"type": "string"}, "schema": {"type": "string"}},
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }


def _request_schema() -> dict[str, Any]:
    """The schema requests are checked with: parameter definitions are left to
    ``template_parameters.check_definitions``, which reports every problem at once."""
    schema = template_schema()
    schema["properties"]["parameters"] = {"type": "object"}
    return {**schema, "required": []}


_VALIDATOR = jsonschema.Draft4Validator(_request_schema())


def validate(document: Any) -> dict[str, Any]:
    """``document`` if it fits the schema (read-only attributes refused); else :class:`SchemaViolation`."""
    if not isinstance(document, dict):
        raise SchemaViolation("A template must be a JSON object.")
    for name in document:
        if name in READ_ONLY_ATTRIBUTES:
            raise ReadOnlyAttribute(name)
        if name not in CREATE_ATTRIBUTES:
            raise SchemaViolation(f"'{name}' is not an attribute of a template.")
    error = next(iter(sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.path))), None)
    if error is not None:
        where = "/".join(str(p) for p in error.path) or "template"
        raise SchemaViolation(f"Invalid value for '{where}': {error.message}")
    return document


def apply_operations(document: dict[str, Any], operations: Sequence[PatchOperation]) -> dict[str, Any]:
    """``document`` with JSON Patch ``operations`` applied in order (nested paths allowed); all or nothing."""
    changed = copy.deepcopy(document)
    for operation in operations:
        *parents, last = operation.path
        if not parents and last in READ_ONLY_ATTRIBUTES:
            raise ReadOnlyAttribute(last)
        if not parents and last not in CREATE_ATTRIBUTES:
            raise InvalidPatch(f"'/{last}' is not an attribute of a template.")
        if not parents and operation.op == "remove":
            raise InvalidPatch(f"'/{last}' cannot be removed; replace it instead.")
        target: Any = changed
        for segment in parents:
            target = _step(target, segment, operation)
        _apply(target, last, operation)
    return changed


def _step(target: Any, segment: str, operation: PatchOperation) -> Any:
    if isinstance(target, dict) and segment in target:
        return target[segment]
    if isinstance(target, list) and segment.isdigit() and int(segment) < len(target):
        return target[int(segment)]
    raise InvalidPatch(f"The path '/{'/'.join(operation.path)}' does not exist.")


def _apply(target: Any, last: str, operation: PatchOperation) -> None:
    value = copy.deepcopy(operation.value)
    path = "/" + "/".join(operation.path)
    if isinstance(target, dict):
        if operation.op != "add" and last not in target:
            raise InvalidPatch(f"The path '{path}' does not exist.")
        if operation.op == "remove":
            del target[last]
        else:
            target[last] = value
    elif isinstance(target, list):
        index = len(target) if last == "-" and operation.op == "add" else _index(last, path)
        if index > len(target) or (operation.op != "add" and index >= len(target)):
            raise InvalidPatch(f"The path '{path}' does not exist.")
        if operation.op == "add":
            target.insert(index, value)
        elif operation.op == "remove":
            del target[index]
        else:
            target[index] = value
    else:
        raise InvalidPatch(f"The path '{path}' does not exist.")


def _index(segment: str, path: str) -> int:
    if not segment.isdigit():
        raise InvalidPatch(f"'{segment}' in '{path}' is not an array index.")
    return int(segment)
