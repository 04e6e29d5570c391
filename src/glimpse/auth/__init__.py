"""Authentication strategies: turn a request's credentials into a :class:`RequestContext`.

``noauth`` trusts identity headers (development only), ``keystone`` validates
``X-Auth-Token`` with an OpenStack Identity service, ``tokens`` checks API
tokens kept (hashed) in our own database. The edge calls the configured
strategy once per request; services only ever see the resulting context.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.datastructures import Headers

from glimpse.context import RequestContext
from glimpse.errors import InvalidRequest
from glimpse.policy import Policy


class Authenticator(Protocol):
    async def authenticate(self, headers: Headers, request_id: str) -> RequestContext:
        """The caller, or :class:`~glimpse.errors.Unauthenticated` / :class:`~glimpse.errors.IdentityUnavailable`."""
        ...

    async def close(self) -> None:
        ...


#: Longest project or user id: the width of every column that records one.
MAX_ID_LENGTH = 255


def context_for(policy: Policy, *, project_id: str | None, user_id: str | None, roles: set[str] | frozenset[str],
                request_id: str, auth_token: str | None = None,
                service_catalog: tuple[dict[str, Any], ...] = ()) -> RequestContext:
    """A context whose ``is_admin`` follows the ``context_is_admin`` policy rule.

    Raises :class:`InvalidRequest` for a project or user id no database column holds (over 255
    characters), whatever the identity source claimed.
    """
    for what, value in (("project id", project_id), ("user id", user_id)):
        if value is not None and len(value) > MAX_ID_LENGTH:
            raise InvalidRequest(f"The {what} has {len(value)} characters; at most {MAX_ID_LENGTH} are allowed.")
    lowered = frozenset(role.lower() for role in roles)
    is_admin = policy.check_roles("context_is_admin", lowered, project_id=project_id, user_id=user_id)
    return RequestContext(project_id=project_id, user_id=user_id, roles=lowered, is_admin=is_admin,
                          request_id=request_id, auth_token=auth_token, service_catalog=service_catalog)
