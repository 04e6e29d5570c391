"""Issuing, checking and revoking API tokens (the ``tokens`` authentication strategy)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from glimpse.clock import utcnow
from glimpse.db.tokens import TokenRepository
from glimpse.domain.tokens import TOKEN_PREFIX, ApiToken
from glimpse.errors import InvalidRequest, NotFound


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenService:
    def __init__(self, repository: TokenRepository) -> None:
        self._repository = repository

    def issue(self, *, project_id: str | None, user_id: str | None, roles: Iterable[str],
              description: str | None = None, lifetime: dt.timedelta | None = None) -> tuple[ApiToken, str]:
        """Create a token; returns it and the secret string, which is shown only now."""
        role_list = tuple(sorted({r.strip().lower() for r in roles if r.strip()}))
        if not role_list:
            raise InvalidRequest("A token needs at least one role (e.g. member,reader).")
        now = utcnow()
        token = ApiToken(id=secrets.token_hex(8), project_id=project_id, user_id=user_id, roles=role_list,
                         description=description, created_at=now, expires_at=now + lifetime if lifetime else None)
        secret = secrets.token_urlsafe(32)
        self._repository.add(token, _hash(secret))
        return token, f"{TOKEN_PREFIX}.{token.id}.{secret}"

    def verify(self, presented: str) -> ApiToken | None:
        """The token ``presented`` stands for, if it is genuine, unexpired and not revoked."""
        prefix, _, rest = presented.partition(".")
        token_id, _, secret = rest.partition(".")
        if prefix != TOKEN_PREFIX or not token_id or not secret:
            return None
        found = self._repository.get(token_id)
        if found is None:
            return None
        token, stored_hash = found
        if not hmac.compare_digest(stored_hash, _hash(secret)):
            return None
        return token if token.usable_at(utcnow()) else None

    def list(self, project_id: str | None = None) -> list[ApiToken]:
        return self._repository.list(project_id)

    def revoke(self, token_id: str) -> None:
        if not self._repository.revoke(token_id):
            raise NotFound(f"No active token with id {token_id}.")
