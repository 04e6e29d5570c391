"""What the arbiter does before it forks any worker: bring the database to the current schema.

The migration runs in a forked child process, so Alembic is never imported
into the arbiter, whose memory every worker shares
(``tests/cli/test_commands.py`` checks the serving processes never load it).
"""

from __future__ import annotations

import multiprocessing
import sys

from glimpse.db.engine import Database
from glimpse.db.migrate import upgrade


def migrate_in_child(database_url: str) -> None:
    """Migrate the database from a forked child process, so the serving processes never load Alembic."""
    child = multiprocessing.get_context("fork").Process(target=_upgrade, args=(database_url,), name="migrate")
    child.start()
    child.join()
    if child.exitcode != 0:
        sys.exit(f"error: migrating the database failed (exit status {child.exitcode}; see above)")


def _upgrade(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database)
    finally:
        database.dispose()
