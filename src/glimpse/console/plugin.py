"""Hook implementations of the ``console`` extension: its routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from glimpse.api.extension_routes import resource
from glimpse.console import pages, sign_in
from glimpse.extensions.hookspecs import hookimpl

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from glimpse.settings import Settings

NAME = "Web console"
DESCRIPTION = ("A web console at /console/: browse, upload, edit typed properties, share images and render "
               "server templates from a browser, through the public API.")
DOCS = "docs/console.md"


@hookimpl(trylast=True)
def register_routes(settings: Settings) -> Sequence[BaseRoute]:
    page = pages.ConsolePages(settings)
    exchange = sign_in.KeystoneSignIn(settings)
    return [
        resource("/console", GET=page.redirect),
        resource("/console/", GET=page.index),
        resource("/console/static/{name}", GET=page.static),
        resource("/console/sign-in", POST=exchange.sign_in),
    ]
