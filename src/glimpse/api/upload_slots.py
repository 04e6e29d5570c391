"""How many uploads one worker process runs at once, in all and per project.

Each upload holds a worker thread (hashing, writing to the store) for as long
as its body takes to arrive; without a bound, a few hundred slow or stalled
uploads took every thread, and health checks and metadata calls, which need
threads too, queued behind them. An upload beyond ``max_uploads_per_worker``
is answered 503 with ``Retry-After`` (another worker or node may have room);
one beyond ``max_uploads_per_project`` for its project, 429 with
``Retry-After``. The count lives in the worker's memory: the bound is per
process, on purpose (the threads it protects are per process), and the
project quota ``quota_image_count_uploading`` bounds uploads across nodes.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from starlette.requests import Request

from glimpse.errors import ServerBusy, TooManyRequests

#: Seconds a refused upload is told to wait before trying again.
RETRY_AFTER = 5


class UploadSlots:
    """Admission of uploads on one worker's event loop (no locking: only the loop calls it)."""

    def __init__(self, per_worker: int, per_project: int) -> None:
        self.per_worker = per_worker
        self.per_project = per_project
        self.running = 0
        self._by_project: Counter[str] = Counter()

    @contextlib.contextmanager
    def admit(self, project: str | None) -> Iterator[None]:
        """Hold a slot for one upload while the block runs.

        Raises :class:`~glimpse.errors.ServerBusy` when this worker runs
        ``per_worker`` uploads, :class:`~glimpse.errors.TooManyRequests` when
        ``project`` runs ``per_project`` of them here.
        """
        key = project or ""
        if self.running >= self.per_worker:
            raise ServerBusy(f"This server is running as many uploads as it may ({self.per_worker} per worker "
                             f"process); retry in {RETRY_AFTER} seconds.", RETRY_AFTER)
        if self._by_project[key] >= self.per_project:
            raise TooManyRequests(f"Project {project} is running {self.per_project} uploads on this server, the "
                                  "most it may at once; wait for one to finish.", RETRY_AFTER)
        self.running += 1
        self._by_project[key] += 1
        try:
            yield
        finally:
            self.running -= 1
            self._by_project[key] -= 1
            if not self._by_project[key]:
                del self._by_project[key]


def upload_slots(request: Request) -> UploadSlots:
    """This node's :class:`UploadSlots` (made by ``build_app``)."""
    slots: UploadSlots = request.app.state.upload_slots
    return slots
