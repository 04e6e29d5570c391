"""API tokens of the ``tokens`` authentication strategy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

#: Tokens look like ``gl1.<16 hex id>.<secret>``; only a hash of the secret is stored.
TOKEN_PREFIX = "gl1"


@dataclass(frozen=True)
class ApiToken:
    id: str
    project_id: str | None
    user_id: str | None
    roles: tuple[str, ...]
    description: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    def usable_at(self, moment: dt.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or moment < self.expires_at)
