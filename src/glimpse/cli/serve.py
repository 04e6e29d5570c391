"""``glimpse-api``: run an API node."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Sequence

import uvicorn

from glimpse import __version__
from glimpse.app import build_app
from glimpse.cli.options import add_common, settings_from
from glimpse.db.engine import Database
from glimpse.db.migrate import upgrade
from glimpse.extensions.manager import ExtensionNotFound

log = logging.getLogger("glimpse")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="glimpse-api",
        description="Serve the OpenStack Images API v2. With no options: SQLite and a filesystem store "
                    "under the data directory, on http://127.0.0.1:9292.",
    )
    p.add_argument("--host", help="address to listen on (GLIMPSE_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (GLIMPSE_PORT, default 9292)")
    p.add_argument("--role", choices=["all", "registry", "streaming"],
                   help="serve metadata (registry), image data (streaming) or both (all, the default; GLIMPSE_ROLE)")
    p.add_argument("--insecure-noauth", action="store_true", default=None, dest="allow_insecure_noauth",
                   help="allow auth_strategy noauth on a non-loopback address (anyone can claim any identity)")
    add_common(p)
    p.add_argument("--version", action="version", version=f"glimpse {__version__}")
    return p


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = settings_from(args, host=args.host, port=args.port, role=args.role,
                            allow_insecure_noauth=args.allow_insecure_noauth)
    if settings.auth_strategy == "noauth" and not settings.allow_insecure_noauth and not is_loopback(settings.host):
        sys.exit(f"error: refusing to serve without authentication on {settings.host}: with auth_strategy "
                 "'noauth' anyone can claim any identity. Set auth_strategy to keystone or tokens, listen on "
                 "127.0.0.1, or pass --insecure-noauth if you really mean it.")
    logging.basicConfig(level=settings.log_level.upper() if settings.log_level != "trace" else "DEBUG",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url)
    upgrade(database)
    database.dispose()
    log.info("glimpse %s (%s role): database %s, stores %s (default %s), extensions %s", __version__, settings.role,
             database.url.render_as_string(), ", ".join(settings.stores), settings.default_store,
             ", ".join(settings.extensions) or "none")
    try:
        app = build_app(settings, migrate=False)
    except ExtensionNotFound as exc:
        sys.exit(f"error: {exc}")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                timeout_keep_alive=30, server_header=False)


if __name__ == "__main__":
    main()
