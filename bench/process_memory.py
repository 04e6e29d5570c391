"""Resident memory of a process tree from ``/proc``: RSS (each process counted whole) and PSS.

RSS summed over a pre-forked server counts every shared page once per
process; PSS (proportional set size) splits shared pages between the processes
that map them, so its sum is the memory the tree really occupies.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found = [pid]
    index = 0
    while index < len(found):
        current = found[index]
        index += 1
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                found.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def usage(pid: int) -> tuple[float, float]:
    """``(rss, pss)`` in MiB of ``pid``'s tree."""
    rss = pss = 0
    for member in tree(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss / 1024, pss / 1024


class MemoryWatch:
    """Samples a process tree every ``interval`` seconds, grouped into named phases."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.phase = "start"
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.samples["start"] = [usage(self.pid)]
        self._thread.start()

    def mark(self, phase: str) -> None:
        self.samples.setdefault(phase, []).append(usage(self.pid))
        self.phase = phase

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.setdefault(self.phase, []).append(usage(self.pid))

    def stop_sampling(self) -> None:
        """Stop the periodic samples (:meth:`mark` still takes one).

        Reading ``smaps_rollup`` walks a process's page tables under its memory
        map lock, which stalls the process for that long: fine during transfers,
        not while latencies are measured.
        """
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join()

    def stop(self) -> None:
        self.stop_sampling()
        self.samples.setdefault("end", []).append(usage(self.pid))

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for phase, values in self.samples.items():
            out[phase] = {"rss_max": round(max(v[0] for v in values), 1),
                          "pss_max": round(max(v[1] for v in values), 1)}
        out["start"]["processes"] = len(tree(self.pid))
        return out
