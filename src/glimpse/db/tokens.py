"""The API token repository."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from glimpse.db.engine import Database
from glimpse.clock import utcnow
from glimpse.db.tables import api_tokens
from glimpse.domain.tokens import ApiToken


class TokenRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, token: ApiToken, secret_hash: str) -> None:
        with self._db.write() as conn:
            conn.execute(api_tokens.insert().values(
                id=token.id, secret_hash=secret_hash, project_id=token.project_id, user_id=token.user_id,
                roles=list(token.roles), description=token.description, created_at=token.created_at,
                expires_at=token.expires_at, revoked_at=None))

    def get(self, token_id: str) -> tuple[ApiToken, str] | None:
        """The token and the stored hash of its secret."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).first()
        return (_token(row), row.secret_hash) if row else None

    def list(self, project_id: str | None = None) -> list[ApiToken]:
        statement = sa.select(api_tokens).order_by(api_tokens.c.created_at)
        if project_id is not None:
            statement = statement.where(api_tokens.c.project_id == project_id)
        with self._db.read() as conn:
            return [_token(row) for row in conn.execute(statement)]

    def revoke(self, token_id: str, moment: dt.datetime | None = None) -> bool:
        with self._db.write() as conn:
            return bool(conn.execute(api_tokens.update()
                                     .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                                     .values(revoked_at=moment or utcnow())).rowcount)


def _token(row: Row[Any]) -> ApiToken:
    return ApiToken(id=row.id, project_id=row.project_id, user_id=row.user_id, roles=tuple(row.roles),
                    description=row.description, created_at=row.created_at, expires_at=row.expires_at,
                    revoked_at=row.revoked_at)
