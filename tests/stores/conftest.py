"""Fixtures of the store tests: one throw-away Ceph cluster per session (see ``tests/support/ceph.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.ceph import CephCluster, import_rados_bindings, start_cluster, stop_cluster


@pytest.fixture(scope="session")
def ceph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CephCluster]:
    """A running cluster for the whole session; torn down at its end."""
    cluster = start_cluster(tmp_path_factory.mktemp("ceph"))
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(scope="session")
def rados_bindings() -> None:
    """``import rados, rbd`` works (linked into the venv when needed)."""
    import_rados_bindings()
