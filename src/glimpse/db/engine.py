"""Per-process database engine and transactions.

Every write transaction takes the write lock up front on SQLite
(``BEGIN IMMEDIATE``), so concurrent writers queue on ``busy_timeout``
instead of failing with "database is locked" when a reader upgrades.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

_WRITE = "glimpse_write"
#: MySQL/MariaDB deadlock and lock-wait timeout; PostgreSQL serialization failure and deadlock.
_RETRYABLE_CODES = {1213, 1205}
_RETRYABLE_STATES = {"40001", "40P01"}
_ATTEMPTS = 5

P = ParamSpec("P")
T = TypeVar("T")


def is_retryable(exc: DBAPIError) -> bool:
    """Did the database abort the transaction only because of a lock conflict?"""
    original = exc.orig
    code = getattr(original, "args", [None])[0] if original is not None else None
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code in _RETRYABLE_CODES or state in _RETRYABLE_STATES


def retry_on_conflict(method: Callable[P, T]) -> Callable[P, T]:
    """Re-run a method that is one whole write transaction when the database aborted it for a deadlock."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(_ATTEMPTS):
            try:
                return method(*args, **kwargs)
            except DBAPIError as exc:
                if attempt == _ATTEMPTS - 1 or not is_retryable(exc):
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    return wrapper


class Database:
    """An engine plus ``read()``/``write()`` transaction scopes."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.engine = create_engine(url, echo=echo)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for reads only."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any exception."""
        with self.engine.connect().execution_options(**{_WRITE: True}) as conn, conn.begin():
            yield conn

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def create_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine configured for the backend ``url`` names."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        kwargs["pool_size"] = 20
        kwargs["max_overflow"] = 100
        engine = sa.create_engine(parsed, **kwargs)
        _configure_sqlite(engine)
        return engine
    if backend in ("mysql", "mariadb"):
        kwargs["isolation_level"] = "READ COMMITTED"
        kwargs["pool_recycle"] = 3600
    kwargs["pool_pre_ping"] = True
    kwargs["pool_size"] = 10
    kwargs["max_overflow"] = 40
    return sa.create_engine(parsed, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")
