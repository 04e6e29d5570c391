"""JSON schemas of the metadefs catalog: what requests are validated with and what
``/v2/schemas/metadefs/*`` serves, from one set of definitions.

The shapes are Glance's (python-glanceclient builds its ``md-*`` commands and
models from them): element schemas refuse unknown keys and carry their
``definitions``; collection schemas hoist those ``definitions`` to the top.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

import jsonschema

from glimpse.errors import SchemaViolation

#: Value types a property definition may declare (``null`` stays allowed, as in Glance).
PROPERTY_TYPES: list[Any] = ["array", "boolean", "integer", "number", "object", "string", None]


def _timestamp(what: str) -> dict[str, Any]:
    return {"type": "string", "readOnly": True, "description": what, "format": "date-time"}


def _link() -> dict[str, Any]:
    return {"readOnly": True, "type": "string"}


def _definitions(*, non_empty_lists: bool) -> dict[str, Any]:
    string_array: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
    if non_empty_lists:
        string_array = {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True}
    return {
        "positiveInteger": {"type": "integer", "minimum": 0},
        "positiveIntegerDefault0": {"allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]},
        "stringArray": string_array,
    }


def property_fields() -> dict[str, Any]:
    """The keys of one property definition and their schemas."""
    return {
        "name": {"type": "string", "maxLength": 80},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "operators": {"type": "array", "items": {"type": "string"}},
        "type": {"type": "string", "enum": list(PROPERTY_TYPES)},
        "required": {"$ref": "#/definitions/stringArray"},
        "minimum": {"type": "number"},
        "maximum": {"type": "number"},
        "maxLength": {"$ref": "#/definitions/positiveInteger"},
        "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "pattern": {"type": "string", "format": "regex"},
        "enum": {"type": "array"},
        "readonly": {"type": "boolean"},
        "default": {},
        "items": {"type": "object", "properties": {"type": {"type": "string", "enum": list(PROPERTY_TYPES)},
                                                   "enum": {"type": "array"}}},
        "maxItems": {"$ref": "#/definitions/positiveInteger"},
        "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
        "uniqueItems": {"type": "boolean", "default": False},
        "additionalItems": {"type": "boolean"},
    }


def _property_map_definition() -> dict[str, Any]:
    """``definitions.property``: a mapping of property name to definition."""
    return {"type": "object",
            "additionalProperties": {"type": "object", "required": ["title", "type"],
                                     "properties": property_fields()}}


def _namespace_definitions() -> dict[str, Any]:
    return {**_definitions(non_empty_lists=False), "property": _property_map_definition()}


def namespace_schema() -> dict[str, Any]:
    """``GET /v2/schemas/metadefs/namespace``."""
    return {
        "name": "namespace",
        "properties": {
            "namespace": {"type": "string", "description": "Unique name of the namespace.", "maxLength": 80},
            "display_name": {"type": "string", "description": "Name of the namespace shown to people.",
                             "maxLength": 80},
            "description": {"type": "string", "description": "What the namespace describes.", "maxLength": 500},
            "visibility": {"type": "string", "description": "Who can see the namespace.",
                           "enum": ["public", "private"]},
            "protected": {"type": "boolean", "description": "A protected namespace cannot be deleted."},
            "owner": {"type": "string", "description": "Project that owns the namespace.", "maxLength": 255},
            "created_at": _timestamp("When the namespace was created"),
            "updated_at": _timestamp("When the namespace last changed"),
            "schema": _link(),
            "self": _link(),
            "resource_type_associations": {
                "type": "array",
                "items": {"type": "object", "properties": {"name": {"type": "string"}, "prefix": {"type": "string"},
                                                           "properties_target": {"type": "string"}}},
            },
            "properties": {"$ref": "#/definitions/property"},
            "objects": {
                "type": "array",
                "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "description": {"type": "string"},
                    "required": {"$ref": "#/definitions/stringArray"},
                    "properties": {"$ref": "#/definitions/property"}}},
            },
            "tags": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
        },
        "additionalProperties": False,
        "definitions": _namespace_definitions(),
        "required": ["namespace"],
    }


def object_schema() -> dict[str, Any]:
    """``GET /v2/schemas/metadefs/object``."""
    return {
        "name": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "description": {"type": "string"},
            "required": {"$ref": "#/definitions/stringArray"},
            "properties": {"$ref": "#/definitions/property"},
            "schema": _link(),
            "self": _link(),
            "created_at": _timestamp("When the object was created"),
            "updated_at": _timestamp("When the object last changed"),
        },
        "additionalProperties": False,
        "definitions": _namespace_definitions(),
        "required": ["name"],
    }


def property_schema(*, require_name: bool = True) -> dict[str, Any]:
    """``GET /v2/schemas/metadefs/property``; inside a collection the name is the key instead."""
    return {
        "name": "property",
        "properties": property_fields(),
        "additionalProperties": False,
        "definitions": _definitions(non_empty_lists=True),
        "required": ["type", "title", "name"] if require_name else ["type", "title"],
    }


def resource_type_schema() -> dict[str, Any]:
    """``GET /v2/schemas/metadefs/resource_type`` (an association, as Glance names it)."""
    return {
        "name": "resource_type_association",
        "properties": {
            "name": {"type": "string", "maxLength": 80,
                     "description": "Resource type, named as in Heat where possible (OS::Glance::Image, ...)."},
            "prefix": {"type": "string", "maxLength": 80,
                       "description": "Prefix the namespace's property names carry on this resource type, "
                                      "separator included (hw_, hw:)."},
            "properties_target": {"type": "string", "maxLength": 80,
                                  "description": "Which of the resource's property sets the definitions apply "
                                                 "to, where it has several (Cinder volumes: image)."},
            "created_at": _timestamp("When the association was made"),
            "updated_at": _timestamp("When the association last changed"),
        },
        "additionalProperties": False,
        "required": ["name"],
    }


def tag_schema() -> dict[str, Any]:
    """``GET /v2/schemas/metadefs/tag``."""
    return {
        "name": "tag",
        "properties": {
            "name": {"type": "string", "maxLength": 80},
            "created_at": _timestamp("When the tag was created"),
            "updated_at": _timestamp("When the tag last changed"),
        },
        "additionalProperties": False,
        "required": ["name"],
    }


def tag_list_body_schema() -> dict[str, Any]:
    """What ``POST …/tags`` takes: ``{"tags": [{"name": …}, …]}``."""
    return {
        "name": "tags",
        "properties": {
            "tags": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}},
                                                "required": ["name"], "additionalProperties": False}},
        },
        "additionalProperties": False,
    }


def collection(name: str, item: Mapping[str, Any]) -> dict[str, Any]:
    """A list schema around ``item``, its ``definitions`` hoisted to the top."""
    element = copy.deepcopy(dict(item))
    definitions = element.pop("definitions", None)
    document: dict[str, Any] = {
        "name": name,
        "properties": {
            name: {"type": "array", "items": element},
            "first": {"type": "string"},
            "next": {"type": "string"},
            "schema": {"type": "string"},
        },
        "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                  {"rel": "describedby", "href": "{schema}"}],
    }
    if definitions:
        document["definitions"] = definitions
    return document


def properties_collection() -> dict[str, Any]:
    """``GET /v2/schemas/metadefs/properties``: a mapping of name to definition."""
    document = collection("properties", property_schema(require_name=False))
    document["properties"]["properties"] = {"type": "object",
                                            "additionalProperties": document["properties"]["properties"]["items"]}
    return document


#: Every schema under ``/v2/schemas/metadefs/``, by the last segment of its path.
def served() -> dict[str, dict[str, Any]]:
    return {
        "namespace": namespace_schema(),
        "namespaces": collection("namespaces", namespace_schema()),
        "object": object_schema(),
        "objects": collection("objects", object_schema()),
        "property": property_schema(),
        "properties": properties_collection(),
        "resource_type": resource_type_schema(),
        "resource_types": collection("resource_type_associations", resource_type_schema()),
        "tag": tag_schema(),
        "tags": collection("tags", tag_schema()),
    }


class BodyValidator:
    """Validates request bodies against one of the schemas above."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._name = str(document["name"])
        self._validator = jsonschema.Draft4Validator(document)

    def validate(self, body: Any) -> None:
        """Raise :class:`SchemaViolation` naming the first part of ``body`` that does not fit."""
        errors = sorted(self._validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            error = errors[0]
            where = "/".join(str(p) for p in error.absolute_path)
            at = f" at '{where}'" if where else ""
            raise SchemaViolation(f"Provided object does not match schema '{self._name}'{at}: {error.message}")
        for path, pattern in _patterns(body):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SchemaViolation(f"Property '{path}' has a pattern that is not a regular expression: {exc}.")


def _patterns(body: Any, path: str = "") -> list[tuple[str, str]]:
    """Every ``pattern`` of a property definition found in ``body``."""
    found: list[tuple[str, str]] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "pattern" and isinstance(value, str):
                found.append((path or "pattern", value))
            else:
                found.extend(_patterns(value, key if isinstance(value, dict) else path))
    elif isinstance(body, list):
        for item in body:
            found.extend(_patterns(item, path))
    return found
