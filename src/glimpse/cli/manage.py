"""``glimpse-manage``: operator commands (database, tokens, quotas, metadefs catalog, templates, stores, cleanup,
scrub, image restore)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from glimpse.cli.config_sample import sample
from glimpse.cli.options import add_common, check_files, settings_from
from glimpse.context import RequestContext
from glimpse.db import migrate
from glimpse.db.engine import Database
from glimpse.db.quotas import RESOURCES
from glimpse.domain.images import ImageStatus
from glimpse.domain.queries import parse_image_query
from glimpse.errors import DatabaseUnavailable, DuplicateTemplate, GlimpseError, TemplateInvalid
from glimpse.cache.keeping import clean, maintenance, prefetch
from glimpse.cache.node import current as current_cache
from glimpse.services import Services, open_services
from glimpse.services.stores import open_node_stores
from glimpse.settings import Settings
from glimpse.stores.base import StoreError
from glimpse.stores.loader import StoreSetupError

#: What each quota resource counts (sizes in MiB, like the quota_* settings and Glance's usage report).
RESOURCE_UNITS = {"image_count_total": "images", "image_count_uploading": "uploads",
                  "image_size_total": "MiB", "image_stage_total": "MiB"}


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
    create = token.add_parser(
        "create", help="issue a token; its secret is printed once",
        description="Issue an API token for auth_strategy tokens and print it (its secret is shown only now). "
                    "Tokens are made only here, by whoever can run glimpse-manage against the database: the API "
                    "offers no way to create them. A token's roles, not the lack of a project, decide what it "
                    "may do: only --roles admin makes an administrator.")
    create.add_argument("--project", help="project the token acts in; omit it for a token in no project "
                                          "(an administrator only with --roles admin)")
    create.add_argument("--user", help="user id recorded for the token")
    create.add_argument("--roles", default="member,reader",
                        help="comma-separated roles (default member,reader); admin makes the holder an administrator")
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

    metadefs = commands.add_parser("metadefs", help="the metadata definitions catalog").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    load = metadefs.add_parser("load", help="load catalog files (Glance's metadefs JSON format)")
    load.add_argument("path", type=Path, help="a directory of *.json files, or one file")
    existing = load.add_mutually_exclusive_group()
    existing.add_argument("--merge", action="store_true", help="add to existing namespaces what they lack")
    existing.add_argument("--prefer-new", action="store_true",
                          help="like --merge, and replace existing definitions with the files' ones")
    existing.add_argument("--overwrite", action="store_true", help="replace existing namespaces entirely")
    load.add_argument("--owner", default="admin", help="owner of namespaces whose file names none (default admin)")
    export = metadefs.add_parser("export", help="write every namespace as a catalog file")
    export.add_argument("path", type=Path, help="directory to write <namespace>.json files into")
    metadefs.add_parser("unload", help="remove the whole catalog")

    config = commands.add_parser("config", help="configuration files").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    config.add_parser("sample", help="print every setting with its description and default, as a TOML file")
    template = commands.add_parser("template", help="server templates").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    tload = template.add_parser("load", help="publish template files (YAML or JSON, see examples/templates)")
    tload.add_argument("path", type=Path, help="a directory of *.yaml/*.yml/*.json files, or one file")
    tload.add_argument("--owner", default="admin", help="project that owns the templates (default admin)")
    tload.add_argument("--image", help="image id for every template (default: the image its file names by "
                                       "image_name)")

    purge = commands.add_parser("purge", help="forget deleted images and expired tasks for good")
    purge.add_argument("--age-days", type=float, default=30.0,
                       help="purge images deleted at least this many days ago (default 30)")

    store = commands.add_parser("store", help="the configured stores").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    store.add_parser("check", help="write, read back and delete a small object in every store; one line each, "
                                   "non-zero exit if any fails")

    cleanup = commands.add_parser("cleanup", help="remove data of deleted images and of abandoned uploads")
    cleanup.add_argument("--stale-minutes", type=float, default=10.0,
                         help="an upload without progress for this long counts as abandoned (default 10)")

    scrub = commands.add_parser("scrub", help="remove the data of pending_delete images (delayed_delete)")
    scrub.add_argument("--older-than", type=float, default=None,
                       help="only images deleted at least this many seconds ago (default: the scrub_time setting)")
    orphans = commands.add_parser("orphans", help="list store objects no image refers to")
    orphans.add_argument("--delete", action="store_true", help="remove them too")
    cache = commands.add_parser("cache", help="this node's image cache (the cache extension)").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    cache.add_parser("list", help="cached images (id, size, hits) and queued ones")
    queue = cache.add_parser("queue", help="queue active images for the prefetcher")
    queue.add_argument("image_ids", nargs="+", metavar="IMAGE_ID")
    cache.add_parser("prefetch", help="fill the cache with every queued image now")
    cache.add_parser("clean", help="remove abandoned fills, stray files and images no longer active")
    cache.add_parser("prune", help="evict least recently used images beyond image_cache_max_size")
    image = commands.add_parser("image", help="images").add_subparsers(dest="action", required=True, metavar="ACTION")
    restore = image.add_parser("restore", help="bring a pending_delete image back to active")
    restore.add_argument("image_id")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "config":  # needs no settings: it describes them
        print(sample(), end="")
        return
    settings = settings_from(args)
    # A command says what went wrong in one line of its own; the service's warnings (a database
    # outage logged for the server's log) would only repeat it with a traceback.
    logging.getLogger("glimpse").setLevel(logging.DEBUG if settings.log_level in ("debug", "trace") else logging.ERROR)
    if args.command == "store":
        sys.exit(_store_check(settings))
    missing = _missing_sqlite_file(settings.database_url)
    if args.command == "db":
        if missing is not None and args.action != "upgrade":  # looking must not create an empty database
            print(f"database {missing} does not exist: run 'glimpse-manage db upgrade' to create it")
            sys.exit(1 if args.action == "check" else 0)
        database = Database(settings.database_url)
        try:
            sys.exit(_db(args.action, database))
        except (OperationalError, DatabaseUnavailable) as exc:
            sys.exit(f"error: cannot use the database {database.url.render_as_string()}: {_one_line(exc)}")
        finally:
            database.dispose()
    check_files(settings)
    if missing is not None:
        sys.exit(f"error: database {missing} does not exist: run 'glimpse-manage db upgrade' first")
    _require_current_schema(settings.database_url)
    try:
        services = open_services(settings, migrate=False)
    except (StoreError, ValueError) as exc:
        sys.exit(f"error: {exc}")
    try:
        handlers = {"token": _token, "quota": _quota, "cleanup": _cleanup, "purge": _purge, "metadefs": _metadefs,
                    "template": _template, "scrub": _scrub, "image": _image,
                    "orphans": _orphans, "cache": _cache}
        handlers[args.command](args, services)
    except GlimpseError as exc:
        sys.exit(f"error: {exc.message}")
    finally:
        services.close()


def _cache(args: argparse.Namespace, services: Services) -> None:
    cache = current_cache()
    if cache is None:
        sys.exit("error: the cache extension is not enabled in the settings (extensions)")
    if args.action == "list":
        for entry in cache.entries():
            print(f"{entry.image_id}  {entry.size}  hits={entry.hits}  from={entry.source}")
        for image_id in cache.index.queued():
            print(f"{image_id}  queued")
    elif args.action == "queue":
        for image_id in args.image_ids:
            image = services.images.get(RequestContext.admin(None), image_id)
            if image.status.value != "active":
                sys.exit(f"error: image {image_id} is {image.status.value}; only active images can be queued")
            cache.index.queue(image_id)
            print(f"{image_id} queued")
    elif args.action == "prefetch":
        print(f"{prefetch(cache)} images cached; {len(cache.index.queued())} left in the queue")
    else:
        with maintenance(cache) as mine:
            if not mine:
                sys.exit("error: a node is keeping this cache right now; try again in a moment")
            if args.action == "clean":
                print(f"{clean(cache)} files or entries removed")
            else:
                print(f"{cache.prune()} images evicted")


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
        # say the unit: sizes are MiB, as in the settings and Glance's usage report
        report: dict[str, dict[str, object]] = {
            resource: {**figures, "unit": RESOURCE_UNITS.get(resource, "")}
            for resource, figures in services.quotas.report(args.project).items()}
        print(json.dumps(report, indent=2))
    elif args.action == "set":
        services.quotas.set_limit(args.project, args.resource, args.limit)
        print(f"{args.resource} of {args.project} limited to {args.limit}")
    elif args.action == "reset":
        found = services.quotas.reset_limit(args.project, args.resource)
        print(f"{args.resource} of {args.project} back to the default" if found else "no override to reset")
    else:
        for project, resource, limit in services.quotas.overrides():
            print(f"{project}  {resource}  {limit}")


def _metadefs(args: argparse.Namespace, services: Services) -> None:
    if args.action == "load":
        mode = "overwrite" if args.overwrite else "prefer-new" if args.prefer_new else "merge" if args.merge else "skip"
        for namespace, outcome in services.metadefs.load(_catalog_files(args.path), mode=mode, owner=args.owner):
            print(f"{namespace}: {outcome}")
    elif args.action == "export":
        args.path.mkdir(parents=True, exist_ok=True)
        for document in services.metadefs.export():
            target = args.path / (re.sub(r"[^A-Za-z0-9_.-]+", "-", document["namespace"]).strip("-") + ".json")
            target.write_text(json.dumps(document, indent=4, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"{document['namespace']}: {target}")
    else:
        print(f"{services.metadefs.unload()} namespaces removed")


def _catalog_files(path: Path) -> list[tuple[str, Any]]:
    """``(file name, decoded JSON)`` of one file or of every ``*.json`` file in a directory."""
    files = [path] if path.is_file() else sorted(path.glob("*.json"))
    if not files:
        raise SystemExit(f"error: no catalog files (*.json) found at {path}")
    documents = []
    for file in files:
        try:
            documents.append((file.name, json.loads(file.read_text(encoding="utf-8"))))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"error: cannot read catalog file {file}: {exc}") from None
    return documents


def _template(args: argparse.Namespace, services: Services) -> None:
    """Publish each template file; a version that exists already is reported and skipped."""
    ctx = RequestContext.admin(args.owner)
    failed = False
    for path in _template_files(args.path):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            print(f"{path}: not a template document", file=sys.stderr)
            failed = True
            continue
        image_name = document.pop("image_name", None)
        document.setdefault("owner", args.owner)
        try:
            if args.image:
                document["image_id"] = args.image
            elif "image_id" not in document:
                document["image_id"] = _image_named(services, ctx, image_name, path)
            stored = services.templates.create(ctx, document)
        except DuplicateTemplate as exc:
            print(f"{path}: skipped: {exc.message}")
            continue
        except GlimpseError as exc:
            print(f"{path}: {exc.message}", file=sys.stderr)
            failed = True
            continue
        print(f"{path}: published {stored.name} {stored.version} as {stored.id}")
    if failed:
        sys.exit(1)


def _image_named(services: Services, ctx: RequestContext, name: Any, path: Path) -> str:
    if not isinstance(name, str):
        raise TemplateInvalid([("image_id", None, f"{path.name} names no image_name; give --image")])
    query = parse_image_query([("name", name)], default_limit=2, max_limit=2)
    images = [i for i in services.images.list(ctx, query).images if i.status is ImageStatus.ACTIVE]
    if len(images) != 1:
        raise TemplateInvalid([("image_id", None, f"{len(images)} active images are named {name!r}; give --image")])
    return images[0].id


def _template_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
    return [path]


def _purge(args: argparse.Namespace, services: Services) -> None:
    for line in services.maintenance.purge(older_than=dt.timedelta(days=args.age_days)):
        print(line)


def _cleanup(args: argparse.Namespace, services: Services) -> None:
    for line in services.maintenance.cleanup(stale_after=dt.timedelta(minutes=args.stale_minutes)):
        print(line)


def _scrub(args: argparse.Namespace, services: Services) -> None:
    older_than = args.older_than if args.older_than is not None else services.settings.scrub_time
    print(f"removed the data of {services.maintenance.scrub(older_than=dt.timedelta(seconds=older_than))} "
          "pending_delete image(s)")


def _orphans(args: argparse.Namespace, services: Services) -> None:
    lines = services.maintenance.orphans(delete=args.delete)
    print("\n".join(lines) if lines else "no orphans")


def _image(args: argparse.Namespace, services: Services) -> None:
    image = services.images.restore(RequestContext.admin("admin"), args.image_id)
    print(f"image {image.id} restored: {image.status}")


def _store_check(settings: Settings) -> int:
    """``store check``: probe every store of this node; 0 if all answered, 1 otherwise."""
    try:
        stores = open_node_stores(settings)
    except StoreSetupError as exc:
        print(f"error: {exc}")
        return 1
    failed = 0
    for store_id in stores.stores:
        driver = (settings.stores.get(store_id) or settings.staging_store).get("driver")
        try:
            outcome = stores.probe(store_id)
        except (StoreError, GlimpseError) as exc:
            failed += 1
            outcome = f"FAILED: {getattr(exc, 'message', exc)}"
        print(f"store '{store_id}' ({driver}): {outcome}")
    return 1 if failed else 0


def _missing_sqlite_file(url: str) -> str | None:
    """The path of a SQLite database file that does not exist yet (``None`` otherwise)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return None if Path(parsed.database).exists() else parsed.database


def _one_line(exc: OperationalError | DatabaseUnavailable) -> str:
    cause = exc.orig if isinstance(exc, OperationalError) else exc.__cause__
    return " ".join(str(cause or exc).split())


def _require_current_schema(url: str) -> None:
    """Exit with one line unless the database is reachable and migrated to what this code needs."""
    database = Database(url)
    try:
        current, head = migrate.current_revision(database), migrate.head_revision()
    except (OperationalError, DatabaseUnavailable) as exc:
        sys.exit(f"error: cannot use the database {database.url.render_as_string()}: {_one_line(exc)}")
    finally:
        database.dispose()
    if current != head:
        sys.exit(f"error: the database schema is at {current or 'nothing (empty database)'} but this code needs "
                 f"{head}: run 'glimpse-manage db upgrade' first")


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
