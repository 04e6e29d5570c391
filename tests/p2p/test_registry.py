"""The p2p extension's shared state on every database backend: node registry, piece tables and their lease."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from glimpse.db.engine import Database
from glimpse.db.migrate import upgrade
from glimpse.db.swarm import PieceTable, SwarmNode, SwarmRepository
from glimpse.services.swarm import hash_pieces, piece_size_for

LEASE = dt.timedelta(seconds=60)


@pytest.fixture(scope="module")
def swarm(database_url: str) -> Iterator[SwarmRepository]:
    database = Database(database_url)
    upgrade(database)
    yield SwarmRepository(database)
    database.dispose()


def test_nodes_register_renew_and_leave(swarm: SwarmRepository) -> None:
    swarm.heartbeat(SwarmNode("node-a", "10.0.0.1", 6881))
    swarm.heartbeat(SwarmNode("node-b", "10.0.0.2", 6882))
    swarm.heartbeat(SwarmNode("node-a", "10.0.0.1", 6890))  # a renewal, with the port it has now
    alive = {node.id: node for node in swarm.alive(within=dt.timedelta(seconds=30))}
    assert alive["node-a"] == SwarmNode("node-a", "10.0.0.1", 6890)
    assert alive["node-b"].port == 6882
    assert swarm.alive(within=dt.timedelta(seconds=-5)) == []  # every heartbeat is older than "5 s in the future"
    swarm.leave("node-b")
    assert "node-b" not in {node.id for node in swarm.alive(within=dt.timedelta(seconds=30))}
    swarm.leave("node-a")


def test_one_holder_computes_a_piece_table_and_it_is_written_once(swarm: SwarmRepository) -> None:
    image_id = "0b5c1f0e-1111-4a5b-9c3d-000000000001"
    assert swarm.pieces(image_id) is None
    assert swarm.claim(image_id, size=10, piece_size=16384, holder="a", lease=LEASE)
    assert not swarm.claim(image_id, size=10, piece_size=16384, holder="b", lease=LEASE)  # a's lease runs
    assert swarm.pieces(image_id) is None  # a lease is not a table
    table = PieceTable(image_id, 10, 16384, b"\x01" * 20)
    assert swarm.publish(table)
    assert not swarm.publish(PieceTable(image_id, 10, 16384, b"\x02" * 20))  # the first table stays
    assert swarm.pieces(image_id) == table
    assert not swarm.claim(image_id, size=10, piece_size=16384, holder="b", lease=LEASE)
    swarm.drop(image_id)
    assert swarm.pieces(image_id) is None


def test_a_released_or_expired_lease_can_be_taken(swarm: SwarmRepository) -> None:
    image_id = "0b5c1f0e-1111-4a5b-9c3d-000000000002"
    assert swarm.claim(image_id, size=10, piece_size=16384, holder="a", lease=LEASE)
    swarm.release(image_id, "a")
    assert swarm.claim(image_id, size=10, piece_size=16384, holder="b", lease=dt.timedelta(seconds=-1))
    assert swarm.claim(image_id, size=10, piece_size=16384, holder="c", lease=LEASE)  # b's ran out
    swarm.drop(image_id)


def test_a_large_piece_table_round_trips(swarm: SwarmRepository) -> None:
    image_id = "0b5c1f0e-1111-4a5b-9c3d-000000000003"
    table = PieceTable(image_id, 2000 * 1024 * 1024, 1024 * 1024, bytes(range(256)) * 160)  # 40,960 bytes
    assert swarm.publish(table)
    assert swarm.pieces(image_id) == table
    swarm.drop(image_id)


def test_piece_hashes_and_sizes() -> None:
    data = bytes(range(256)) * 1000
    hashes, total = hash_pieces([data[:100], data[100:70000], data[70000:]], 65536)
    assert total == len(data) and len(hashes) == 20 * 4
    assert hash_pieces([data], 65536) == (hashes, total)
    assert piece_size_for(200 * 1024 * 1024) == 256 * 1024
    assert piece_size_for(1024 ** 3) == 1024 * 1024
    assert piece_size_for(10 * 1024 ** 4) == 16 * 1024 * 1024
    assert piece_size_for(1024 ** 3, 4 * 1024 * 1024) == 4 * 1024 * 1024


def test_piece_tables_of_deleted_images_are_dropped(swarm: SwarmRepository, database_url: str) -> None:
    from glimpse.clock import utcnow
    from glimpse.db.tables import images

    now = utcnow()
    row = {"name": "x", "status": "active", "visibility": "private", "owner": "p", "protected": False,
           "os_hidden": False, "disk_format": "raw", "container_format": "bare", "min_disk": 0, "min_ram": 0,
           "size": 10, "created_at": now, "updated_at": now, "deleted": False, "revision": 1}
    kept, deleted = "0b5c1f0e-1111-4a5b-9c3d-000000000004", "0b5c1f0e-1111-4a5b-9c3d-000000000005"
    database = Database(database_url)
    try:
        with database.write() as conn:
            conn.execute(images.insert(), [{**row, "id": kept},
                                           {**row, "id": deleted, "deleted": True, "status": "deleted"}])
        # The database is shared with the rest of the run: other tests' images may be older than these two.
        assert swarm.unhashed_active(limit=1_000_000).count(kept) == 1
        for image_id in (kept, deleted):
            assert swarm.publish(PieceTable(image_id, 10, 16384, b"\x01" * 20))
        assert kept not in swarm.unhashed_active(limit=1_000_000)
        assert swarm.drop_deleted() >= 1
        assert swarm.pieces(kept) is not None and swarm.pieces(deleted) is None
        swarm.drop(kept)
        with database.write() as conn:
            conn.execute(images.delete().where(images.c.id.in_([kept, deleted])))
    finally:
        database.dispose()
