"""What an extension's HTTP routes may use from the edge: the one public surface of ``glimpse.api``.

Extensions (built-in and third-party alike) add routes through the
``register_routes`` hook and reach the service layer through the request.
They import from this module only, never from the rest of ``glimpse.api``, so
the edge can change inside without breaking them
(``tests/test_import_direction.py`` holds the built-in ones to that)::

    from glimpse.api.extension_routes import context, resource, services

    async def hello(request: Request) -> Response:
        image = services(request).images.get(context(request), request.path_params["image_id"])
        ...

    @hookimpl
    def register_routes(settings):
        return [resource("/v2/images/{image_id}/hello", GET=hello)]
"""

from __future__ import annotations

from glimpse.api.requests import context as context
from glimpse.api.requests import expect_no_body as expect_no_body
from glimpse.api.requests import json_object as json_object
from glimpse.api.requests import services as services
from glimpse.api.routing import resource as resource
from glimpse.api.streaming import RequestChunks as RequestChunks
from glimpse.api.upload_slots import upload_slots as upload_slots
from glimpse.api.v2.image_data import data_request as data_request
from glimpse.api.v2.image_data import redirected as redirected
from glimpse.api.v2.routes import IMAGE as IMAGE
from glimpse.api.v2.routes import role_routes as role_routes

__all__ = ["IMAGE", "RequestChunks", "context", "data_request", "expect_no_body", "json_object", "redirected",
           "resource", "role_routes", "services", "upload_slots"]
