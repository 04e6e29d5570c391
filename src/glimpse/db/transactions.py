"""What a caller may run inside a repository's write transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

#: A check run inside the write transaction of a change, before the change is written (quotas):
#: it reads through the connection it is given and raises a domain error to refuse the change.
TransactionGuard = Callable[[Connection], None]
