"""Version discovery (``GET /``, ``GET /versions``) and minor-version path negotiation."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope

from glimpse.api.urls import base_url

#: Highest minor version implemented (2.17: the locations API); v2.0 .. v2.N are advertised but for
#: the versions of the image cache API (2.14, 2.16), which Glance too leaves out when it has no cache,
#: so that clients that look for them (glanceclient's cache commands) know not to call it. A node
#: with the ``cache`` extension enabled advertises them (:data:`CACHE_VERSION_IDS`), as Glance does.
CURRENT_MINOR = 17
CACHE_API_MINORS = frozenset({14, 16})
VERSION_IDS = [f"v2.{n}" for n in range(CURRENT_MINOR, -1, -1) if n not in CACHE_API_MINORS]
CACHE_VERSION_IDS = [f"v2.{n}" for n in range(CURRENT_MINOR, -1, -1)]
#: the extension whose presence on a node adds the cache API's versions
CACHE_EXTENSION = "cache"
_MINOR_PREFIX = re.compile(r"^/v2\.(\d+)(?=/|$)")
_KNOWN_ROOTS = ("/v2", "/identity", "/versions", "/healthcheck", "/openapi.json", "/metrics", "/console")
_VND = re.compile(r"application/vnd\.openstack\.images-v2(\.\d+)?")


def version_document(root: str, *, registry: str | None = None, streaming: str | None = None,
                     cache: bool = False) -> dict[str, object]:
    """The version list; every entry links to ``<root>/v2/``.

    When the deployment splits metadata (registry) and data (streaming) nodes,
    each entry also carries links with ``rel`` ``registry`` and ``streaming``,
    so a client can send metadata calls and data calls straight to the right
    nodes. A link with ``rel`` ``extensions`` leads to the list of extensions
    enabled on this node. Clients that only know ``self`` ignore the others.
    With ``cache`` (the node serves the cache API) 2.14 and 2.16 are listed too.
    """
    links = [{"rel": "self", "href": f"{root}/v2/"}, {"rel": "extensions", "href": f"{root}/v2/extensions"}]
    for rel, endpoint in (("registry", registry), ("streaming", streaming)):
        if endpoint:
            links.append({"rel": rel, "href": f"{endpoint.rstrip('/')}/v2/"})
    return {
        "versions": [
            {"id": vid, "status": "CURRENT" if i == 0 else "SUPPORTED", "links": links}
            for i, vid in enumerate(CACHE_VERSION_IDS if cache else VERSION_IDS)
        ]
    }


def _document_for(request: Request) -> dict[str, object]:
    services = request.app.state.services
    settings = services.settings
    return version_document(base_url(request), registry=settings.registry_endpoint,
                            streaming=settings.streaming_endpoint,
                            cache=CACHE_EXTENSION in services.extensions.infos)


async def versions(request: Request) -> Response:
    """``GET /versions``: 200 with the version list."""
    return JSONResponse(_document_for(request))


async def multiple_choices(request: Request) -> Response:
    """``GET /`` (and unknown version prefixes): 300 with the version list."""
    return JSONResponse(_document_for(request), status_code=300)


def negotiate(scope: Scope, receive: Receive, public_endpoint: str | None, *, registry: str | None = None,
              streaming: str | None = None, cache: bool = False) -> Scope | Response:
    """The scope with ``/v2.N/...`` rewritten to ``/v2/...``, or the 300 answer to an unknown version prefix."""
    path: str = scope["path"]
    minor = _MINOR_PREFIX.match(path)
    if minor and int(minor.group(1)) <= CURRENT_MINOR:
        return {**scope, "path": "/v2" + path[minor.end():], "raw_path": None}
    if path == "/" or _is_known(path):
        return scope
    accept = _header(scope, b"accept")
    if _VND.search(accept) and not path.startswith("/v"):
        return {**scope, "path": "/v2" + path, "raw_path": None}
    root = base_url(Request(scope, receive), public_endpoint)
    return JSONResponse(version_document(root, registry=registry, streaming=streaming, cache=cache),
                        status_code=300)


def _is_known(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in _KNOWN_ROOTS)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""
