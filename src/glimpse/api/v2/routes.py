"""The Images API v2 route table, and which routes a node of each role serves itself."""

from __future__ import annotations

from starlette.routing import Route

from glimpse.api.roles import READ_METHODS, redirect_to
from glimpse.api.routing import Handler, resource
from glimpse.api.v2 import (
    extensions,
    image_data,
    images,
    imports,
    info,
    locations,
    members,
    metadefs,
    properties,
    schemas,
    stores,
    tasks,
)
from glimpse.settings import Settings

IMAGE = "/v2/images/{image_id}"
NAMESPACE = "/v2/metadefs/namespaces/{namespace}"

#: Metadata: served by registry nodes (streaming nodes serve only the reads).
METADATA: list[tuple[str, dict[str, Handler]]] = [
    ("/v2/images", {"GET": images.index, "POST": images.create}),
    (IMAGE, {"GET": images.show, "PATCH": images.update, "DELETE": images.delete}),
    (IMAGE + "/actions/deactivate", {"POST": images.deactivate}),
    (IMAGE + "/actions/reactivate", {"POST": images.reactivate}),
    (IMAGE + "/tags/{tag}", {"PUT": images.add_tag, "DELETE": images.remove_tag}),
    (IMAGE + "/import", {"POST": imports.start_import}),
    (IMAGE + "/tasks", {"GET": imports.image_tasks}),
    (IMAGE + "/locations", {"GET": locations.index, "POST": locations.add}),
    (IMAGE + "/members", {"GET": members.index, "POST": members.create}),
    (IMAGE + "/members/{member_id}", {"GET": members.show, "PUT": members.update, "DELETE": members.delete}),
    (IMAGE + "/properties", {"GET": properties.index}),
    (IMAGE + "/properties/{name:path}", {"GET": properties.show, "PUT": properties.update,
                                         "DELETE": properties.delete}),
    ("/v2/schemas/image", {"GET": schemas.image}),
    ("/v2/schemas/images", {"GET": schemas.images}),
    ("/v2/schemas/member", {"GET": schemas.member}),
    ("/v2/schemas/task", {"GET": schemas.task}),
    ("/v2/schemas/tasks", {"GET": schemas.tasks}),
    ("/v2/tasks", {"GET": tasks.index, "POST": tasks.create}),
    ("/v2/tasks/{task_id}", {"GET": tasks.show, "DELETE": tasks.delete}),
    ("/v2/schemas/members", {"GET": schemas.members}),
    ("/v2/schemas/metadefs/{name}", {"GET": schemas.metadef}),
    ("/v2/metadefs/resource_types", {"GET": metadefs.list_resource_types}),
    ("/v2/metadefs/namespaces", {"GET": metadefs.list_namespaces, "POST": metadefs.create_namespace}),
    (NAMESPACE, {"GET": metadefs.show_namespace, "PUT": metadefs.update_namespace,
                 "DELETE": metadefs.delete_namespace}),
    (NAMESPACE + "/resource_types", {"GET": metadefs.list_associations, "POST": metadefs.create_association}),
    (NAMESPACE + "/resource_types/{resource_type}", {"DELETE": metadefs.delete_association}),
    (NAMESPACE + "/objects", {"GET": metadefs.list_objects, "POST": metadefs.create_object,
                              "DELETE": metadefs.delete_objects}),
    (NAMESPACE + "/objects/{name}", {"GET": metadefs.show_object, "PUT": metadefs.update_object,
                                     "DELETE": metadefs.delete_object}),
    (NAMESPACE + "/properties", {"GET": metadefs.list_properties, "POST": metadefs.create_property,
                                 "DELETE": metadefs.delete_properties}),
    (NAMESPACE + "/properties/{name}", {"GET": metadefs.show_property, "PUT": metadefs.update_property,
                                        "DELETE": metadefs.delete_property}),
    (NAMESPACE + "/tags", {"GET": metadefs.list_tags, "POST": metadefs.create_tags, "DELETE": metadefs.delete_tags}),
    (NAMESPACE + "/tags/{name}", {"GET": metadefs.show_tag, "POST": metadefs.create_tag,
                                  "PUT": metadefs.update_tag, "DELETE": metadefs.delete_tag}),
    ("/v2/stores/{store_id}/{image_id}", {"DELETE": stores.delete_from_store}),
    ("/v2/info/import", {"GET": info.import_methods}),
    ("/v2/info/stores", {"GET": info.stores}),
    ("/v2/info/stores/detail", {"GET": info.stores_detail}),
    ("/v2/info/usage", {"GET": info.usage}),
    ("/v2/extensions", {"GET": extensions.index}),
    ("/v2/extensions/{alias}", {"GET": extensions.show}),
]

#: Image data: served by streaming nodes.
DATA: list[tuple[str, dict[str, Handler]]] = [
    (IMAGE + "/file", {"GET": image_data.download, "PUT": image_data.upload}),
]

ROUTES: list[Route] = [resource(path, **methods) for path, methods in METADATA + DATA]


def routes_for(settings: Settings) -> list[Route]:
    """The v2 routes of a node with ``settings.role``; requests for the other role are redirected."""
    if settings.role == "all":
        return ROUTES
    return role_routes(settings, METADATA, DATA)


Table = list[tuple[str, dict[str, Handler]]]


def role_routes(settings: Settings, metadata: Table, data: Table) -> list[Route]:
    """Routes for metadata and data paths, each served here or redirected as the node's role says.

    Extensions that add routes use this too, so their data paths follow the
    registry/streaming split like the core's.
    """
    if settings.role == "all":
        return [resource(path, **methods) for path, methods in metadata + data]
    if settings.role == "registry":
        to_streaming = redirect_to("streaming", settings.streaming_endpoint, from_role="registry")
        return [resource(path, **methods) for path, methods in metadata] + [
            resource(path, **{method: to_streaming for method in methods}) for path, methods in data]
    to_registry = redirect_to("registry", settings.registry_endpoint, from_role="streaming")
    return [resource(path, **{method: handler if method in READ_METHODS else to_registry
                              for method, handler in methods.items()}) for path, methods in metadata] + [
        resource(path, **methods) for path, methods in data]
