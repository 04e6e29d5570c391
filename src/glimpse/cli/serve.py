"""``glimpse-api``: run an API node."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from glimpse import __version__
from glimpse.cli.options import add_common, check_files, settings_from
from glimpse.db.engine import Database
from glimpse.extensions.manager import ExtensionNotFound, load_extensions
from glimpse.composition import serve
from glimpse.server.startup import ChildFailed, migrate_in_child, returned_by_child
from glimpse.services.stores import open_node_stores
from glimpse.settings import Settings
from glimpse.stores.loader import StoreSetupError
from glimpse.observability.logging import configure as configure_logging
from glimpse.observability.metrics import prepare_multiprocess

log = logging.getLogger("glimpse")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="glimpse-api",
        description="Serve the OpenStack Images API v2. With no options: SQLite and a filesystem store "
                    "under the data directory, on http://127.0.0.1:9292.",
    )
    p.add_argument("--host", help="address to listen on (GLIMPSE_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (GLIMPSE_PORT, default 9292)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="worker processes (GLIMPSE_WORKERS, default one per CPU)")
    p.add_argument("--cert", type=Path, metavar="FILE", help="PEM certificate: serve HTTPS (GLIMPSE_TLS_CERT_FILE)")
    p.add_argument("--key", type=Path, metavar="FILE", help="PEM private key of --cert (GLIMPSE_TLS_KEY_FILE)")
    p.add_argument("--client-ca", type=Path, metavar="FILE",
                   help="require client certificates signed by this CA bundle (GLIMPSE_TLS_CLIENT_CA_FILE)")
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


def _stores_problem(settings: Settings) -> str | None:
    """Why a store of this node cannot be opened or reached (None: every one can)."""
    try:
        open_node_stores(settings).require_reachable()
    except StoreSetupError as exc:
        return str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = settings_from(args, host=args.host, port=args.port, workers=args.workers, tls_cert_file=args.cert,
                             tls_key_file=args.key, tls_client_ca_file=args.client_ca, role=args.role,
                             allow_insecure_noauth=args.allow_insecure_noauth)
    if settings.auth_strategy == "noauth" and not settings.allow_insecure_noauth and not is_loopback(settings.host):
        sys.exit(f"error: refusing to serve without authentication on {settings.host}: with auth_strategy "
                 "'noauth' anyone can claim any identity. Set auth_strategy to keystone or tokens, listen on "
                 "127.0.0.1, or pass --insecure-noauth if you really mean it.")
    check_files(settings)  # every worker builds the app; refuse a bad configuration before forking any
    try:  # every worker builds the app; refuse a bad configuration before forking any
        load_extensions(settings)
    except ExtensionNotFound as exc:
        sys.exit(f"error: {exc}")
    try:  # from a child: no store client may be made before the fork (src/glimpse/server/startup.py)
        problem = returned_by_child("reach-stores", lambda: _stores_problem(settings))
    except ChildFailed as exc:
        problem = str(exc)
    if problem is not None:
        sys.exit(f"error: {problem}")
    configure_logging(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    prepare_multiprocess(settings.metrics_dir or settings.data_dir / f"metrics-{settings.port}")
    migrate_in_child(settings.database_url)
    database = Database(settings.database_url)
    log.info("glimpse %s (%s role): database %s, stores %s (default %s), extensions %s, %d worker(s)",
             __version__, settings.role, database.url.render_as_string(), ", ".join(settings.stores),
             settings.default_store, ", ".join(settings.extensions) or "none", settings.workers)
    database.dispose()
    serve(settings)


if __name__ == "__main__":
    main()
