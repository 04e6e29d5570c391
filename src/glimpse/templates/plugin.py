"""The built-in ``templates`` extension, enabled by default: server templates.

Adds ``/v2/templates`` (publish, list, show, patch, delete, render for Nova or
Heat, parameters schema, members) and ``/v2/schemas/template(s)``. Remove
``templates`` from the ``extensions`` setting to switch it off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from glimpse.api.v2 import templates as api
from glimpse.api.v2.routes import role_routes
from glimpse.extensions.hookspecs import hookimpl

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from glimpse.settings import Settings

NAME = "Server templates"
DESCRIPTION = ("Server templates: an image with typed parameters and a cloud-init document that configures "
               "the software in it, rendered in a sandbox for Nova or Heat.")
DOCS = "docs/templates.md"

TEMPLATE = "/v2/templates/{template_id}"


@hookimpl(trylast=True)
def register_routes(settings: Settings) -> Sequence[BaseRoute]:
    return role_routes(settings, metadata=[
        ("/v2/templates", {"GET": api.index, "POST": api.create}),
        (TEMPLATE, {"GET": api.show, "PATCH": api.update, "DELETE": api.delete}),
        (TEMPLATE + "/render", {"POST": api.render}),
        (TEMPLATE + "/parameters-schema", {"GET": api.parameters_schema}),
        (TEMPLATE + "/members", {"GET": api.list_members, "POST": api.add_member}),
        (TEMPLATE + "/members/{member_id}", {"GET": api.show_member, "PUT": api.update_member,
                                              "DELETE": api.delete_member}),
        ("/v2/schemas/template", {"GET": api.schema}),
        ("/v2/schemas/templates", {"GET": api.collection_schema}),
    ], data=[])
