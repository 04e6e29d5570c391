"""The cache's node-local index: which files are valid, how they were used, and the prefetch queue.

A small SQLite database in the cache directory (WAL mode, so the worker
processes of a node share it). A row exists only for a file that was verified
against its image record; together with the file's inode and modification
time it lets a hit check, with one ``fstat``, that the file is still the one
that was verified.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cached (
    image_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    checksum TEXT,
    os_hash_value TEXT,
    inode INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    source TEXT NOT NULL,
    cached_at REAL NOT NULL,
    last_accessed REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS queued (
    image_id TEXT PRIMARY KEY,
    queued_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Entry:
    """One valid cache file, as recorded when it was verified."""

    image_id: str
    size: int
    checksum: str | None
    os_hash_value: str | None
    inode: int
    mtime_ns: int
    source: str
    cached_at: float
    last_accessed: float
    hits: int


class CacheIndex:
    """The index of one cache directory; safe to use from several threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():  # never a connection inherited across a fork
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db, self._local.pid = db, os.getpid()
        yield db

    def get(self, image_id: str) -> Entry | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM cached WHERE image_id = ?", (image_id,)).fetchone()
        return Entry(*row) if row else None

    def entries(self) -> list[Entry]:
        """Every valid entry, least recently used first."""
        with self._db() as db:
            rows = db.execute("SELECT * FROM cached ORDER BY last_accessed, cached_at").fetchall()
        return [Entry(*row) for row in rows]

    def add(self, image_id: str, *, size: int, checksum: str | None, os_hash_value: str | None, inode: int,
            mtime_ns: int, source: str) -> None:
        now = time.time()
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO cached VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                       (image_id, size, checksum, os_hash_value, inode, mtime_ns, source, now, now))
            db.execute("DELETE FROM queued WHERE image_id = ?", (image_id,))

    def hit(self, image_id: str) -> None:
        with self._db() as db:
            db.execute("UPDATE cached SET hits = hits + 1, last_accessed = ? WHERE image_id = ?",
                       (time.time(), image_id))

    def remove(self, image_id: str) -> bool:
        """Forget the entry; True when there was one."""
        with self._db() as db:
            return db.execute("DELETE FROM cached WHERE image_id = ?", (image_id,)).rowcount > 0

    def total_size(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COALESCE(SUM(size), 0) FROM cached").fetchone()[0])

    # -- the prefetch queue

    def queue(self, image_id: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO queued VALUES (?, ?)", (image_id, time.time()))

    def queued(self) -> list[str]:
        with self._db() as db:
            return [row[0] for row in db.execute("SELECT image_id FROM queued ORDER BY queued_at")]

    def unqueue(self, image_id: str) -> bool:
        with self._db() as db:
            return db.execute("DELETE FROM queued WHERE image_id = ?", (image_id,)).rowcount > 0

    def clear_queue(self) -> int:
        with self._db() as db:
            return db.execute("DELETE FROM queued").rowcount

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None and self._local.pid == os.getpid():
            db.close()
            self._local.db = None
