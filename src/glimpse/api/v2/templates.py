"""``/v2/templates``: server templates (publish, list, show, patch, delete, render, share)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import context, json_body, json_object, media_type
from glimpse.api.requests import services as services_of
from glimpse.api.routing import bodiless
from glimpse.api.urls import base_url
from glimpse.domain.members import Member
from glimpse.domain.patch import MEDIA_TYPE_V20, MEDIA_TYPES, Dialect, parse_patch
from glimpse.domain.template_documents import template_schema, templates_schema
from glimpse.domain.templates import Template, parse_template_query
from glimpse.api.v2.views import isotime

_HEADERS_NO_STORE = {"Cache-Control": "no-store"}


def template_view(template: Template) -> dict[str, Any]:
    return {
        "id": template.id, "name": template.name, "version": template.version, "deprecated": template.deprecated,
        "description": template.description, "owner": template.owner, "visibility": template.visibility.value,
        "protected": template.protected, "tags": list(template.tags), "image_id": template.image_id,
        "parameters": template.parameters, "user_data": template.user_data, "metadata": template.metadata,
        "min_ram": template.min_ram, "min_disk": template.min_disk, "flavor_hint": template.flavor_hint,
        "networks_hint": list(template.networks_hint), "created_at": isotime(template.created_at),
        "updated_at": isotime(template.updated_at), "self": f"/v2/templates/{template.id}",
        "schema": "/v2/schemas/template",
    }


def member_view(member: Member) -> dict[str, Any]:
    return {"template_id": member.image_id, "member_id": member.member_id, "status": member.status.value,
            "created_at": isotime(member.created_at), "updated_at": isotime(member.updated_at),
            "schema": "/v2/schemas/member"}


async def create(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    template = await run_in_threadpool(services.templates.create, context(request), body)
    return JSONResponse(template_view(template), status_code=201,
                        headers={"Location": f"{base_url(request)}/v2/templates/{template.id}"})


@bodiless
async def index(request: Request) -> Response:
    services = services_of(request)
    pairs = list(request.query_params.multi_items())
    query = parse_template_query(pairs, default_limit=services.settings.limit_param_default,
                                 max_limit=services.settings.api_limit_max)
    page = await run_in_threadpool(services.templates.list, context(request), query)
    unmarked = [(k, v) for k, v in pairs if k != "marker"]
    body: dict[str, Any] = {"templates": [template_view(t) for t in page.templates],
                            "first": "/v2/templates" + (f"?{urlencode(unmarked)}" if unmarked else ""),
                            "schema": "/v2/schemas/templates"}
    if page.next_marker:
        body["next"] = "/v2/templates?" + urlencode([*unmarked, ("marker", page.next_marker)])
    return JSONResponse(body)


@bodiless
async def show(request: Request) -> Response:
    services = services_of(request)
    template = await run_in_threadpool(services.templates.get, context(request), request.path_params["template_id"])
    return JSONResponse(template_view(template))


async def update(request: Request) -> Response:
    services = services_of(request)
    kind = media_type(request)
    if kind not in MEDIA_TYPES:
        raise HTTPException(415, f"Unsupported content type '{kind or 'none'}' for PATCH; send {MEDIA_TYPES[1]}.",
                            headers={"Accept-Patch": ", ".join(MEDIA_TYPES)})
    document = await json_body(request, max_size=services.settings.max_json_body_size, accepted=MEDIA_TYPES)
    operations = parse_patch(document, Dialect.V20 if kind == MEDIA_TYPE_V20 else Dialect.V21)
    template, new_version = await run_in_threadpool(services.templates.update, context(request),
                                                    request.path_params["template_id"], operations)
    headers = {"Location": f"{base_url(request)}/v2/templates/{template.id}"} if new_version else None
    return JSONResponse(template_view(template), status_code=201 if new_version else 200, headers=headers)


@bodiless
async def delete(request: Request) -> Response:
    services = services_of(request)
    await run_in_threadpool(services.templates.delete, context(request), request.path_params["template_id"])
    return Response(status_code=204)


@bodiless
async def parameters_schema(request: Request) -> Response:
    services = services_of(request)
    schema = await run_in_threadpool(services.templates.parameters_schema, context(request),
                                     request.path_params["template_id"])
    return JSONResponse(schema)


async def render(request: Request) -> Response:
    services = services_of(request)
    output = request.query_params.get("format", "nova")
    if output not in ("nova", "heat"):
        raise HTTPException(400, f"Query parameter 'format' must be nova or heat; got {output!r}.")
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    unknown = sorted(set(body) - {"parameters"})
    if unknown:
        raise HTTPException(400, f"Unknown key(s) {', '.join(unknown)}; send {{\"parameters\": {{...}}}}.")
    rendering = await run_in_threadpool(services.templates.render, context(request),
                                        request.path_params["template_id"], body.get("parameters", {}),
                                        heat=output == "heat")
    # Secrets may be in the body: no cache may keep it.
    if rendering.heat is not None:
        return JSONResponse(rendering.heat, headers=_HEADERS_NO_STORE)
    return JSONResponse({"server": rendering.server, "cloud_config": rendering.cloud_config,
                         "hints": rendering.hints}, headers=_HEADERS_NO_STORE)


@bodiless
async def schema(request: Request) -> Response:
    return JSONResponse(template_schema())


@bodiless
async def collection_schema(request: Request) -> Response:
    return JSONResponse(templates_schema())


# -- members


async def add_member(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    if "member" not in body:
        raise HTTPException(400, "The request body must name the project to share with as 'member'.")
    member = await run_in_threadpool(services.template_members.add, context(request),
                                     request.path_params["template_id"], body["member"])
    return JSONResponse(member_view(member))


@bodiless
async def list_members(request: Request) -> Response:
    services = services_of(request)
    members = await run_in_threadpool(services.template_members.list, context(request),
                                      request.path_params["template_id"])
    return JSONResponse({"members": [member_view(m) for m in members], "schema": "/v2/schemas/members"})


@bodiless
async def show_member(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    member = await run_in_threadpool(services.template_members.get, context(request), params["template_id"],
                                     params["member_id"])
    return JSONResponse(member_view(member))


async def update_member(request: Request) -> Response:
    services = services_of(request)
    body = await json_object(request, max_size=services.settings.max_json_body_size)
    if "status" not in body:
        raise HTTPException(400, "The request body must give the new 'status' (accepted, rejected or pending).")
    params = request.path_params
    member = await run_in_threadpool(services.template_members.update, context(request), params["template_id"],
                                     params["member_id"], body["status"])
    return JSONResponse(member_view(member))


@bodiless
async def delete_member(request: Request) -> Response:
    services = services_of(request)
    params = request.path_params
    await run_in_threadpool(services.template_members.delete, context(request), params["template_id"],
                            params["member_id"])
    return Response(status_code=204)
