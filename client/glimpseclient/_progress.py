"""The CLI's progress bar: done/total, rate and time left, redrawn in place on a terminal."""

from __future__ import annotations

import time

from glimpseclient._output import human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

_WIDTH = 24
_REDRAW_EVERY = 0.1  # seconds


class ProgressBar:
    """A ``progress(done, total)`` callback that draws on ``out`` (meant for a terminal's stderr)."""

    def __init__(self, out: TextIO, label: str) -> None:
        self.out = out
        self.label = label
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False
        self._done = 0
        self._total: int | None = None

    def __call__(self, done: int, total: int | None) -> None:
        if done < self._done:  # a retried or redirected upload starts again
            self.started = time.monotonic()
        self._done, self._total = done, total
        now = time.monotonic()
        if now - self._last_draw >= _REDRAW_EVERY or (total is not None and done >= total):
            self._last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        elapsed = max(now - self.started, 1e-6)
        rate = self._done / elapsed
        parts = [self.label]
        if self._total:
            fraction = min(self._done / self._total, 1.0)
            filled = int(fraction * _WIDTH)
            parts.append(f"{fraction * 100:3.0f}% [{'=' * filled}{' ' * (_WIDTH - filled)}]")
            parts.append(f"{human_size(self._done)} / {human_size(self._total)}")
        else:
            parts.append(human_size(self._done))
        parts.append(f"{human_size(rate)}/s")
        if self._total and rate > 0:
            left = max(self._total - self._done, 0) / rate
            parts.append(f"ETA {int(left // 60)}:{int(left % 60):02d}")
        self.out.write("\r" + "  ".join(parts) + "\033[K")
        self.out.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self._draw(time.monotonic())
            self.out.write("\n")
            self.out.flush()
