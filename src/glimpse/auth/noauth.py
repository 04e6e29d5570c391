"""``noauth``: identity from ``X-Project-Id``/``X-Tenant-Id``, ``X-User-Id`` and ``X-Roles``, as
Glance's unauthenticated mode. For development on loopback only: anyone can claim anything.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from glimpse.auth import context_for
from glimpse.context import RequestContext
from glimpse.policy import Policy

#: Roles of a request without any identity headers: an administrator with no project.
ADMIN_ROLES = frozenset({"admin", "member", "reader"})
#: Roles of a request naming a project but no roles.
PROJECT_ROLES = frozenset({"member", "reader"})


class HeaderAuthenticator:
    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    async def authenticate(self, headers: Headers, request_id: str) -> RequestContext:
        project = (headers.get("x-project-id") or headers.get("x-tenant-id") or "").strip() or None
        user = (headers.get("x-user-id") or "").strip() or None
        raw_roles = headers.get("x-roles")
        if raw_roles is not None:  # python-glanceclient percent-encodes its identity headers: "a%2Cb"
            raw_roles = raw_roles.replace("%2C", ",").replace("%2c", ",")
        roles = {r.strip() for r in raw_roles.split(",") if r.strip()} if raw_roles is not None else None
        if project is None:
            roles = (roles or set()) | ADMIN_ROLES if roles is not None else set(ADMIN_ROLES)
        elif roles is None:
            roles = set(PROJECT_ROLES)
        return context_for(self._policy, project_id=project, user_id=user, roles=roles, request_id=request_id)

    async def close(self) -> None:
        return None
