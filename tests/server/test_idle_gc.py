"""Full garbage collections happen when the worker is idle, or when overdue, never on the collector's own."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from glimpse.server.idle_gc import IdleCollector


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def collector_state() -> Iterator[None]:
    thresholds, enabled = gc.get_threshold(), gc.isenabled()
    gc.disable()  # only the collector under test collects
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()


def _cycle() -> weakref.ref[_Node]:
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_install_leaves_the_young_generations_alone_and_the_oldest_to_the_collector(collector_state: None) -> None:
    gc.set_threshold(700, 10, 10)
    IdleCollector().install()
    young, middle, oldest = gc.get_threshold()
    assert (young, middle) == (700, 10)
    assert oldest >= 1 << 30


START = 1000.0


def _busy_until(second: int) -> tuple[IdleCollector, weakref.ref[_Node]]:
    """A collector that saw the request count move at every tick (once a second) until ``second``,
    and a garbage cycle made before."""
    collector = IdleCollector(idle_seconds=1.0, least_interval=30.0, longest_interval=300.0, started=START)
    garbage = _cycle()
    for tick in range(1, second):
        assert not collector.tick(requests=tick, now=START + tick)
    assert garbage() is not None
    return collector, garbage


def test_collects_once_idle_for_long_enough_and_not_sooner(collector_state: None) -> None:
    collector, garbage = _busy_until(60)
    start = START
    # Idle for a second, and 30 s since the last collection: now.
    assert not collector.tick(requests=59, now=start + 59.5)
    assert collector.tick(requests=59, now=start + 60.1)
    assert garbage() is None
    # Just collected: idle or not, not again before least_interval.
    assert not collector.tick(requests=59, now=start + 75)


def test_a_worker_never_idle_still_collects_when_overdue(collector_state: None) -> None:
    collector, garbage = _busy_until(300)
    assert collector.tick(requests=300, now=START + 300)
    assert garbage() is None
