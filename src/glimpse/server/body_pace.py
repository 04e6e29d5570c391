"""How fast a request body must keep coming: an idle timeout and a minimum rate.

Without them a client that stops sending, or sends a byte a second, holds an
upload (and the worker thread that writes it) for as long as it likes; a few
hundred such clients held every thread of a worker. A body is cut off when

- no byte of it arrives for ``idle_timeout`` seconds, or
- over any ``window`` seconds (counted from the start of the body, then
  window after window) fewer than ``min_rate * window`` bytes arrive.

:class:`PaceMeter` does the bookkeeping for one body; the receive wrapper
(:mod:`glimpse.server.guard`) and the sized-body fast path
(:mod:`glimpse.server.socket_body`) both use it, so both paths cut off the same
clients. A cut-off raises :class:`glimpse.errors.ClientTooSlow` (408, and the
connection is closed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glimpse.errors import ClientTooSlow

if TYPE_CHECKING:
    from glimpse.settings import Settings


@dataclass(frozen=True)
class BodyPace:
    """Seconds without a byte, and bytes per second over each window of seconds, a body must keep to."""

    idle_timeout: float = 60.0
    min_rate: int = 1024
    window: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyPace:
        return cls(idle_timeout=settings.body_idle_timeout, min_rate=settings.body_min_rate,
                   window=settings.body_rate_window)

    def stalled(self) -> ClientTooSlow:
        return ClientTooSlow(f"No byte of the request body arrived for {self.idle_timeout:g} seconds; the request "
                             "was cut off. Send the body without pausing.")


class PaceMeter:
    """Counts the bytes of one body as they arrive and tells when it falls below its :class:`BodyPace`."""

    def __init__(self, pace: BodyPace) -> None:
        self.pace = pace
        self._window_start = time.monotonic()
        self._window_bytes = 0

    def arrived(self, count: int) -> None:
        """Count ``count`` more bytes; raises :class:`ClientTooSlow` if a window closed below the rate."""
        self._window_bytes += count
        now = time.monotonic()
        elapsed = now - self._window_start
        if elapsed < self.pace.window:
            return
        rate = self._window_bytes / elapsed
        if rate < self.pace.min_rate:
            raise ClientTooSlow(
                f"The request body arrived at {rate:.0f} bytes per second over {elapsed:.0f} seconds, below the "
                f"{self.pace.min_rate} bytes per second this server requires; the request was cut off."
            )
        self._window_start, self._window_bytes = now, 0
