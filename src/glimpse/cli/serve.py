"""``glimpse-api``: run an API node."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from pathlib import Path

from glimpse import __version__
from glimpse.cli import workers
from glimpse.cli.options import add_common, settings_from
from glimpse.db.engine import Database
from glimpse.db.migrate import upgrade

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
    add_common(p)
    p.add_argument("--version", action="version", version=f"glimpse {__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    settings = settings_from(args, host=args.host, port=args.port, workers=args.workers, tls_cert_file=args.cert,
                             tls_key_file=args.key, tls_client_ca_file=args.client_ca)
    logging.basicConfig(level=settings.log_level.upper() if settings.log_level != "trace" else "DEBUG",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.database_url)
    upgrade(database)
    database.dispose()
    log.info("glimpse %s: database %s, stores %s (default %s), %d worker(s)", __version__,
             database.url.render_as_string(), ", ".join(settings.stores), settings.default_store, settings.workers)
    workers.serve(settings)


if __name__ == "__main__":
    main()
