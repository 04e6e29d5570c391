"""The template repository: template versions as domain objects, changed compare-and-swap."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from glimpse.db.engine import Database, retry_on_conflict
from glimpse.db.outbox import write_messages
from glimpse.db.tables import template_members, templates
from glimpse.domain.events import OutboxMessage
from glimpse.domain.images import Visibility
from glimpse.domain.members import MemberStatus
from glimpse.domain.templates import Template, version_order
from glimpse.errors import DuplicateTemplate

#: Given the template as stored (or as it was, on delete), the messages to write with the change.
Outbox = Callable[[Template], Sequence[OutboxMessage]]


def _no_messages(template: Template) -> Sequence[OutboxMessage]:
    return ()


class TemplateRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, template_id: str) -> Template | None:
        with self._db.read() as conn:
            row = conn.execute(sa.select(templates).where(templates.c.id == template_id)).first()
        return _template(row) if row else None

    def candidates(self, project_id: str | None, *, is_admin: bool, visibility: str | None,
                   member_status: str, columns: dict[str, Any]) -> list[Template]:
        """Every template a project may list: own, public, community when asked for, and shared
        with it (members of ``member_status``, or any with ``all``). Exact ``columns`` filter."""
        statement = sa.select(templates)
        for column, value in columns.items():
            statement = statement.where(templates.c[column] == value)
        if visibility is not None and visibility != "all":
            statement = statement.where(templates.c.visibility == visibility)
        if not is_admin:
            membership = sa.select(template_members.c.template_id).where(template_members.c.member == project_id)
            if member_status != "all":
                membership = membership.where(template_members.c.status == member_status)
            seen = [templates.c.visibility == Visibility.PUBLIC.value,
                    sa.and_(templates.c.visibility == Visibility.SHARED.value, templates.c.id.in_(membership))]
            if project_id is not None:
                seen.append(templates.c.owner == project_id)
            if visibility == Visibility.COMMUNITY.value:
                seen.append(templates.c.visibility == Visibility.COMMUNITY.value)
            statement = statement.where(sa.or_(*seen))
        with self._db.read() as conn:
            rows = conn.execute(statement).all()
        return [_template(r) for r in rows]

    def versions(self, owner: str | None, name: str) -> list[Template]:
        """Every version of one owner's template ``name``, oldest version first."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(templates).where(templates.c.owner == owner, templates.c.name == name)
                                .order_by(templates.c.version_order)).all()
        return [_template(r) for r in rows]

    @retry_on_conflict
    def add(self, template: Template, *, outbox: Outbox = _no_messages) -> Template:
        """Store a new version; :class:`DuplicateTemplate` if the owner already has this name and version."""
        try:
            with self._db.write() as conn:
                conn.execute(templates.insert().values(**_row(template)))
                write_messages(conn, outbox(template))
        except IntegrityError:
            raise DuplicateTemplate(f"Template '{template.name}' version {template.version} already exists; "
                                    "publish a higher version instead.") from None
        return template

    def update(self, current: Template, changed: Template, *, outbox: Outbox = _no_messages) -> Template | None:
        """Store ``changed`` if the row is still at ``current``'s revision; ``None`` if another writer won."""
        stored = changed.replaced(revision=current.revision + 1)
        with self._db.write() as conn:
            result = conn.execute(templates.update().where(templates.c.id == current.id,
                                                           templates.c.revision == current.revision)
                                  .values(**_row(stored)))
            if not result.rowcount:
                return None
            write_messages(conn, outbox(stored))
        return stored

    def delete(self, template: Template, *, outbox: Outbox = _no_messages) -> bool:
        """Remove a version and its members if it is still at its revision."""
        with self._db.write() as conn:
            result = conn.execute(templates.delete().where(templates.c.id == template.id,
                                                           templates.c.revision == template.revision))
            if not result.rowcount:
                return False
            # The foreign key cascades where it is enforced; SQLite may not enforce it.
            conn.execute(template_members.delete().where(template_members.c.template_id == template.id))
            write_messages(conn, outbox(template))
        return True

    def member_status(self, template_id: str, project_id: str) -> MemberStatus | None:
        with self._db.read() as conn:
            status = conn.execute(sa.select(template_members.c.status).where(
                template_members.c.template_id == template_id, template_members.c.member == project_id)).scalar()
        return MemberStatus(status) if status else None


def _row(template: Template) -> dict[str, Any]:
    return {
        "id": template.id, "name": template.name, "version": template.version,
        "version_order": version_order(template.version), "owner": template.owner,
        "visibility": template.visibility.value, "protected": template.protected,
        "deprecated": template.deprecated, "image_id": template.image_id,
        "document": {"description": template.description, "parameters": template.parameters,
                     "user_data": template.user_data, "metadata": template.metadata, "min_ram": template.min_ram,
                     "min_disk": template.min_disk, "flavor_hint": template.flavor_hint,
                     "networks_hint": list(template.networks_hint)},
        "tags": list(template.tags), "created_at": template.created_at, "updated_at": template.updated_at,
        "revision": template.revision,
    }


def _template(row: Row[Any]) -> Template:
    document = row.document
    return Template(
        id=row.id, name=row.name, version=row.version, owner=row.owner, visibility=Visibility(row.visibility),
        image_id=row.image_id, user_data=document["user_data"], created_at=row.created_at,
        updated_at=row.updated_at, parameters=document.get("parameters") or {},
        description=document.get("description") or "", metadata=document.get("metadata") or {},
        min_ram=int(document.get("min_ram") or 0), min_disk=int(document.get("min_disk") or 0),
        flavor_hint=document.get("flavor_hint"), networks_hint=tuple(document.get("networks_hint") or ()),
        deprecated=bool(row.deprecated), protected=bool(row.protected), tags=tuple(row.tags or ()),
        revision=row.revision,
    )
