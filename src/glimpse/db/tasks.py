"""The task repository."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from glimpse.db.engine import Database, retry_on_conflict
from glimpse.clock import utcnow
from glimpse.db.tables import tasks
from glimpse.domain.tasks import Task, TaskStatus


class TaskRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    @retry_on_conflict
    def add(self, task: Task) -> Task:
        with self._db.write() as conn:
            conn.execute(tasks.insert().values(
                id=task.id, type=task.type, status=task.status.value, owner=task.owner, image_id=task.image_id,
                request_id=task.request_id, user_id=task.user_id, input=task.input, result=task.result,
                message=task.message, expires_at=task.expires_at, created_at=task.created_at,
                updated_at=task.updated_at))
        return task

    def get(self, task_id: str) -> Task | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()
        return _task(row) if row else None

    def for_image(self, image_id: str, *, now: dt.datetime | None = None) -> list[Task]:
        """The image's tasks that have not expired, oldest first."""
        moment = now or utcnow()
        with self._db.read() as conn:
            rows = conn.execute(sa.select(tasks)
                                .where(tasks.c.image_id == image_id,
                                       sa.or_(tasks.c.expires_at.is_(None), tasks.c.expires_at > moment))
                                .order_by(tasks.c.created_at, tasks.c.id)).all()
        return [_task(row) for row in rows]

    def list_page(self, *, limit: int, marker: Task | None, sort_key: str, sort_dir: str,
                  status: str | None = None, type_: str | None = None,
                  now: dt.datetime | None = None) -> list[Task]:
        """Unexpired tasks, ``limit`` of them after ``marker`` in ``sort_key`` order (ties by id)."""
        moment = now or utcnow()
        column, ident = tasks.c[sort_key], tasks.c.id
        conditions = [sa.or_(tasks.c.expires_at.is_(None), tasks.c.expires_at > moment)]
        if status is not None:
            conditions.append(tasks.c.status == status)
        if type_ is not None:
            conditions.append(tasks.c.type == type_)
        if marker is not None:
            value = getattr(marker, sort_key)
            value = value.value if hasattr(value, "value") else value
            if sort_dir == "asc":
                conditions.append(sa.or_(column > value, sa.and_(column == value, ident > marker.id)))
            else:
                conditions.append(sa.or_(column < value, sa.and_(column == value, ident < marker.id)))
        order = [column.asc(), ident.asc()] if sort_dir == "asc" else [column.desc(), ident.desc()]
        with self._db.read() as conn:
            rows = conn.execute(sa.select(tasks).where(*conditions).order_by(*order).limit(limit)).all()
        return [_task(row) for row in rows]

    @retry_on_conflict
    def transition(self, task: Task, status: TaskStatus, *, result: dict[str, Any] | None = None,
                   message: str | None = None, expires_at: dt.datetime | None = None) -> Task | None:
        """Move ``task`` from its current status to ``status``; ``None`` if it was no longer there."""
        now = utcnow()
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if result is not None:
            values["result"] = result
        if message is not None:
            values["message"] = message
        if expires_at is not None:
            values["expires_at"] = expires_at
        with self._db.write() as conn:
            changed = conn.execute(tasks.update()
                                   .where(tasks.c.id == task.id, tasks.c.status == task.status.value)
                                   .values(**values)).rowcount
        return self.get(task.id) if changed else None

    def touch(self, task_id: str) -> None:
        """Show that the worker running this task is still alive."""
        with self._db.write() as conn:
            conn.execute(tasks.update().where(tasks.c.id == task_id).values(updated_at=utcnow()))

    def purge_expired(self, now: dt.datetime | None = None) -> int:
        """Remove tasks past their expiry; returns how many."""
        with self._db.write() as conn:
            return int(conn.execute(tasks.delete().where(tasks.c.expires_at.is_not(None),
                                                         tasks.c.expires_at <= (now or utcnow()))).rowcount)

    def stale(self, before: dt.datetime) -> list[Task]:
        """Unfinished tasks whose worker has shown no sign of life since ``before``."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(tasks).where(
                tasks.c.status.in_([TaskStatus.PENDING.value, TaskStatus.PROCESSING.value]),
                tasks.c.updated_at < before)).all()
        return [_task(row) for row in rows]


def _task(row: Row[Any]) -> Task:
    return Task(id=row.id, type=row.type, status=TaskStatus(row.status), owner=row.owner,
                created_at=row.created_at, updated_at=row.updated_at, image_id=row.image_id,
                request_id=row.request_id, user_id=row.user_id, input=row.input, result=row.result,
                message=row.message or "", expires_at=row.expires_at)
