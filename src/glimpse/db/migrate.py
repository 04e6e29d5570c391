"""Bring a database to the schema this code needs, and tell whether it is there.

Several nodes may start at once against one server database; each migration
run holds a database-wide advisory lock so only one of them migrates.

Alembic is imported only when one of these functions runs: it adds about
12 MiB to a process, and the serving processes never migrate (``glimpse-api``
migrates in a short-lived child process before it starts them).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from glimpse.db.engine import Database
from glimpse.db.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
_SCRIPTS = Path(__file__).parent / "migrations"
_LOCK_NAME = "glimpse-migrations"
_LOCK_ID = 0x676C696D7073  # "glimps"


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    """Migrate to ``revision`` (default: the newest).

    A database already at the newest revision is left alone without running
    Alembic, so a node's start-up logs Alembic's lines only when it migrates.
    """
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its set-up lines, on every run
    from alembic import command

    current = current_revision(db)
    if revision == "head" and current == head_revision():
        return
    log.info("migrating the database from revision %s to %s", current or "(empty)", revision)
    logging.getLogger("alembic.runtime.migration").setLevel(logging.INFO)  # one line per migration applied
    with db.engine.connect() as conn, _migration_lock(conn):
        command.upgrade(_config(conn), revision)
        conn.commit()


def schema_differences(db: Database) -> list[Any]:
    """Differences between the live schema and ``tables.py`` (empty when they agree)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


@contextlib.contextmanager
def _migration_lock(conn: Connection) -> Iterator[None]:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
            conn.commit()
    elif dialect in ("mysql", "mariadb"):
        conn.execute(sa.text("SELECT GET_LOCK(:name, 600)"), {"name": _LOCK_NAME})
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME})
    else:
        yield
