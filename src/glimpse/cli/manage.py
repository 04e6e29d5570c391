"""``glimpse-manage``: operator commands (database, tokens, quotas, cleanup)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence

from glimpse.cli.options import add_common, settings_from
from glimpse.db import migrate
from glimpse.db.engine import Database
from glimpse.db.quotas import RESOURCES
from glimpse.errors import GlimpseError
from glimpse.services import Services, open_services


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="glimpse-manage", description="Operator commands for a Glimpse deployment.")
    add_common(p)
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="action", required=True,
                                                                           metavar="ACTION")
    db.add_parser("upgrade", help="migrate the database to the newest schema")
    db.add_parser("version", help="print the schema revision of the database and of this code")
    db.add_parser("check", help="exit non-zero unless the database schema is current and matches the code")

    token = commands.add_parser("token", help="API tokens (auth_strategy tokens)").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    create = token.add_parser("create", help="issue a token; its secret is printed once")
    create.add_argument("--project", help="project the token acts in (omit for an unscoped admin token)")
    create.add_argument("--user", help="user id recorded for the token")
    create.add_argument("--roles", default="member,reader", help="comma-separated roles (default member,reader)")
    create.add_argument("--description", help="free text to recognise the token by")
    create.add_argument("--expires-in-days", type=float, help="lifetime in days (default: no expiry)")
    listing = token.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--project", help="only this project's tokens")
    revoke = token.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("token_id")

    quota = commands.add_parser("quota", help="per-project quotas").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    show = quota.add_parser("show", help="limits and usage of a project")
    show.add_argument("--project", required=True)
    setter = quota.add_parser("set", help="override a limit for a project (-1 = unlimited)")
    setter.add_argument("--project", required=True)
    setter.add_argument("--resource", required=True, choices=RESOURCES)
    setter.add_argument("--limit", required=True, type=int, help="images, uploads, or MiB for sizes")
    reset = quota.add_parser("reset", help="drop a project's override so the default applies")
    reset.add_argument("--project", required=True)
    reset.add_argument("--resource", required=True, choices=RESOURCES)
    quota.add_parser("list", help="every per-project override")

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
    services = open_services(settings, migrate=False)
    try:
        {"token": _token, "quota": _quota, "cleanup": _cleanup}[args.command](args, services)
    except GlimpseError as exc:
        sys.exit(f"error: {exc.message}")
    finally:
        services.close()


def _token(args: argparse.Namespace, services: Services) -> None:
    if args.action == "create":
        lifetime = dt.timedelta(days=args.expires_in_days) if args.expires_in_days else None
        token, secret = services.tokens.issue(project_id=args.project, user_id=args.user,
                                              roles=args.roles.split(","), description=args.description,
                                              lifetime=lifetime)
        print(json.dumps({"id": token.id, "token": secret, "project_id": token.project_id,
                          "roles": list(token.roles),
                          "expires_at": token.expires_at.isoformat() + "Z" if token.expires_at else None}))
    elif args.action == "list":
        for token in services.tokens.list(args.project):
            state = "revoked" if token.revoked_at else "active"
            print(f"{token.id}  {token.project_id or '-'}  {','.join(token.roles)}  {state}  "
                  f"{token.description or ''}".rstrip())
    else:
        services.tokens.revoke(args.token_id)
        print(f"token {args.token_id} revoked")


def _quota(args: argparse.Namespace, services: Services) -> None:
    if args.action == "show":
        print(json.dumps(services.quotas.report(args.project), indent=2))
    elif args.action == "set":
        services.quotas.set_limit(args.project, args.resource, args.limit)
        print(f"{args.resource} of {args.project} limited to {args.limit}")
    elif args.action == "reset":
        found = services.quotas.reset_limit(args.project, args.resource)
        print(f"{args.resource} of {args.project} back to the default" if found else "no override to reset")
    else:
        for project, resource, limit in services.quotas.overrides():
            print(f"{project}  {resource}  {limit}")


def _cleanup(args: argparse.Namespace, services: Services) -> None:
    for line in services.maintenance.cleanup(stale_after=dt.timedelta(minutes=args.stale_minutes)):
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
