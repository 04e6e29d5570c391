"""Authenticating every request except version discovery and health checks."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Scope

from glimpse.api.errors import error_response, status_for
from glimpse.auth import Authenticator
from glimpse.errors import IdentityUnavailable, InvalidRequest, Unauthenticated, Unavailable

PUBLIC_PATHS = frozenset({"/", "/versions", "/healthcheck", "/openapi.json"})
#: The web console's page, static files and sign-in exchange (the ``console`` extension): they carry no
#: API credentials; the page then calls the API with the user's, like any other client.
PUBLIC_PREFIXES = ("/console/",)


async def authenticate(authenticator: Authenticator, scope: Scope, headers: Headers) -> Response | None:
    """Put the caller's context in the request state; or the answer (401, 503) if there is none.

    Version discovery and health checks (:data:`PUBLIC_PATHS`) need no identity.
    """
    if scope["path"] in PUBLIC_PATHS or scope["path"] == "/console" or scope["path"].startswith(PUBLIC_PREFIXES):
        return None
    state = scope.setdefault("state", {})
    try:
        state["context"] = await authenticator.authenticate(headers, state["request_id"])
    except (Unauthenticated, IdentityUnavailable, InvalidRequest, Unavailable) as exc:
        # Unavailable: the tokens strategy looks tokens up in the database, which may be down (503)
        extra = ({"WWW-Authenticate": exc.challenge} if isinstance(exc, Unauthenticated)
                 else {"Retry-After": str(exc.retry_after)} if isinstance(exc, Unavailable) else None)
        return error_response(headers.get("accept"), status_for(exc), exc.message, headers=extra,
                              request_id=state.get("request_id"))
    return None
