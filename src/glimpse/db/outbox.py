"""The outbox: messages stored with the change they report, until a relay has published them.

Writers add rows inside their own change's transaction (:func:`write_messages`).
Relays take rows with :meth:`OutboxRepository.claim`, publish them, and mark
them sent. A claim is a lease: a relay that dies leaves its rows to be claimed
again when the lease runs out, so a message may be published twice (its
``message_id`` lets consumers drop the copy) but never lost. Rows with the same
ordering key are handed out strictly in the order they were written, even to
several relays at once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from glimpse.clock import utcnow
from glimpse.db.engine import Database
from glimpse.db.tables import outbox
from glimpse.domain.events import ClaimedMessage, OutboxMessage


def write_messages(conn: Connection, messages: Sequence[OutboxMessage]) -> None:
    """Add ``messages`` to the outbox within the caller's transaction."""
    if messages:
        conn.execute(outbox.insert(), [
            {"message_id": m.message_id, "ordering_key": m.key, "event_type": m.event_type,
             "priority": m.priority, "body": json.dumps(m.body, default=str), "created_at": m.created_at}
            for m in messages
        ])


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, messages: Sequence[OutboxMessage]) -> None:
        """Store messages that go with no other change (a finished download)."""
        if messages:
            with self._db.write() as conn:
                write_messages(conn, messages)

    def claim(self, relay_id: str, *, limit: int, lease: dt.timedelta) -> list[ClaimedMessage]:
        """Claim up to ``limit`` unsent messages for ``relay_id``, oldest first.

        A message is only handed out when every earlier unsent message with the
        same ordering key is handed out with it, so no relay can overtake
        another on one key. On PostgreSQL and MariaDB rows another relay is
        claiming are skipped (``FOR UPDATE SKIP LOCKED``); SQLite serialises
        the claims.
        """
        now = utcnow()
        unsent = outbox.c.sent_at.is_(None)
        free = sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)
        with self._db.read() as conn:  # an idle relay should not take SQLite's write lock
            if conn.execute(sa.select(outbox.c.id).where(unsent, free).limit(1)).first() is None:
                return []
        with self._db.write() as conn:
            statement = sa.select(outbox).where(unsent, free).order_by(outbox.c.id).limit(limit)
            if conn.dialect.name in ("postgresql", "mysql", "mariadb"):
                statement = statement.with_for_update(skip_locked=True)
            rows = conn.execute(statement).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            # The earliest unsent message per key that is not among these (claimed
            # elsewhere, or being claimed right now): nothing after it may go yet.
            blocking = dict(conn.execute(
                sa.select(outbox.c.ordering_key, sa.func.min(outbox.c.id))
                .where(unsent, outbox.c.ordering_key.in_({row.ordering_key for row in rows}),
                       outbox.c.id.not_in(ids), outbox.c.id < max(ids))
                .group_by(outbox.c.ordering_key)
            ).all())
            mine = [row for row in rows if row.id < blocking.get(row.ordering_key, row.id + 1)]
            if mine:
                conn.execute(outbox.update().where(outbox.c.id.in_([row.id for row in mine]))
                             .values(claimed_by=relay_id, claimed_until=now + lease))
        return [ClaimedMessage(row.id, row.message_id, row.ordering_key, row.event_type, row.priority,
                               json.loads(row.body)) for row in mine]

    def mark_sent(self, relay_id: str, ids: Sequence[int]) -> None:
        """Record that the broker confirmed these messages."""
        if ids:
            with self._db.write() as conn:
                conn.execute(outbox.update().where(outbox.c.id.in_(ids), outbox.c.claimed_by == relay_id)
                             .values(sent_at=utcnow(), claimed_by=None, claimed_until=None))

    def release(self, relay_id: str, ids: Sequence[int]) -> None:
        """Give back claimed messages that could not be published, to be tried again."""
        if ids:
            with self._db.write() as conn:
                conn.execute(outbox.update().where(outbox.c.id.in_(ids), outbox.c.claimed_by == relay_id,
                                                   outbox.c.sent_at.is_(None))
                             .values(claimed_by=None, claimed_until=None))

    def pending_count(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(outbox)
                                    .where(outbox.c.sent_at.is_(None))).scalar_one())

    def pending(self, *, limit: int = 1000) -> list[ClaimedMessage]:
        """Unsent messages, oldest first, without claiming them (for operators and tests)."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(outbox).where(outbox.c.sent_at.is_(None))
                                .order_by(outbox.c.id).limit(limit)).all()
        return [ClaimedMessage(r.id, r.message_id, r.ordering_key, r.event_type, r.priority, json.loads(r.body))
                for r in rows]

    def prune(self, *, sent_before: dt.datetime) -> int:
        """Delete messages published before ``sent_before``; return how many."""
        with self._db.write() as conn:
            return int(conn.execute(outbox.delete().where(outbox.c.sent_at.is_not(None),
                                                          outbox.c.sent_at < sent_before)).rowcount)
