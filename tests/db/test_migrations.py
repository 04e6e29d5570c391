"""Migrations and table definitions agree, on every backend."""

from __future__ import annotations

from glimpse.db import migrate
from glimpse.db.engine import Database


def test_migrated_schema_matches_tables(database_url: str, server) -> None:  # type: ignore[no-untyped-def]
    # The server fixture has migrated this database at start-up.
    db = Database(database_url)
    try:
        assert migrate.current_revision(db) == migrate.head_revision()
        assert migrate.schema_differences(db) == []
        migrate.upgrade(db)  # idempotent
        assert migrate.current_revision(db) == migrate.head_revision()
    finally:
        db.dispose()
