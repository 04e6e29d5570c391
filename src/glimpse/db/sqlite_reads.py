"""Hot single-statement reads on SQLite through the DB-API directly.

SQLAlchemy's execution path (connection checkout, events, result objects)
costs several times the ~25 µs SQLite needs to find one row by primary key.
For the few statements on the hottest paths (is this image still at the
revision a process has cached? which images make up this page?) a process
keeps one plain ``sqlite3`` connection per thread, in autocommit mode, so each
statement is its own consistent snapshot, as with :meth:`Database.statement`.

Only for SQLite databases in a file; PostgreSQL and MariaDB keep SQLAlchemy's
path. Statements are SQLAlchemy statements compiled once for the SQLite
dialect, so the SQL is not written twice.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = sqlite.dialect(paramstyle="qmark")


@dataclass(frozen=True)
class SqliteStatement:
    """A statement's SQLite text, the names of its parameters in order, and the values of its constants."""

    sql: str
    names: tuple[str, ...]
    constants: dict[str, Any]

    def parameters(self, values: Mapping[str, Any] | None = None) -> list[Any]:
        """The positional DB-API parameters for ``values`` (by bind parameter name), as SQLAlchemy's
        SQLite types store them (timestamps as text, booleans as integers)."""
        merged = {**self.constants, **(values or {})}
        return [_sqlite_value(merged[name]) for name in self.names]


def compile_for_sqlite(statement: sa.ClauseElement) -> SqliteStatement:
    """``statement`` compiled once for :meth:`SqliteReads.rows`."""
    compiled = statement.compile(dialect=_DIALECT)
    assert isinstance(compiled, SQLCompiler)
    if "POSTCOMPILE" in str(compiled):  # an IN list of plain values: write it as literals/binds
        raise ValueError(f"statement needs values at execution time: {compiled}")
    constants = {name: value for name, value in compiled.params.items() if value is not None}
    return SqliteStatement(str(compiled), tuple(compiled.positiontup or ()), constants)


@dataclass(frozen=True)
class HotRead:
    """A single-statement read on a hot path, ready for both paths :meth:`Database.rows
    <glimpse.db.engine.Database.rows>` may take: SQLAlchemy's and (compiled once) plain ``sqlite3``."""

    statement: sa.Select[Any]
    sqlite: SqliteStatement


def hot_read(statement: sa.Select[Any]) -> HotRead:
    """``statement`` as a :class:`HotRead` (compiled for SQLite now, once)."""
    return HotRead(statement, compile_for_sqlite(statement))


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(" ", "microseconds")
    if isinstance(value, bool):
        return int(value)
    return value


class SqliteReads:
    """Per-thread autocommit ``sqlite3`` connections to one database file; safe across threads."""

    def __init__(self, path: str, *, busy_timeout_ms: int = 30000) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()

    @classmethod
    def for_url(cls, url: URL) -> SqliteReads | None:
        """Reads for ``url`` if it names an SQLite database file, else ``None``."""
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        if url.database.startswith("file:") or url.query:
            return None  # URI file names and driver options: leave them to SQLAlchemy
        return cls(url.database)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._pid != os.getpid():
            if self._pid != os.getpid():  # forked: never share a connection with the parent
                self._local = threading.local()
                self._opened = []
                self._pid = os.getpid()
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def rows(self, statement: SqliteStatement, values: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """Every row ``statement`` yields for ``values`` of its parameters, in one statement."""
        return self._connection().execute(statement.sql, statement.parameters(values)).fetchall()

    def close(self) -> None:
        """Close every connection opened so far (in any thread)."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()
