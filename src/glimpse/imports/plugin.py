"""The built-in ``image-import`` extension: interoperable image import.

Offers the import methods named in the ``import_methods`` setting to
``POST /v2/images/{id}/import``: ``glance-direct`` (import staged data; adds
``PUT /v2/images/{id}/stage``, a data route served by streaming nodes) and
``web-download`` (import from a URL the operator's rules allow).
``/v2/info/import`` and the ``OpenStack-image-import-methods`` header of image
creation list them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from glimpse.api.v2.routes import IMAGE, role_routes
from glimpse.extensions.hookspecs import hookimpl
from glimpse.imports import api
from glimpse.imports.methods import GlanceDirect, WebDownload
from glimpse.imports.web_download import UrlRules
from glimpse.services.imports import GLANCE_DIRECT, WEB_DOWNLOAD, ImportMethod
from glimpse.services.stores import STAGING_STORE, open_staging_store

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from glimpse.services import Services
    from glimpse.settings import Settings

NAME = "Image import"
DESCRIPTION = ("Interoperable image import: stage data and import it (glance-direct), or import it from a URL "
               "(web-download), as tasks.")
DOCS = "docs/import.md"


@hookimpl(trylast=True)
def register_routes(settings: Settings) -> Sequence[BaseRoute]:
    if GLANCE_DIRECT not in settings.import_methods:
        return []
    return role_routes(settings, metadata=[], data=[(IMAGE + "/stage", {"PUT": api.stage})])


@hookimpl(trylast=True)
def register_import_methods(services: Services) -> Sequence[ImportMethod]:
    settings = services.settings
    methods: list[ImportMethod] = []
    if GLANCE_DIRECT in settings.import_methods:
        staging = open_staging_store(settings)
        services.stores.add_internal(STAGING_STORE, staging)
        methods.append(GlanceDirect(staging, services.image_repository))
    if WEB_DOWNLOAD in settings.import_methods:
        methods.append(WebDownload(UrlRules(
            schemes=settings.web_download_allowed_schemes, ports=settings.web_download_allowed_ports,
            allowed_hosts=settings.web_download_allowed_hosts,
            disallowed_hosts=settings.web_download_disallowed_hosts)))
    return methods
