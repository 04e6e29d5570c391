"""Version discovery (``GET /``, ``GET /versions``) and minor-version path negotiation."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from glimpse.api.urls import base_url

#: Highest minor version implemented; every v2.0 .. v2.N is advertised.
CURRENT_MINOR = 12
VERSION_IDS = [f"v2.{n}" for n in range(CURRENT_MINOR, -1, -1)]
_MINOR_PREFIX = re.compile(r"^/v2\.(\d+)(?=/|$)")
_KNOWN_ROOTS = ("/v2", "/versions", "/healthcheck")
_VND = re.compile(r"application/vnd\.openstack\.images-v2(\.\d+)?")


def version_document(root: str, *, registry: str | None = None, streaming: str | None = None) -> dict[str, object]:
    """The version list; every entry links to ``<root>/v2/``.

    When the deployment splits metadata (registry) and data (streaming) nodes,
    each entry also carries links with ``rel`` ``registry`` and ``streaming``,
    so a client can send metadata calls and data calls straight to the right
    nodes. A link with ``rel`` ``extensions`` leads to the list of extensions
    enabled on this node. Clients that only know ``self`` ignore the others.
    """
    links = [{"rel": "self", "href": f"{root}/v2/"}, {"rel": "extensions", "href": f"{root}/v2/extensions"}]
    for rel, endpoint in (("registry", registry), ("streaming", streaming)):
        if endpoint:
            links.append({"rel": rel, "href": f"{endpoint.rstrip('/')}/v2/"})
    return {
        "versions": [
            {"id": vid, "status": "CURRENT" if i == 0 else "SUPPORTED", "links": links}
            for i, vid in enumerate(VERSION_IDS)
        ]
    }


def _document_for(request: Request) -> dict[str, object]:
    settings = request.app.state.services.settings
    return version_document(base_url(request), registry=settings.registry_endpoint,
                            streaming=settings.streaming_endpoint)


async def versions(request: Request) -> Response:
    """``GET /versions``: 200 with the version list."""
    return JSONResponse(_document_for(request))


async def multiple_choices(request: Request) -> Response:
    """``GET /`` (and unknown version prefixes): 300 with the version list."""
    return JSONResponse(_document_for(request), status_code=300)


class VersionNegotiation:
    """Rewrite ``/v2.N/...`` to ``/v2/...`` and answer unknown version prefixes with 300."""

    def __init__(self, app: ASGIApp, public_endpoint: str | None = None, *, registry: str | None = None,
                 streaming: str | None = None) -> None:
        self.app = app
        self.public_endpoint = public_endpoint
        self.endpoints = {"registry": registry, "streaming": streaming}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            minor = _MINOR_PREFIX.match(path)
            if minor and int(minor.group(1)) <= CURRENT_MINOR:
                scope = {**scope, "path": "/v2" + path[minor.end():], "raw_path": None}
            elif path != "/" and not _is_known(path):
                accept = _header(scope, b"accept")
                if _VND.search(accept) and not path.startswith("/v"):
                    scope = {**scope, "path": "/v2" + path, "raw_path": None}
                else:
                    root = base_url(Request(scope, receive), self.public_endpoint)
                    document = version_document(root, **self.endpoints)
                    await JSONResponse(document, status_code=300)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _is_known(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in _KNOWN_ROOTS)


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""
