"""What crosses the bus: requests, results and domain errors as JSON.

A request is ``{"method": "images.get", "context": {...}, "args": {...}}``;
a reply is ``{"result": ...}`` or ``{"error": {"type": "ImageNotFound",
"message": "...", "attributes": {...}}}``. Error types are the class names of
:mod:`glimpse.errors`, so a client re-raises the very class the service raised,
with the same message.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from glimpse import errors
from starlette.datastructures import Headers

from glimpse.context import RequestContext, new_request_id

#: Content type of requests and replies.
CONTENT_TYPE = "application/json"


def context_to_wire(ctx: RequestContext | None = None, *, project_id: str | None = None,
                    user_id: str | None = None, roles: list[str] | None = None) -> dict[str, Any]:
    if ctx is not None:
        return {"project_id": ctx.project_id, "user_id": ctx.user_id, "roles": sorted(ctx.roles),
                "request_id": ctx.request_id}
    return {"project_id": project_id, "user_id": user_id, "roles": roles}


def identity_headers(raw: Any) -> Headers:
    """The HTTP identity headers a request's ``context`` stands for.

    The server authenticates them exactly as the ``noauth`` strategy does an
    HTTP request, so the identity rules (no project: an unscoped admin; a
    project without roles: member and reader) are the same on both transports.
    """
    if not isinstance(raw, dict):
        raise errors.InvalidRequest("An RPC request needs a 'context' object.")
    roles = raw.get("roles")
    if roles is not None and not (isinstance(roles, list) and all(isinstance(r, str) for r in roles)):
        raise errors.InvalidRequest("The RPC context's 'roles' must be a list of strings.")
    headers = {}
    if _text(raw.get("project_id")):
        headers["x-project-id"] = str(raw["project_id"])
    if _text(raw.get("user_id")):
        headers["x-user-id"] = str(raw["user_id"])
    if roles is not None:
        headers["x-roles"] = ",".join(roles)
    return Headers(headers)


def request_id_of(raw: Any) -> str:
    """The request id a request's ``context`` carries, or a new one."""
    value = raw.get("request_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and value.startswith("req-") and len(value) <= 64 else new_request_id()


def to_wire(value: Any) -> Any:
    """Domain objects as JSON values: dataclasses as objects, enums by value, times in ISO 8601.

    Image locations are left out: their URLs may carry store credentials.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "locations"}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    return value


def error_to_wire(exc: errors.GlimpseError) -> dict[str, Any]:
    attributes = {k: v for k, v in vars(exc).items()
                  if k != "message" and isinstance(v, (str, int, float, bool, type(None)))}
    return {"type": type(exc).__name__, "message": exc.message, "attributes": attributes}


class RemoteError(Exception):
    """The server failed in a way that is not a domain error (a bug, or a broken request)."""


def error_from_wire(raw: dict[str, Any]) -> Exception:
    """The exception a reply's ``error`` stands for: the same :mod:`glimpse.errors` class and message."""
    cls = getattr(errors, str(raw.get("type")), None)
    message = str(raw.get("message", ""))
    if not (isinstance(cls, type) and issubclass(cls, errors.GlimpseError)):
        return RemoteError(message)
    exc = cls.__new__(cls)
    errors.GlimpseError.__init__(exc, message)
    for key, value in dict(raw.get("attributes") or {}).items():
        setattr(exc, key, value)
    return exc


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
