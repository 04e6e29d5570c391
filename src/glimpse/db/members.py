"""The member repository: which projects an image (or another shared resource) is shared with, and their answers.

One repository class serves every table of the members' shape (a resource id,
``member``, ``status``, timestamps): ``image_members`` by default,
``template_members`` for server templates.
"""

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

#: Given the member as stored (or as it was, on delete), the messages to write with the change.
Outbox = Callable[[Member], Sequence[OutboxMessage]]


def _no_messages(member: Member) -> Sequence[OutboxMessage]:
    return ()


class MemberRepository:
    def __init__(self, db: Database, table: sa.Table = image_members) -> None:
        self._db = db
        self._table = table
        #: the column naming the shared resource (``image_id``, ``template_id``)
        self._key = next(c for c in table.primary_key.columns if c.name != "member")

    def get(self, image_id: str, member_id: str) -> Member | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(self._table).where(self._key == image_id,
                                                       self._table.c.member == member_id)).first()
        return self._member(row) if row else None

    def list(self, image_id: str) -> list[Member]:
        with self._db.read() as conn:
            rows = conn.execute(sa.select(self._table).where(self._key == image_id)
                                .order_by(self._table.c.created_at, self._table.c.member)).all()
        return [self._member(r) for r in rows]

    def count(self, image_id: str) -> int:
        with self._db.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(self._table)
                                    .where(self._key == image_id)).scalar_one())

    @retry_on_conflict
    def add(self, image_id: str, member_id: str, *, outbox: Outbox = _no_messages) -> Member:
        """Add a pending member; raise :class:`DuplicateMember` if it is already there."""
        now = utcnow()
        member = Member(image_id, member_id, MemberStatus.PENDING, now, now)
        try:
            with self._db.write() as conn:
                conn.execute(self._table.insert().values(**{self._key.name: image_id}, member=member_id,
                                                    status=MemberStatus.PENDING.value, created_at=now, updated_at=now))
                write_messages(conn, outbox(member))
        except IntegrityError:
            raise DuplicateMember(f"Project {member_id} is already a member of image {image_id}.") from None
        return member

    def set_status(self, image_id: str, member_id: str, status: MemberStatus, *,
                   outbox: Outbox = _no_messages) -> Member | None:
        now = utcnow()
        where = (self._key == image_id, self._table.c.member == member_id)
        with self._db.write() as conn:
            if not conn.execute(self._table.update().where(*where).values(status=status.value, updated_at=now)).rowcount:
                return None
            member = self._member(conn.execute(sa.select(self._table).where(*where)).one())
            write_messages(conn, outbox(member))
        return member

    def delete(self, image_id: str, member_id: str, *, outbox: Outbox = _no_messages) -> bool:
        where = (self._key == image_id, self._table.c.member == member_id)
        with self._db.write() as conn:
            row = conn.execute(sa.select(self._table).where(*where)).first()
            if row is None or not conn.execute(self._table.delete().where(*where)).rowcount:
                return False
            write_messages(conn, outbox(self._member(row)))
        return True

    def _member(self, row: Row[Any]) -> Member:
        return Member(image_id=row._mapping[self._key.name], member_id=row.member, status=MemberStatus(row.status),
                      created_at=row.created_at, updated_at=row.updated_at)
