"""A database that cannot be reached is an outage (503, retry later), not a server failure (500).

:func:`report_outages` makes an engine raise :class:`~glimpse.errors.DatabaseUnavailable`
instead of the driver's error when the connection to the server is lost or
cannot be made (server down, restarting, refusing connections, the backend
terminated). Other database errors (constraints, lock conflicts, SQLite's
"database is locked", which has its own retries) are left as they are. The
message names no host, port or driver text: it reaches any caller.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine, ExceptionContext

from glimpse.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

#: Seconds a caller is told to wait before retrying while the database is unreachable.
RETRY_AFTER = 5
MESSAGE = "The image database is unavailable at the moment; retry in a few seconds."


def report_outages(engine: Engine) -> None:
    """Translate ``engine``'s lost and refused connections into :class:`DatabaseUnavailable`."""
    if engine.dialect.name == "sqlite":
        return  # a local file: no server to lose

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.is_pre_ping:
            return  # the pool reconnects by itself; a failure of that reconnect comes here again
        error = context.sqlalchemy_exception
        connecting = context.connection is None and context.statement is None
        if context.is_disconnect or (connecting and isinstance(error, (sa.exc.OperationalError,
                                                                        sa.exc.InterfaceError))):
            log.warning("database unavailable: %s", context.original_exception)
            raise DatabaseUnavailable(MESSAGE, RETRY_AFTER) from context.original_exception
