"""Fixtures of the store tests: one throw-away Ceph cluster per session (see ``tests/support/ceph.py``)."""

from __future__ import annotations

import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ceph import (
    CLUSTER_PREFIX,
    CephCluster,
    import_rados_bindings,
    reap_orphaned_clusters,
    start_cluster,
    stop_cluster,
)


@pytest.fixture(scope="session")
def ceph() -> Iterator[CephCluster]:
    """A running cluster for the whole session; torn down at its end.

    Its directory is a short one of its own (admin socket paths are limited to
    107 bytes), not under pytest's numbered temporary directories.
    """
    reap_orphaned_clusters()
    cluster = start_cluster(Path(tempfile.mkdtemp(prefix=CLUSTER_PREFIX)))
    # A session stopped by SIGTERM (a timeout) still tears the cluster down.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield cluster
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_cluster(cluster)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def rados_bindings() -> None:
    """``import rados, rbd`` works (linked into the venv when needed)."""
    import_rados_bindings()
