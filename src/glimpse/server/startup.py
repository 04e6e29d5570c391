"""What the arbiter does before it forks any worker: reach every store, bring the database to the current schema.

Both run in forked child processes, so the arbiter, whose memory every worker
shares, never loads Alembic (``tests/cli/test_commands.py`` checks the serving
processes never do) and never holds a connection to a store. A store client
made before a fork is broken in the children: librados' threads stay behind in
the parent while its locks and state are copied, and a worker that used it died
of ``std::system_error: Invalid argument`` in the middle of a copy
(``tests/api/test_copy_image_rbd_clone.py`` checks the arbiter never maps
librados); a connection pool's sockets would be shared by every worker.
"""

from __future__ import annotations

import multiprocessing
import sys
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import TypeVar, cast

from glimpse.db.engine import Database
from glimpse.db.migrate import upgrade

T = TypeVar("T")


def migrate_in_child(database_url: str) -> None:
    """Migrate the database from a forked child process, so the serving processes never load Alembic."""
    try:
        returned_by_child("migrating the database", lambda: _upgrade(database_url))
    except ChildFailed as exc:
        sys.exit(f"error: {exc}")


def _upgrade(database_url: str) -> None:
    database = Database(database_url)
    try:
        upgrade(database)
    finally:
        database.dispose()


def returned_by_child(name: str, function: Callable[[], T]) -> T:
    """What ``function()`` returns, run in a forked child process (``name``); :class:`ChildFailed` when it raises
    or the child dies (its traceback is on stderr)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_send_result, args=(function, send), name=name)
    child.start()
    send.close()
    try:
        sent = receive.recv()
    except EOFError:  # the child raised or died without a word
        sent = None
    receive.close()
    child.join()
    if child.exitcode != 0 or sent is None:
        raise ChildFailed(f"{name} failed (exit status {child.exitcode}; see above)")
    return cast(T, sent[0])


class ChildFailed(Exception):
    """A start-up step run in a child process raised or died."""


def _send_result(function: Callable[[], object], send: Connection) -> None:
    try:
        result = function()
    except BaseException:
        traceback.print_exc()
        sys.exit(1)
    send.send((result,))
