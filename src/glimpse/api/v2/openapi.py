"""``/openapi.json``: an OpenAPI 3.1 description of the API, built from the route table and from the
very JSON schemas the server validates requests with (and serves at ``/v2/schemas/*``).

Every route of :data:`~glimpse.api.v2.routes.METADATA` and :data:`~glimpse.api.v2.routes.DATA` is
described; request and response bodies come from :mod:`glimpse.domain.schemas` and
:mod:`glimpse.domain.metadef_schemas` (their ``definitions`` inlined, their Glance-only annotations
removed). Errors are one shape for every route, negotiated as :mod:`glimpse.api.errors` does. The
description is what ``tests/api/test_fuzzing.py`` feeds schemathesis.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from glimpse import __version__
from glimpse.api import caching
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.api.v2.routes import DATA, IMAGE, METADATA, NAMESPACE
from glimpse.domain import metadef_schemas
from glimpse.domain.patch import MEDIA_TYPE_V21
from glimpse.domain.schemas import ImageSchema, STATUSES, member_schema, members_schema, task_schema, tasks_schema

_ERROR = {"type": "object", "required": ["message", "code", "title", "status"],
          "properties": {"message": {"type": "string"}, "code": {"type": "string"}, "title": {"type": "string"},
                         "status": {"type": "integer"}, "request_id": {"type": "string"}}}
_ANY_OBJECT: dict[str, Any] = {"type": "object"}
#: Schema-level keys of Glance's documents that are not JSON Schema (``name`` of a document, ``links``).
_ANNOTATIONS = {"name", "links", "is_base"}
#: Routes that answer with no body on success: (path, method) -> status.
_NO_CONTENT = {
    (IMAGE + "/actions/deactivate", "POST"): "204", (IMAGE + "/actions/reactivate", "POST"): "204",
    (IMAGE + "/tags/{tag}", "PUT"): "204", (IMAGE + "/file", "PUT"): "204", (IMAGE + "/import", "POST"): "202",
}
#: Query parameters of ``GET /v2/images`` (values as :mod:`glimpse.domain.queries` parses them).
_LIST_PARAMETERS = {
    "limit": {"type": "integer", "minimum": 0}, "marker": {"type": "string"},
    "sort_key": {"type": "string", "enum": ["name", "status", "container_format", "disk_format", "size", "id",
                                            "created_at", "updated_at"]},
    "sort_dir": {"type": "string", "enum": ["asc", "desc"]},
    "name": {"type": "string"}, "status": {"type": "string", "enum": STATUSES},
    "visibility": {"type": "string", "enum": ["public", "private", "shared", "community", "all"]},
    "member_status": {"type": "string", "enum": ["pending", "accepted", "rejected", "all"]},
    "owner": {"type": "string"}, "tag": {"type": "string"}, "os_hidden": {"type": "boolean"},
    "protected": {"type": "boolean"}, "size_min": {"type": "integer", "minimum": 0},
    "size_max": {"type": "integer", "minimum": 0}, "min_ram": {"type": "integer", "minimum": 0},
    "min_disk": {"type": "integer", "minimum": 0}, "created_at": {"type": "string"}, "updated_at": {"type": "string"},
}


@bodiless
async def document(request: Request) -> Response:
    """``GET /openapi.json``."""
    return caching.json_response(describe(services_of(request).schema), request_headers=request.headers,
                                 cache_control=f"public, max-age={caching.SCHEMA_MAX_AGE}")


def describe(schema: ImageSchema) -> dict[str, Any]:
    """The OpenAPI 3.1 document of this node's API, for the image schema in force."""
    bodies = _bodies(schema)
    paths: dict[str, dict[str, Any]] = {}
    for path, methods in METADATA + DATA:
        template = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
        for method in methods:
            paths.setdefault(template, {})[method.lower()] = _operation(path, method, bodies)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Glimpse Images API", "version": __version__,
                 "description": "OpenStack Images API v2, as served by Glimpse."},
        "paths": paths,
        "components": {"schemas": {"Error": _ERROR}},
    }


