"""The Images API v2 route table."""

from __future__ import annotations

from starlette.routing import Route

from glimpse.api.routing import resource
from glimpse.api.v2 import image_data, images, info, members, metadefs, properties, schemas

IMAGE = "/v2/images/{image_id}"
NAMESPACE = "/v2/metadefs/namespaces/{namespace}"

ROUTES: list[Route] = [
    resource("/v2/images", GET=images.index, POST=images.create),
    resource(IMAGE, GET=images.show, PATCH=images.update, DELETE=images.delete),
    resource(IMAGE + "/file", GET=image_data.download, PUT=image_data.upload),
    resource(IMAGE + "/actions/deactivate", POST=images.deactivate),
    resource(IMAGE + "/actions/reactivate", POST=images.reactivate),
    resource(IMAGE + "/tags/{tag}", PUT=images.add_tag, DELETE=images.remove_tag),
    resource(IMAGE + "/members", GET=members.index, POST=members.create),
    resource(IMAGE + "/members/{member_id}", GET=members.show, PUT=members.update, DELETE=members.delete),
    resource(IMAGE + "/properties", GET=properties.index),
    resource(IMAGE + "/properties/{name:path}", GET=properties.show, PUT=properties.update,
             DELETE=properties.delete),
    resource("/v2/schemas/image", GET=schemas.image),
    resource("/v2/schemas/images", GET=schemas.images),
    resource("/v2/schemas/member", GET=schemas.member),
    resource("/v2/schemas/members", GET=schemas.members),
    resource("/v2/schemas/metadefs/{name}", GET=schemas.metadef),
    resource("/v2/metadefs/resource_types", GET=metadefs.list_resource_types),
    resource("/v2/metadefs/namespaces", GET=metadefs.list_namespaces, POST=metadefs.create_namespace),
    resource(NAMESPACE, GET=metadefs.show_namespace, PUT=metadefs.update_namespace,
             DELETE=metadefs.delete_namespace),
    resource(NAMESPACE + "/resource_types", GET=metadefs.list_associations, POST=metadefs.create_association),
    resource(NAMESPACE + "/resource_types/{resource_type}", DELETE=metadefs.delete_association),
    resource(NAMESPACE + "/objects", GET=metadefs.list_objects, POST=metadefs.create_object,
             DELETE=metadefs.delete_objects),
    resource(NAMESPACE + "/objects/{name}", GET=metadefs.show_object, PUT=metadefs.update_object,
             DELETE=metadefs.delete_object),
    resource(NAMESPACE + "/properties", GET=metadefs.list_properties, POST=metadefs.create_property,
             DELETE=metadefs.delete_properties),
    resource(NAMESPACE + "/properties/{name}", GET=metadefs.show_property, PUT=metadefs.update_property,
             DELETE=metadefs.delete_property),
    resource(NAMESPACE + "/tags", GET=metadefs.list_tags, POST=metadefs.create_tags, DELETE=metadefs.delete_tags),
    resource(NAMESPACE + "/tags/{name}", GET=metadefs.show_tag, POST=metadefs.create_tag, PUT=metadefs.update_tag,
             DELETE=metadefs.delete_tag),
    resource("/v2/info/import", GET=info.import_methods),
    resource("/v2/info/stores", GET=info.stores),
    resource("/v2/info/stores/detail", GET=info.stores_detail),
    resource("/v2/info/usage", GET=info.usage),
]
