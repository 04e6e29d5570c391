"""Who is calling: the identity every service method receives first."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


def new_request_id() -> str:
    """Return a fresh request id in the OpenStack form ``req-<uuid4>``.

    The random UUID is formatted straight from its bytes, a third of the cost of
    ``str(uuid.uuid4())`` (this runs for every request).
    """
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    h = raw.hex()
    return f"req-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class RequestContext:
    """The caller of one operation: user, project, roles and a request id.

    ``project_id`` is ``None`` for an unscoped caller (the embedded default's
    header-less admin); images it creates have no owner and are visible to all,
    as in Glance's unauthenticated mode.
    """

    project_id: str | None = None
    user_id: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)
    is_admin: bool = False
    request_id: str = field(default_factory=new_request_id)
    #: the caller's Keystone token and its service catalog (forwarded to another region by glance-download)
    auth_token: str | None = field(default=None, repr=False, compare=False)
    service_catalog: tuple[dict[str, Any], ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def admin(cls, project_id: str | None = None, *, request_id: str | None = None) -> RequestContext:
        """An administrator, optionally scoped to ``project_id``."""
        return cls(
            project_id=project_id,
            roles=frozenset({"admin", "member", "reader"}),
            is_admin=True,
            request_id=request_id or new_request_id(),
        )

    @classmethod
    def for_project(
        cls,
        project_id: str,
        *,
        user_id: str | None = None,
        roles: frozenset[str] | set[str] = frozenset({"member", "reader"}),
        request_id: str | None = None,
    ) -> RequestContext:
        """A caller inside ``project_id``; ``admin`` among ``roles`` makes it an admin."""
        lowered = frozenset(r.lower() for r in roles)
        return cls(
            project_id=project_id,
            user_id=user_id,
            roles=lowered,
            is_admin="admin" in lowered,
            request_id=request_id or new_request_id(),
        )

    def has_role(self, role: str) -> bool:
        return role.lower() in self.roles
