"""Workers learn through shared memory which images their siblings wrote, and load them into their caches."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from glimpse.server.sibling_writes import SiblingWrites, WriteFollower, WritePublisher
from glimpse.server.worker_server import MOST_PER_TICK, CacheFollower
from glimpse.db.engine import Database
from glimpse.db.images import ImageRepository
from glimpse.db.migrate import upgrade
from glimpse.domain.images import ImageStatus
from tests.db.test_image_rows import _image


def _ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


def test_a_follower_sees_each_id_its_siblings_wrote_once_and_never_its_own() -> None:
    shared = SiblingWrites(slots=4, depth=16)
    mine, first, second = WritePublisher(shared, 1), WritePublisher(shared, 0), WritePublisher(shared, 3)
    follower = WriteFollower(shared, own_slot=1)
    assert follower.new_ids() == []
    a, b, c = _ids(3)
    first(a)
    mine(b)
    second(c)
    first(a)  # written twice: loaded once
    assert sorted(follower.new_ids()) == sorted([a, c])
    assert follower.new_ids() == []


def test_a_follower_a_whole_ring_behind_gets_the_latest_ids_only() -> None:
    shared = SiblingWrites(slots=2, depth=8)
    publish, follower = WritePublisher(shared, 0), WriteFollower(shared, own_slot=1)
    written = _ids(20)
    for image_id in written:
        publish(image_id)
    assert follower.new_ids() == written[-8:]


def test_a_slot_taken_over_by_a_new_worker_starts_over() -> None:
    shared = SiblingWrites(slots=2, depth=8)
    follower = WriteFollower(shared, own_slot=1)
    old = _ids(5)
    for image_id in old:
        WritePublisher(shared, 0)(image_id)
    assert follower.new_ids() == old
    shared.reset(0)  # the arbiter, before forking the worker that replaces the dead one
    new = _ids(2)
    for image_id in new:
        WritePublisher(shared, 0)(image_id)
    assert follower.new_ids() == new


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_the_rings_are_shared_with_forked_processes() -> None:
    shared = SiblingWrites(slots=2, depth=8)
    follower = WriteFollower(shared, own_slot=0)
    written = _ids(3)
    pid = os.fork()
    if pid == 0:  # the child: a sibling worker
        try:
            for image_id in written:
                WritePublisher(shared, 1)(image_id)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert follower.new_ids() == written


@pytest.fixture
def two_workers_db(tmp_path: Path) -> Iterator[tuple[Database, Database, Database]]:
    """One SQLite file as two workers open it, and as a third opens it without the one-statement reads."""
    path = tmp_path / "glimpse.db"
    first, second, plain = Database(f"sqlite:///{path}"), Database(f"sqlite:///{path}"), \
        Database(f"sqlite:///{path}?timeout=30")
    upgrade(first)
    yield first, second, plain
    for db in (first, second, plain):
        db.dispose()


@pytest.mark.parametrize("reader", ["sqlite", "sqlalchemy"])
def test_images_a_sibling_writes_are_loaded_into_the_cache(two_workers_db: tuple[Database, Database, Database],
                                                           reader: str) -> None:
    first_db, second_db, plain_db = two_workers_db
    shared = SiblingWrites(slots=2, depth=8)
    writer = ImageRepository(first_db)
    writer.watch_writes(WritePublisher(shared, 0))
    cache_of = ImageRepository(second_db if reader == "sqlite" else plain_db)
    assert cache_of.reader.inline is (reader == "sqlite")  # the follower loads inline or through a thread
    follower = CacheFollower(WriteFollower(shared, own_slot=1), cache_of)

    created = writer.add(_image(str(uuid.uuid4()), tags=("t",), properties={"os_distro": "debian"}))
    assert asyncio.run(follower.follow()) == 1
    assert cache_of.get(created.id) == writer.get(created.id)

    renamed = writer.update(created, dataclasses.replace(created, name="renamed"))
    assert renamed is not None
    assert asyncio.run(follower.follow()) == 1
    shown = cache_of.get(created.id)
    assert shown is not None and shown.name == "renamed" and shown.revision == renamed.revision

    # A deleted image has nothing to load; with nothing written, nothing is done.
    assert writer.update(renamed, dataclasses.replace(renamed, status=ImageStatus.DELETED)) is not None
    assert asyncio.run(follower.follow()) == 0
    assert asyncio.run(follower.follow()) == 0
    assert cache_of.get(created.id) is None


def test_threads_of_one_worker_take_turns_on_its_ring() -> None:
    shared = SiblingWrites(slots=2, depth=4096)
    publish, follower = WritePublisher(shared, 0), WriteFollower(shared, own_slot=1)
    batches = [_ids(300) for _ in range(8)]
    threads = [threading.Thread(target=lambda batch=batch: [publish(i) for i in batch]) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert shared.count(0) == 2400
    assert sorted(follower.new_ids()) == sorted(i for batch in batches for i in batch)


def test_a_burst_of_sibling_writes_is_loaded_latest_first_and_no_more_than_a_tick_allows(
        two_workers_db: tuple[Database, Database, Database]) -> None:
    first_db, second_db, _plain = two_workers_db
    shared = SiblingWrites(slots=2, depth=1024)
    writer = ImageRepository(first_db)
    writer.watch_writes(WritePublisher(shared, 0))
    follower = CacheFollower(WriteFollower(shared, own_slot=1), ImageRepository(second_db))
    for _ in range(MOST_PER_TICK + 20):
        writer.add(_image(str(uuid.uuid4())))
    assert asyncio.run(follower.follow()) == MOST_PER_TICK
    assert asyncio.run(follower.follow()) == 0  # the 20 oldest are left to their first read
