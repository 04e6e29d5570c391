"""Per-process database engine and transactions.

Every write transaction takes the write lock up front on SQLite
(``BEGIN IMMEDIATE``), so concurrent writers queue on ``busy_timeout``
instead of failing with "database is locked" when a reader upgrades.

SQLite plans queries without statistics until ``ANALYZE`` has run, and then
answers a listing by sorting every image the caller owns instead of walking
the ``created_at`` index; so each process refreshes the statistics (sampled,
about a millisecond) after its first write and every
:data:`ANALYZE_EVERY_WRITES` writes after that. PostgreSQL and MariaDB keep
their statistics themselves.
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError

from glimpse.db.outages import report_outages
from glimpse.db.sqlite_reads import HotRead, SqliteReads
from glimpse.errors import QueryTimeout
from glimpse.observability.metrics import watch_pool

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

_SINGLE = "glimpse_single_statement"
#: SQLite: refresh the planner's statistics after this many write transactions of a process.
ANALYZE_EVERY_WRITES = 500


#: PostgreSQL query_canceled (statement_timeout); MariaDB ER_STATEMENT_TIMEOUT (max_statement_time).
_TIMEOUT_STATES = {"57014"}
_TIMEOUT_CODES = {1969}


def is_statement_timeout(exc: DBAPIError) -> bool:
    """Did the database cancel the statement because it ran past the statement timeout?"""
    original = exc.orig
    code = getattr(original, "args", [None])[0] if original is not None else None
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return code in _TIMEOUT_CODES or state in _TIMEOUT_STATES


class Database:
    """An engine plus ``read()``/``write()`` transaction scopes.

    With ``statement_timeout`` (seconds; PostgreSQL and MariaDB) the database
    cancels any statement that runs longer, and the scopes raise
    :class:`~glimpse.errors.QueryTimeout`: no request holds the database longer.
    """

    def __init__(self, url: str, *, echo: bool = False, statement_timeout: float = 0.0) -> None:
        self.url = make_url(url)
        self.statement_timeout = statement_timeout
        self.engine = create_engine(url, echo=echo, statement_timeout=statement_timeout)
        watch_pool(self.engine)
        #: Plain DB-API reads for the hottest statements (SQLite files only; ``None`` elsewhere).
        self.sqlite_reads = SqliteReads.for_url(self.url)
        #: how :meth:`rows` reads, chosen once for this database
        self._rows: Callable[[HotRead, Mapping[str, Any] | None], list[tuple[Any, ...]]] = (
            self._rows_sqlalchemy if self.sqlite_reads is None else self._rows_sqlite)
        self._writes = 0
        self._lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A transaction for reads only."""
        with self._bounded(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def _bounded(self) -> Iterator[None]:
        """Turn a statement the database cancelled for running too long into :class:`QueryTimeout`."""
        try:
            yield
        except DBAPIError as exc:
            if not is_statement_timeout(exc):
                raise
            raise QueryTimeout(
                f"The database cancelled this request's query after the bound of {self.statement_timeout:g} s "
                "(setting database_statement_timeout); narrow the request (fewer filters or values) or retry later."
            ) from exc

    @contextlib.contextmanager
    def statement(self) -> Iterator[Connection]:
        """A connection for reading with one statement, which sees a consistent state by itself.

        On SQLite no transaction is opened around it (the statement is its own);
        elsewhere this is :meth:`read`. Use :meth:`read` for several statements.
        """
        with self._bounded(), self.engine.connect().execution_options(**{_SINGLE: True}) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that commits on success and rolls back on any exception."""
        with self._bounded(), self.engine.connect().execution_options(**{_WRITE: True}) as conn:
            with conn.begin():
                yield conn
            if self.dialect == "sqlite" and self._count_write() % ANALYZE_EVERY_WRITES == 1:
                with conn.begin():
                    conn.exec_driver_sql("ANALYZE")

    def rows(self, read: HotRead, values: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Every row of one hot single-statement read, by the path chosen for this database when it
        was opened: plain ``sqlite3`` on an SQLite file (timestamps then come back as ISO text),
        SQLAlchemy elsewhere. The statement is its own consistent snapshot."""
        return self._rows(read, values)

    def _rows_sqlite(self, read: HotRead, values: Mapping[str, Any] | None) -> list[tuple[Any, ...]]:
        assert self.sqlite_reads is not None
        return self.sqlite_reads.rows(read.sqlite, values)

    def _rows_sqlalchemy(self, read: HotRead, values: Mapping[str, Any] | None) -> list[tuple[Any, ...]]:
        with self.statement() as conn:
            return [tuple(row) for row in conn.execute(read.statement, dict(values or {}))]

    def _count_write(self) -> int:
        with self._lock:
            self._writes += 1
            return self._writes

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        with self.read() as conn:
            conn.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        if self.sqlite_reads is not None:
            self.sqlite_reads.close()
        self.engine.dispose()


def create_engine(url: str, *, echo: bool = False, statement_timeout: float = 0.0) -> Engine:
    """An engine configured for the backend ``url`` names; ``statement_timeout`` in seconds (0: none,
    ignored on SQLite, where a statement holds no server)."""
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
    if backend == "postgresql" and statement_timeout > 0:
        options = parsed.query.get("options", "")
        kwargs["connect_args"] = {"options": f"{options} -c statement_timeout={max(1, round(statement_timeout * 1000))}"
                                  .strip()}
    kwargs["pool_pre_ping"] = True
    kwargs["pool_size"] = 10
    kwargs["max_overflow"] = 40
    engine = sa.create_engine(parsed, **kwargs)
    report_outages(engine)
    if backend in ("mysql", "mariadb") and statement_timeout > 0:
        _bound_mariadb_statements(engine, statement_timeout)
    return engine


def _bound_mariadb_statements(engine: Engine, seconds: float) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if "mariadb" not in str(dbapi_connection.get_server_info()).lower():
            return  # MySQL has only max_execution_time, for SELECT alone
        cursor = dbapi_connection.cursor()
        cursor.execute("SET SESSION max_statement_time = %s", (seconds,))
        cursor.close()


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
        cursor.execute("PRAGMA analysis_limit=400")  # ANALYZE samples instead of reading everything
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get(_SINGLE):
            return  # autocommit: the single statement is its own transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_WRITE) else "BEGIN")
