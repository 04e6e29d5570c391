"""The few Identity API v3 reads the ``openstack`` CLI makes, answered by a node without Keystone.

``openstack image add project``, ``image set --project``, ``image remove project``
and ``image member list`` look the project up in the identity service before
calling the Images API. With ``auth_strategy`` ``noauth`` or ``tokens`` there is
no identity service: a project is any id a caller names, so these routes
answer a lookup with the project named in the request itself (id and name
alike, in the ``default`` domain). Point ``identity_endpoint_override`` at
``<node>/identity/v3`` (see the README's ``clouds.yaml``): under a prefix of its
own, so that ``/v3`` keeps answering 300 like any unknown Images API version. Nodes with ``keystone``
authentication do not serve them: Keystone does.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from glimpse.api.requests import context
from glimpse.api.routing import Handler
from glimpse.api.urls import base_url
from glimpse.errors import InvalidRequest, NotFound

#: The identity API version these answers follow (what keystoneauth's discovery needs to see).
VERSION = "v3.14"
#: Where the identity routes live.
PREFIX = "/identity/v3"
DOMAIN = "default"


def _project(request: Request, project_id: str) -> dict[str, Any]:
    return {"id": project_id, "name": project_id, "domain_id": DOMAIN, "enabled": True, "is_domain": False,
            "parent_id": DOMAIN, "description": "", "tags": [],
            "links": {"self": f"{base_url(request)}{PREFIX}/projects/{project_id}"}}


async def version(request: Request) -> Response:
    """``GET /identity/v3``: the identity version document keystoneauth's discovery reads."""
    return JSONResponse({"version": {
        "id": VERSION, "status": "stable", "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{base_url(request)}{PREFIX}/"}],
        "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]}})


async def show_project(request: Request) -> Response:
    """``GET /identity/v3/projects/{project_id}``: the project of that id (every id names one here)."""
    context(request)  # authenticated like any other call
    return JSONResponse({"project": _project(request, request.path_params["project_id"])})


async def list_projects(request: Request) -> Response:
    """``GET /identity/v3/projects[?name=]``: the project of that name; without a name, the caller's project."""
    ctx = context(request)
    name = request.query_params.get("name")
    if name is not None and not name.strip():
        raise InvalidRequest("The 'name' filter must not be empty.")
    chosen = name or ctx.project_id
    projects = [_project(request, chosen)] if chosen else []
    return JSONResponse({"projects": projects, "links": {"self": str(request.url), "next": None, "previous": None}})


async def show_domain(request: Request) -> Response:
    """``GET /identity/v3/domains/{domain_id}``: the one domain projects live in."""
    context(request)
    domain_id = request.path_params["domain_id"]
    if domain_id not in (DOMAIN, "Default"):
        raise NotFound(f"Domain {domain_id} does not exist here; every project is in domain '{DOMAIN}'.")
    return JSONResponse({"domain": {"id": DOMAIN, "name": "Default", "enabled": True, "description": ""}})


ROUTES: list[tuple[str, dict[str, Handler]]] = [
    (PREFIX, {"GET": version}),
    (PREFIX + "/projects", {"GET": list_projects}),
    (PREFIX + "/projects/{project_id}", {"GET": show_project}),
    (PREFIX + "/domains/{domain_id}", {"GET": show_domain}),
]
