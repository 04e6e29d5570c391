"""``/v2/metadefs``: the metadata definitions catalog, with Glance's paths, bodies and codes."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import context, json_object
from glimpse.api.requests import services as services_of
from glimpse.api.routing import Handler, bodiless
from glimpse.api.urls import base_url
from glimpse.api.v2.metadef_views import (
    association_view,
    contents_view,
    definition_view,
    namespace_href,
    namespace_view,
    object_view,
    resource_type_view,
    tag_view,
)
from glimpse.domain.metadefs import NAMESPACE_SORT_KEYS, TAG_SORT_KEYS, parse_list_query


def _ns(request: Request) -> str:
    return str(request.path_params["namespace"])


async def _body(request: Request) -> dict[str, object]:
    return await json_object(request, max_size=services_of(request).settings.max_json_body_size)


# -- namespaces


@bodiless
async def list_namespaces(request: Request) -> Response:
    services = services_of(request)
    params = dict(request.query_params)
    query = parse_list_query(params, sort_keys=NAMESPACE_SORT_KEYS, default_limit=services.settings.limit_param_default,
                             max_limit=services.settings.api_limit_max)
    page = await run_in_threadpool(services.metadefs.list_namespaces, context(request), query)
    unmarked = [(k, v) for k, v in request.query_params.multi_items() if k != "marker"]
    body: dict[str, object] = {"namespaces": [contents_view(c, detail=False) for c in page.namespaces]}
    if page.next_marker:
        body["next"] = "/v2/metadefs/namespaces?" + urlencode([*unmarked, ("marker", page.next_marker)])
    body["schema"] = "/v2/schemas/metadefs/namespaces"
    body["first"] = "/v2/metadefs/namespaces" + (f"?{urlencode(unmarked)}" if unmarked else "")
    return JSONResponse(body)


async def create_namespace(request: Request) -> Response:
    services = services_of(request)
    body = await _body(request)
    contents = await run_in_threadpool(services.metadefs.create_namespace, context(request), body)
    location = base_url(request) + namespace_href(contents.namespace.namespace)
    return JSONResponse(contents_view(contents), status_code=201, headers={"Location": location})


@bodiless
async def show_namespace(request: Request) -> Response:
    services = services_of(request)
    resource_type = request.query_params.get("resource_type") or None
    contents = await run_in_threadpool(lambda: services.metadefs.get_namespace(
        context(request), _ns(request), resource_type=resource_type))
    return JSONResponse(contents_view(contents))


async def update_namespace(request: Request) -> Response:
    services = services_of(request)
    body = await _body(request)
    namespace = await run_in_threadpool(services.metadefs.update_namespace, context(request), _ns(request), body)
    return JSONResponse(namespace_view(namespace))


@bodiless
async def delete_namespace(request: Request) -> Response:
    await run_in_threadpool(services_of(request).metadefs.delete_namespace, context(request), _ns(request))
    return Response(status_code=204)


def _delete_all(kind: str) -> Handler:
    @bodiless
    async def handler(request: Request) -> Response:
        await run_in_threadpool(services_of(request).metadefs.delete_contents, context(request), _ns(request), kind)
        return Response(status_code=204)

    return handler


delete_objects = _delete_all("objects")
delete_properties = _delete_all("properties")
delete_tags = _delete_all("tags")


# -- resource types


@bodiless
async def list_resource_types(request: Request) -> Response:
    types = await run_in_threadpool(services_of(request).metadefs.list_resource_types, context(request))
    return JSONResponse({"resource_types": [resource_type_view(t) for t in types]})


@bodiless
async def list_associations(request: Request) -> Response:
    found = await run_in_threadpool(services_of(request).metadefs.associations, context(request), _ns(request))
    return JSONResponse({"resource_type_associations": [association_view(a) for a in found]})


async def create_association(request: Request) -> Response:
    services = services_of(request)
    body = await _body(request)
    association = await run_in_threadpool(services.metadefs.associate, context(request), _ns(request), body)
    return JSONResponse(association_view(association), status_code=201)


@bodiless
async def delete_association(request: Request) -> Response:
    services = services_of(request)
    await run_in_threadpool(services.metadefs.dissociate, context(request), _ns(request),
                            request.path_params["resource_type"])
    return Response(status_code=204)


# -- objects


@bodiless
async def list_objects(request: Request) -> Response:
    namespace = _ns(request)
    found = await run_in_threadpool(services_of(request).metadef_contents.list_objects, context(request), namespace)
    return JSONResponse({"objects": [object_view(namespace, o) for o in found],
                         "schema": "v2/schemas/metadefs/objects"})


async def create_object(request: Request) -> Response:
    services = services_of(request)
    namespace, body = _ns(request), await _body(request)
    obj = await run_in_threadpool(services.metadef_contents.create_object, context(request), namespace, body)
    return JSONResponse(object_view(namespace, obj), status_code=201)


@bodiless
async def show_object(request: Request) -> Response:
    namespace = _ns(request)
    obj = await run_in_threadpool(services_of(request).metadef_contents.get_object, context(request), namespace,
                                  request.path_params["name"])
    return JSONResponse(object_view(namespace, obj))


async def update_object(request: Request) -> Response:
    services = services_of(request)
    namespace, body = _ns(request), await _body(request)
    obj = await run_in_threadpool(services.metadef_contents.update_object, context(request), namespace,
                                  request.path_params["name"], body)
    return JSONResponse(object_view(namespace, obj))


@bodiless
async def delete_object(request: Request) -> Response:
    await run_in_threadpool(services_of(request).metadef_contents.delete_object, context(request), _ns(request),
                            request.path_params["name"])
    return Response(status_code=204)


# -- property definitions


@bodiless
async def list_properties(request: Request) -> Response:
    found = await run_in_threadpool(services_of(request).metadef_contents.list_properties, context(request),
                                    _ns(request))
    return JSONResponse({"properties": {p.name: definition_view(p, named=False) for p in found}})


async def create_property(request: Request) -> Response:
    services = services_of(request)
    body = await _body(request)
    definition = await run_in_threadpool(services.metadef_contents.create_property, context(request),
                                         _ns(request), body)
    return JSONResponse(definition_view(definition), status_code=201)


@bodiless
async def show_property(request: Request) -> Response:
    services = services_of(request)
    resource_type = request.query_params.get("resource_type") or None
    definition = await run_in_threadpool(lambda: services.metadef_contents.get_property(
        context(request), _ns(request), request.path_params["name"], resource_type=resource_type))
    return JSONResponse(definition_view(definition))


async def update_property(request: Request) -> Response:
    services = services_of(request)
    body = await _body(request)
    definition = await run_in_threadpool(services.metadef_contents.update_property, context(request),
                                         _ns(request), request.path_params["name"], body)
    return JSONResponse(definition_view(definition))


@bodiless
async def delete_property(request: Request) -> Response:
    await run_in_threadpool(services_of(request).metadef_contents.delete_property, context(request), _ns(request),
                            request.path_params["name"])
    return Response(status_code=204)


# -- tags


@bodiless
async def list_tags(request: Request) -> Response:
    services = services_of(request)
    query = parse_list_query(dict(request.query_params), sort_keys=TAG_SORT_KEYS, default_limit=0,
                             max_limit=services.settings.api_limit_max, default_dir="asc")
    found = await run_in_threadpool(services.metadef_contents.list_tags, context(request), _ns(request), query)
    return JSONResponse({"tags": [{"name": t.name} for t in found]})


async def create_tags(request: Request) -> Response:
    services = services_of(request)
    body = await _body(request)
    append = request.headers.get("x-openstack-append", "").strip().lower() in ("true", "1", "yes", "on", "y", "t")
    tags = await run_in_threadpool(lambda: services.metadef_contents.create_tags(
        context(request), _ns(request), body, append=append))
    return JSONResponse({"tags": [{"name": t.name} for t in tags]}, status_code=201)


@bodiless
async def create_tag(request: Request) -> Response:
    tag = await run_in_threadpool(services_of(request).metadef_contents.create_tag, context(request), _ns(request),
                                  request.path_params["name"])
    return JSONResponse(tag_view(tag), status_code=201)


@bodiless
async def show_tag(request: Request) -> Response:
    tag = await run_in_threadpool(services_of(request).metadef_contents.get_tag, context(request), _ns(request),
                                  request.path_params["name"])
    return JSONResponse(tag_view(tag))


async def update_tag(request: Request) -> Response:
    services = services_of(request)
    body = await _body(request)
    tag = await run_in_threadpool(services.metadef_contents.rename_tag, context(request), _ns(request),
                                  request.path_params["name"], body)
    return JSONResponse(tag_view(tag))


@bodiless
async def delete_tag(request: Request) -> Response:
    await run_in_threadpool(services_of(request).metadef_contents.delete_tag, context(request), _ns(request),
                            request.path_params["name"])
    return Response(status_code=204)
