"""The member repository: which projects an image is shared with, and their answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from glimpse.db.engine import Database, retry_on_conflict
from glimpse.clock import utcnow
from glimpse.db.outbox import write_messages
from glimpse.db.tables import image_members
from glimpse.domain.events import OutboxMessage
from glimpse.domain.members import Member, MemberStatus
from glimpse.errors import DuplicateMember

_table = image_members
#: Given the member as stored (or as it was, on delete), the messages to write with the change.
Outbox = Callable[[Member], Sequence[OutboxMessage]]


def _no_messages(member: Member) -> Sequence[OutboxMessage]:
    return ()


class MemberRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, image_id: str, member_id: str) -> Member | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(_table).where(_table.c.image_id == image_id,
                                                       _table.c.member == member_id)).first()
        return _member(row) if row else None

    def list(self, image_id: str) -> list[Member]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(_table).where(_table.c.image_id == image_id)
                                .order_by(_table.c.created_at, _table.c.member)).all()
        return [_member(r) for r in rows]

    def count(self, image_id: str) -> int:
        with self._db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(_table)
                                    .where(_table.c.image_id == image_id)).scalar_one())

    @retry_on_conflict
    def add(self, image_id: str, member_id: str, *, outbox: Outbox = _no_messages) -> Member:
        """Add a pending member; raise :class:`DuplicateMember` if it is already there."""
        now = utcnow()
        member = Member(image_id, member_id, MemberStatus.PENDING, now, now)
        try:
            with self._db.write() as conn:
                conn.execute(_table.insert().values(image_id=image_id, member=member_id,
                                                    status=MemberStatus.PENDING.value, created_at=now, updated_at=now))
                write_messages(conn, outbox(member))
        except IntegrityError:
            raise DuplicateMember(f"Project {member_id} is already a member of image {image_id}.") from None
        return member

    def set_status(self, image_id: str, member_id: str, status: MemberStatus, *,
                   outbox: Outbox = _no_messages) -> Member | None:
        now = utcnow()
        where = (_table.c.image_id == image_id, _table.c.member == member_id)
        with self._db.write() as conn:
            if not conn.execute(_table.update().where(*where).values(status=status.value, updated_at=now)).rowcount:
                return None
            member = _member(conn.execute(sa.select(_table).where(*where)).one())
            write_messages(conn, outbox(member))
        return member

    def delete(self, image_id: str, member_id: str, *, outbox: Outbox = _no_messages) -> bool:
        where = (_table.c.image_id == image_id, _table.c.member == member_id)
        with self._db.write() as conn:
            row = conn.execute(sa.select(_table).where(*where)).first()
            if row is None or not conn.execute(_table.delete().where(*where)).rowcount:
                return False
            write_messages(conn, outbox(_member(row)))
        return True


def _member(row: Row[Any]) -> Member:
    return Member(image_id=row.image_id, member_id=row.member, status=MemberStatus(row.status),
                  created_at=row.created_at, updated_at=row.updated_at)
