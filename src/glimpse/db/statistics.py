"""Whole-table figures for monitoring: images by status, the outbox's backlog."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from glimpse.db.engine import Database
from glimpse.db.tables import images, outbox


@dataclass(frozen=True)
class OutboxBacklog:
    """Messages written but not yet published, and when the oldest of them was written (``None``: none)."""

    pending: int
    oldest: dt.datetime | None


class StatisticsRepository:
    """Aggregate queries an operator's dashboard needs; each one statement."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def images_by_status(self) -> dict[str, int]:
        """``{status: number of images}`` for every status some image has."""
        with self._db.statement() as conn:
            rows = conn.execute(sa.select(images.c.status, sa.func.count()).group_by(images.c.status)).all()
        return {str(status): int(count) for status, count in rows}

    def outbox_backlog(self) -> OutboxBacklog:
        """The unsent messages of the outbox."""
        with self._db.statement() as conn:
            count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(outbox.c.created_at))
                                         .where(outbox.c.sent_at.is_(None))).one()
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.timezone.utc)
        return OutboxBacklog(int(count), oldest)
