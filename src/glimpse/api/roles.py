"""What a node of one role does with a request that belongs to the other role.

A ``registry`` node serves metadata and answers image data requests with a
307 redirect to the streaming endpoint; a ``streaming`` node serves image data
and metadata reads (it needs them to serve downloads) and answers metadata
writes with a 307 redirect to the registry endpoint. The redirect keeps the
path and query, and 307 tells the client to repeat the same method and body.
Without the other role's endpoint configured the answer is 404 saying where
the request should go.

A client that sends a body without ``Expect: 100-continue`` has sent it all
before it reads the redirect, and some (python-glanceclient's chunked uploads)
then follow it with an empty body. So a redirected request that carries a
body gets the query parameter :data:`REDIRECT_MARKER`, and the upload handler
refuses an empty body that arrives with it instead of storing an empty image.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from glimpse.api.routing import Handler

ROLES = ("all", "registry", "streaming")
#: Methods that only read; a streaming node answers them itself.
READ_METHODS = frozenset({"GET", "HEAD"})
#: Added to the query of a redirected request with a body: ``?redirected_from=registry``.
REDIRECT_MARKER = "redirected_from"


def redirect_to(role: str, endpoint: str | None, *, from_role: str) -> Handler:
    """A handler sending the request to the nodes of ``role`` at ``endpoint``."""

    async def redirect(request: Request) -> Response:
        if not endpoint:
            raise HTTPException(
                404,
                f"This node does not serve {request.method} {request.url.path}: it belongs to the {role} role, "
                f"and no {role}_endpoint is configured here to redirect to. Send it to a {role} node.",
            )
        query = request.url.query
        if request.method not in READ_METHODS and request.method != "DELETE":
            query = f"{query}&{REDIRECT_MARKER}={from_role}" if query else f"{REDIRECT_MARKER}={from_role}"
        location = f"{endpoint.rstrip('/')}{request.url.path}{'?' + query if query else ''}"
        return Response(status_code=307, headers={"Location": location})

    return redirect
