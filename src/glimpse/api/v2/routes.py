"""The Images API v2 route table."""

from __future__ import annotations

from starlette.routing import Route

from glimpse.api.routing import resource
from glimpse.api.v2 import image_data, images, info, members, schemas

IMAGE = "/v2/images/{image_id}"

ROUTES: list[Route] = [
    resource("/v2/images", GET=images.index, POST=images.create),
    resource(IMAGE, GET=images.show, PATCH=images.update, DELETE=images.delete),
    resource(IMAGE + "/file", GET=image_data.download, PUT=image_data.upload),
    resource(IMAGE + "/actions/deactivate", POST=images.deactivate),
    resource(IMAGE + "/actions/reactivate", POST=images.reactivate),
    resource(IMAGE + "/tags/{tag}", PUT=images.add_tag, DELETE=images.remove_tag),
    resource(IMAGE + "/members", GET=members.index, POST=members.create),
    resource(IMAGE + "/members/{member_id}", GET=members.show, PUT=members.update, DELETE=members.delete),
    resource("/v2/schemas/image", GET=schemas.image),
    resource("/v2/schemas/images", GET=schemas.images),
    resource("/v2/schemas/member", GET=schemas.member),
    resource("/v2/schemas/members", GET=schemas.members),
    resource("/v2/info/import", GET=info.import_methods),
    resource("/v2/info/stores", GET=info.stores),
    resource("/v2/info/stores/detail", GET=info.stores_detail),
    resource("/v2/info/usage", GET=info.usage),
]
