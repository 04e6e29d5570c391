"""The fan-out benchmark, small: two nodes in network namespaces fetch one new 32 MiB image at once.

Runs where network namespaces can be made (root, ``ip``, ``tc``, ``socat``)
and PostgreSQL is reachable; skips with the reason otherwise. The full-size
benchmark is ``bench/fanout.py`` (docs/performance.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.importorskip("glimpse.p2p.session", reason="libtorrent is not installed (pip install 'glimpse[p2p]')")  # loads Ceph first

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import fanout  # noqa: E402


@pytest.fixture(scope="module")
def runnable() -> None:
    reason = fanout.namespaces_available()
    if reason:
        pytest.skip(f"fan-out benchmark cannot run here: {reason}")
    try:
        engine = sa.create_engine(fanout.ADMIN_DB, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        pytest.skip(f"fan-out benchmark needs PostgreSQL at {fanout.ADMIN_DB}: {exc}")


def test_two_nodes_pull_about_one_copy_from_the_store_with_p2p(runnable: None, tmp_path: Path) -> None:
    records = fanout.run([2], 32, 200, ["p2p", "store", "swarm"], 1, tmp_path)
    by_mode = {record["mode"]: record for record in records}
    assert all(by_mode[mode]["all_ok"] for mode in ("p2p", "store", "swarm")), records
    # without p2p each node reads the whole image from the origin; with it they share about one copy
    assert by_mode["store"]["origin_copies"] >= 1.9, records
    assert by_mode["p2p"]["origin_copies"] <= 1.4, records
    print(fanout.table(records))
