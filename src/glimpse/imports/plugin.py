"""The built-in ``image-import`` extension: interoperable image import.

Offers the import methods named in the ``import_methods`` setting to
``POST /v2/images/{id}/import``: ``glance-direct`` (import staged data; adds
``PUT /v2/images/{id}/stage``, a data route served by streaming nodes) and
``web-download`` (import from a URL the operator's rules allow) and ``copy-image`` (copy an active
image into more stores, offered where more than one store takes data). Runs every
import's data through the import plugins named in ``import_plugins``:
``image-decompression``, then ``image-conversion``.
``/v2/info/import`` and the ``OpenStack-image-import-methods`` header of image
creation list them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from glimpse.api.extension_routes import IMAGE, role_routes
from glimpse.extensions.hookspecs import hookimpl
from glimpse.imports import api
from glimpse.imports.conversion import NAME as CONVERSION
from glimpse.imports.conversion import Conversion
from glimpse.imports.decompression import NAME as DECOMPRESSION
from glimpse.imports.decompression import Decompression
from glimpse.imports.glance_download import GlanceDownload
from glimpse.imports.methods import CopyImage, GlanceDirect, WebDownload
from glimpse.imports.web_download import UrlRules
from glimpse.services.imports import (
    COPY_IMAGE,
    GLANCE_DIRECT,
    GLANCE_DOWNLOAD,
    WEB_DOWNLOAD,
    ImportMethod,
    ImportPlugin,
)
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
        methods.append(GlanceDirect(staging, services.imports))
    rules = UrlRules(
        schemes=settings.web_download_allowed_schemes, ports=settings.web_download_allowed_ports,
        allowed_hosts=settings.web_download_allowed_hosts,
        disallowed_hosts=settings.web_download_disallowed_hosts,
        allowed_networks=settings.web_download_allowed_networks,
        disallowed_networks=settings.web_download_disallowed_networks,
        max_redirects=settings.web_download_max_redirects,
        connect_timeout=settings.web_download_connect_timeout,
        read_timeout=settings.web_download_read_timeout)
    if WEB_DOWNLOAD in settings.import_methods:
        methods.append(WebDownload(rules))
    if GLANCE_DOWNLOAD in settings.import_methods and (settings.glance_download_endpoints
                                                       or settings.auth_strategy == "keystone"):  # or the catalog
        methods.append(GlanceDownload(settings.glance_download_endpoints, rules))
    if COPY_IMAGE in settings.import_methods:
        methods.append(CopyImage())
    return methods


@hookimpl(trylast=True)
def register_import_plugins(services: Services) -> Sequence[ImportPlugin]:
    settings = services.settings
    spool = settings.data_dir / "spool"
    plugins: list[ImportPlugin] = []
    if DECOMPRESSION in settings.import_plugins:
        plugins.append(Decompression(max_ratio=settings.image_decompression_max_ratio,
                                     max_size=settings.image_size_cap, spool_dir=spool))
    if CONVERSION in settings.import_plugins:
        plugins.append(Conversion(services.format_gate, services.format_gate.qemu,
                                  output_format=settings.image_conversion_output_format,
                                  max_size=settings.image_size_cap, spool_dir=spool))
    return plugins
