"""``glimpse-manage``: operator commands (database, cleanup)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence

from glimpse.cli.options import add_common, settings_from
from glimpse.db import migrate
from glimpse.db.engine import Database


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="glimpse-manage", description="Operator commands for a Glimpse deployment.")
    add_common(p)
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db = commands.add_parser("db", help="database schema").add_subparsers(dest="action", required=True,
                                                                           metavar="ACTION")
    db.add_parser("upgrade", help="migrate the database to the newest schema")
    db.add_parser("version", help="print the schema revision of the database and of this code")
    db.add_parser("check", help="exit non-zero unless the database schema is current and matches the code")
    cleanup = commands.add_parser("cleanup", help="remove data of deleted images and of abandoned uploads")
    cleanup.add_argument("--stale-minutes", type=float, default=10.0,
                         help="an upload without progress for this long counts as abandoned (default 10)")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = settings_from(args)
    if args.command == "db":
        database = Database(settings.database_url)
        try:
            sys.exit(_db(args.action, database))
        finally:
            database.dispose()
    if args.command == "cleanup":
        from glimpse.services import open_services

        services = open_services(settings, migrate=False)
        try:
            report = services.maintenance.cleanup(stale_after=dt.timedelta(minutes=args.stale_minutes))
        finally:
            services.close()
        for line in report:
            print(line)


def _db(action: str, database: Database) -> int:
    if action == "upgrade":
        migrate.upgrade(database)
        print(f"database at revision {migrate.current_revision(database)}")
        return 0
    current, head = migrate.current_revision(database), migrate.head_revision()
    if action == "version":
        print(f"database: {current or 'empty'}\ncode:     {head}")
        return 0
    if current != head:
        print(f"database schema is at {current or 'nothing'}, the code needs {head}: run 'glimpse-manage db upgrade'")
        return 1
    differences = migrate.schema_differences(database)
    if differences:
        print("database schema differs from the code:")
        for diff in differences:
            print(f"  {diff}")
        return 1
    print(f"database schema is current ({head})")
    return 0


if __name__ == "__main__":
    main()