def _operation(path: str, method: str, bodies: dict[str, Any]) -> dict[str, Any]:
    request, response = _bodies_of(path, method, bodies)
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
                  for name in re.findall(r"\{(\w+)(?::\w+)?\}", path)]
    if path == "/v2/images" and method == "GET":
        parameters += [{"name": name, "in": "query", "required": False, "schema": value}
                       for name, value in _LIST_PARAMETERS.items()]
    errors = {"description": "An error, negotiated on Accept",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}},
                          "text/html": {"schema": {"type": "string"}},
                          "text/plain": {"schema": {"type": "string"}}}}
    responses: dict[str, Any] = {"default": errors}
    status = _NO_CONTENT.get((path, method))
    if method == "DELETE" or status is not None:
        responses[status or "204"] = {"description": "Done"}
    elif path == IMAGE + "/file":
        responses["200"] = {"description": "The image data",
                            "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                "format": "binary"}}}}
        responses["204"] = {"description": "The image has no data"}
    else:
        responses["2XX"] = {"description": "Success", "content": {"application/json": {"schema": response}}}
    operation: dict[str, Any] = {"operationId": f"{method.lower()} {path}", "parameters": parameters,
                                 "responses": responses}
    if request is not None:
        media, body_schema = request
        operation["requestBody"] = {"required": True, "content": {media: {"schema": body_schema}}}
    return operation


def _bodies_of(path: str, method: str, bodies: dict[str, Any]) -> tuple[tuple[str, Any] | None, Any]:
    """``((media type, request schema) or None, response schema)`` of one operation."""
    json = "application/json"
    table: dict[tuple[str, str], tuple[tuple[str, Any] | None, Any]] = {
        ("/v2/images", "GET"): (None, bodies["images"]),
        ("/v2/images", "POST"): ((json, bodies["image_create"]), bodies["image"]),
        (IMAGE, "GET"): (None, bodies["image"]),
        (IMAGE, "PATCH"): ((MEDIA_TYPE_V21, bodies["patch"]), bodies["image"]),
        (IMAGE + "/file", "PUT"): (("application/octet-stream", {"type": "string", "format": "binary"}), None),
        (IMAGE + "/members", "GET"): (None, bodies["members"]),
        (IMAGE + "/members", "POST"): ((json, _object({"member": {"type": "string"}})), bodies["member"]),
        (IMAGE + "/members/{member_id}", "GET"): (None, bodies["member"]),
        (IMAGE + "/members/{member_id}", "PUT"): (
            (json, _object({"status": {"type": "string", "enum": ["pending", "accepted", "rejected"]}})),
            bodies["member"]),
        (IMAGE + "/properties/{name:path}", "PUT"): (
            (json, _object({"value": {}, "visibility": {"type": "string", "enum": ["public", "private"]}},
                           required=["value"])), _ANY_OBJECT),
        (IMAGE + "/import", "POST"): ((json, _object({"method": _object({"name": {"type": "string"}})})), None),
        ("/v2/tasks", "GET"): (None, bodies["tasks"]),
        ("/v2/tasks", "POST"): ((json, _object({"type": {"type": "string"}, "input": {"type": "object"}})),
                                bodies["task"]),
        ("/v2/tasks/{task_id}", "GET"): (None, bodies["task"]),
    }
    if (path, method) in table:
        return table[(path, method)]
    if path.startswith(NAMESPACE) or path.startswith("/v2/metadefs/namespaces"):
        return _metadef_bodies(path, method, bodies)
    return None, _ANY_OBJECT


def _metadef_bodies(path: str, method: str, bodies: dict[str, Any]) -> tuple[tuple[str, Any] | None, Any]:
    kind = {"/v2/metadefs/namespaces": "namespace", NAMESPACE: "namespace", NAMESPACE + "/objects": "object",
            NAMESPACE + "/objects/{name}": "object", NAMESPACE + "/properties": "property",
            NAMESPACE + "/properties/{name}": "property", NAMESPACE + "/tags": "tags",
            NAMESPACE + "/tags/{name}": "tag", NAMESPACE + "/resource_types": "resource_type"}.get(path)
    if kind is None or method not in ("POST", "PUT"):
        return None, _ANY_OBJECT
    if kind == "tags":
        return ("application/json", bodies["metadef_tag_list"]), _ANY_OBJECT
    if kind == "tag" and method == "POST":
        return None, _ANY_OBJECT  # POST .../tags/{name} takes no body: the name is in the path
    return ("application/json", bodies[f"metadef_{kind}"]), _ANY_OBJECT


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or list(properties)}


def _bodies(schema: ImageSchema) -> dict[str, Any]:
    image = _clean(schema.document())
    writable = copy.deepcopy(image)
    writable["properties"] = {k: v for k, v in image["properties"].items() if not v.get("readOnly")}
    served = metadef_schemas.served()
    return {
        "image": image, "images": _clean(schema.collection_document()), "image_create": writable,
        "member": _clean(member_schema()), "members": _clean(members_schema()),
        "task": _clean(task_schema()), "tasks": _clean(tasks_schema()),
        "patch": {"type": "array", "items": {
            "type": "object", "required": ["op", "path"],
            "properties": {"op": {"type": "string", "enum": ["add", "remove", "replace"]},
                           "path": {"type": "string"}, "value": {}}}},
        **{f"metadef_{name}": _clean(served[name]) for name in ("namespace", "object", "property", "tag",
                                                                "resource_type")},
        "metadef_tag_list": _clean(metadef_schemas.tag_list_body_schema()),
    }


def _clean(document: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema of Glance's dialect as OpenAPI 3.1 takes it: ``definitions`` inlined, annotations gone."""
    definitions = document.get("definitions", {})

    def walk(node: Any, *, is_schema: bool) -> Any:
        if isinstance(node, list):
            return [walk(item, is_schema=is_schema) for item in node]
        if not isinstance(node, dict):
            return node
        if not is_schema:  # a map of names to schemas ("properties", ...)
            return {key: walk(value, is_schema=True) for key, value in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            return walk(copy.deepcopy(definitions[ref.rsplit("/", 1)[1]]), is_schema=True)
        cleaned: dict[str, Any] = {}
        for key, value in node.items():
            if key in _ANNOTATIONS or key == "definitions":
                continue
            if key in ("properties", "patternProperties"):
                cleaned[key] = walk(value, is_schema=False)
            elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
                cleaned[key] = walk(value, is_schema=True)
            else:
                cleaned[key] = value
        return cleaned

    result: dict[str, Any] = walk(document, is_schema=True)
    return result
