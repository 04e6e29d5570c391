"""Per-project quota overrides, usage, and the locked check that keeps usage within limits.

A quota check takes a row lock on the project (``projects`` table) inside the
same transaction as the change it guards, then counts usage: concurrent
changes of one project are serialised there, so together they can never
overshoot a limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from glimpse.db.engine import Database
from glimpse.db.transactions import TransactionGuard
from glimpse.db.sqlite_reads import hot_read
from glimpse.db.tables import images, project_quotas, projects
from glimpse.errors import QuotaExceeded

RESOURCES = ("image_count_total", "image_size_total", "image_stage_total", "image_count_uploading")
_STORED = ("active", "deactivated", "pending_delete")
_STAGED = ("uploading", "importing")
_IN_FLIGHT = ("saving", "uploading", "importing")
MiB = 1024 * 1024
#: Read before every quota-guarded change (every image created): built once, plain sqlite3 on SQLite.
_OVERRIDES = hot_read(sa.select(project_quotas.c.resource, project_quotas.c.limit).where(
    project_quotas.c.project_id == sa.bindparam("project_id")))


@dataclass(frozen=True)
class Usage:
    """What a project uses now; sizes in bytes."""

    image_count_total: int = 0
    image_size_total: int = 0
    image_stage_total: int = 0
    image_count_uploading: int = 0


@dataclass(frozen=True)
class QuotaCheck:
    """``usage(resource) + delta <= limit``; sizes in bytes."""

    resource: str
    delta: int
    limit: int


class QuotaRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._known_projects: set[str] = set()

    def overrides(self, project_id: str) -> dict[str, int]:
        return {resource: int(limit) for resource, limit in self._db.rows(_OVERRIDES, {"project_id": project_id})}

    def all_overrides(self, project_id: str | None = None) -> list[tuple[str, str, int]]:
        statement = sa.select(project_quotas).order_by(project_quotas.c.project_id, project_quotas.c.resource)
        if project_id is not None:
            statement = statement.where(project_quotas.c.project_id == project_id)
        with self._db.read() as conn:
            return [(r.project_id, r.resource, int(r.limit)) for r in conn.execute(statement)]

    def set_limit(self, project_id: str, resource: str, limit: int) -> None:
        with self._db.write() as conn:
            changed = conn.execute(project_quotas.update()
                                   .where(project_quotas.c.project_id == project_id,
                                          project_quotas.c.resource == resource)
                                   .values(limit=limit)).rowcount
            if not changed:
                conn.execute(project_quotas.insert().values(project_id=project_id, resource=resource, limit=limit))

    def delete_limit(self, project_id: str, resource: str) -> bool:
        with self._db.write() as conn:
            return bool(conn.execute(project_quotas.delete().where(project_quotas.c.project_id == project_id,
                                                                   project_quotas.c.resource == resource)).rowcount)

    def usage(self, project_id: str) -> Usage:
        with self._db.read() as conn:
            return _usage(conn, project_id)

    def guard(self, project_id: str, checks: list[QuotaCheck]) -> TransactionGuard:
        """A check to run inside the write transaction of the change it guards."""
        self._ensure_project_row(project_id)

        def check(conn: Connection) -> None:
            conn.execute(sa.select(projects.c.id).where(projects.c.id == project_id).with_for_update())
            usage = _usage(conn, project_id)
            for item in checks:
                used = getattr(usage, item.resource)
                if used + item.delta > item.limit:
                    raise QuotaExceeded(_explain(item, used))

        return check


    def _ensure_project_row(self, project_id: str) -> None:
        """Create the project's lock row, in a transaction of its own.

        Creating it inside the guarded transaction would let concurrent first
        uses take shared locks on it and then deadlock wanting exclusive ones
        (InnoDB); once it exists, the guard only takes the exclusive lock.
        """
        if project_id in self._known_projects:
            return
        with self._db.write() as conn:
            dialect = conn.dialect.name
            if dialect == "postgresql":
                conn.execute(pg_insert(projects).values(id=project_id).on_conflict_do_nothing())
            elif dialect in ("mysql", "mariadb"):
                conn.execute(projects.insert().values(id=project_id).prefix_with("IGNORE"))
            else:
                conn.execute(projects.insert().values(id=project_id).prefix_with("OR IGNORE"))
        self._known_projects.add(project_id)


def _usage(conn: Connection, project_id: str) -> Usage:
    status, size = images.c.status, images.c.size
    row = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((status.in_(_STORED), size), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((status.in_(_STAGED), size), else_=0)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((status.in_(_IN_FLIGHT), 1), else_=0)), 0),
        ).where(images.c.owner == project_id, images.c.deleted.is_(False),
                status.not_in(["deleted", "killed"]))
    ).one()
    return Usage(*(int(value or 0) for value in row))


def _explain(check: QuotaCheck, used: int) -> str:
    if check.resource in ("image_size_total", "image_stage_total"):
        return (f"Quota exceeded for {check.resource}: {used / MiB:.1f} MiB of {check.limit / MiB:.1f} MiB in use, "
                f"{check.delta / MiB:.1f} MiB more would exceed it. Delete images or ask for a higher quota.")
    return (f"Quota exceeded for {check.resource}: {used} of {check.limit} in use. "
            "Delete images, wait for uploads to finish, or ask for a higher quota.")
