"""On SQLite an image is loaded in one statement; it must be exactly the image SQLAlchemy's path loads.

The same for the other hot reads: whichever path a database chose at start-up, the rows are the same."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from glimpse.db.engine import Database
from glimpse.db.image_reads import SqlAlchemyImageReader, SqliteImageReader
from glimpse.db.image_rows import load_sqlite
from glimpse.db.images import ImageRepository
from glimpse.db.migrate import upgrade
from glimpse.db.sqlite_reads import hot_read
from glimpse.db.tables import images
from glimpse.domain.images import (
    Image,
    ImageLocation,
    ImageStatus,
    PropertyInfo,
    PropertyVisibility,
    Visibility,
)


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    """The same SQLite file opened twice: with the DB-API reads, and (a driver option in the URL) without."""
    path = tmp_path / "glimpse.db"
    fast, plain = Database(f"sqlite:///{path}"), Database(f"sqlite:///{path}?timeout=30")
    assert fast.sqlite_reads is not None and plain.sqlite_reads is None
    upgrade(fast)
    yield fast, plain
    fast.dispose()
    plain.dispose()


def _image(image_id: str, **changes: object) -> Image:
    now = dt.datetime(2026, 11, 22, 5, 6, 7, 123456)
    base = Image(id=image_id, name="one", status=ImageStatus.QUEUED, visibility=Visibility.SHARED, owner="p1",
                 created_at=now, updated_at=now, disk_format="raw", container_format="bare")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_one_statement_loads_what_sqlalchemy_loads(databases: tuple[Database, Database]) -> None:
    fast, plain = databases
    writer = ImageRepository(fast)
    rich = writer.add(_image(
        "11111111-1111-4111-8111-111111111111", tags=("zeta", "alpha", "b c"),
        properties={"os_distro": "ubuntu", "empty": "", "none": None, "quoted": '{"not": "json"}', "ünï": "ç"},
        property_info={"os_distro": PropertyInfo("p1", PropertyVisibility.PRIVATE),
                       "ünï": PropertyInfo("p2", PropertyVisibility.PUBLIC)}))
    with_data = writer.update(rich, dataclasses.replace(
        rich, status=ImageStatus.ACTIVE, protected=True, size=5, virtual_size=7, checksum="c" * 32,
        os_hash_algo="sha512", os_hash_value="d" * 128,
        locations=(ImageLocation("b-store", "k2", "file:///k2", {"x": [1, 2], "y": None}),
                   ImageLocation("a-store", "k1", "file:///k1", {}))))
    assert with_data is not None
    # A location left behind (pending deletion) and one reserved by an upload are not the image's.
    moved = writer.update(with_data, dataclasses.replace(
        with_data, locations=(with_data.locations[1], ImageLocation("c-store", "k3", "file:///k3", {"z": 1}))))
    assert moved is not None
    writer.reserve_location(moved.id, "d-store", "k4", "file:///k4")
    bare = writer.add(_image("22222222-2222-4222-8222-222222222222", name=None, visibility=Visibility.PRIVATE,
                             owner=None, disk_format=None, container_format=None))
    gone = writer.add(_image("33333333-3333-4333-8333-333333333333"))
    assert writer.update(gone, dataclasses.replace(gone, status=ImageStatus.DELETED)) is not None

    assert fast.sqlite_reads is not None
    ids = [moved.id, bare.id, gone.id, "44444444-4444-4444-8444-444444444444", moved.id]
    one_statement = {image.id: image for image in load_sqlite(fast.sqlite_reads, ids)}
    through_sqlalchemy = ImageRepository(plain)
    assert set(one_statement) == {moved.id, bare.id}
    for image_id, image in one_statement.items():
        assert image == through_sqlalchemy.get(image_id)
    loaded = one_statement[moved.id]
    assert loaded.tags == ("alpha", "b c", "zeta")
    assert [location.store for location in loaded.locations] == ["a-store", "c-store"]
    assert loaded.info("os_distro") == PropertyInfo("p1", PropertyVisibility.PRIVATE)
    assert loaded.properties["none"] is None and loaded.properties["quoted"] == '{"not": "json"}'
    assert loaded.created_at == dt.datetime(2026, 11, 22, 5, 6, 7, 123456) and loaded.revision == 3


def test_a_process_reading_first_gets_the_same_images_through_either_path(
        databases: tuple[Database, Database]) -> None:
    fast, plain = databases
    writer = ImageRepository(plain)
    for i in range(30):
        writer.add(_image(f"00000000-0000-4000-8000-{i:012d}", name=f"n{i}", tags=(f"t{i % 3}",),
                          properties={"index": str(i)}))
    # Fresh repositories have nothing cached: get() and a listing's misses load from the database.
    reader, reference = ImageRepository(fast), ImageRepository(plain)
    for i in range(30):
        image_id = f"00000000-0000-4000-8000-{i:012d}"
        assert reader.get(image_id) == reference.get(image_id)
    assert reader.get("55555555-5555-4555-8555-555555555555") is None


def test_the_reader_is_chosen_once_for_the_database_and_both_readers_agree(
        databases: tuple[Database, Database]) -> None:
    fast, plain = databases
    on_file, through_sqlalchemy = ImageRepository(fast), ImageRepository(plain)
    assert isinstance(on_file.reader, SqliteImageReader) and on_file.reader.inline
    assert isinstance(through_sqlalchemy.reader, SqlAlchemyImageReader) and not through_sqlalchemy.reader.inline
    image = on_file.add(_image("55555555-5555-4555-8555-555555555555", tags=("t",), properties={"k": "v"}))
    loads = []
    for reader in (on_file.reader, through_sqlalchemy.reader):
        assert reader.version(image.id) == (image.revision, image.created_at)
        loads.append(reader.load([image.id, "66666666-6666-4666-8666-666666666666"]))
    assert loads[0] == loads[1] and [(i.id, i.tags, i.properties) for i in loads[0]] == [(image.id, ("t",), {"k": "v"})]
    assert on_file.reader.version("66666666-6666-4666-8666-666666666666") is None


def test_hot_reads_give_the_same_rows_on_both_paths(databases: tuple[Database, Database]) -> None:
    fast, plain = databases
    read = hot_read(sa.select(images.c.id, images.c.revision).where(images.c.name == sa.bindparam("name"))
                    .order_by(images.c.id))
    writer = ImageRepository(fast)
    for n in range(3):
        writer.add(_image(f"7777777{n}-7777-4777-8777-777777777777", name="hot"))
    expected = [(f"7777777{n}-7777-4777-8777-777777777777", 1) for n in range(3)]
    assert fast.rows(read, {"name": "hot"}) == plain.rows(read, {"name": "hot"}) == expected
    assert fast.rows(read, {"name": "cold"}) == plain.rows(read, {"name": "cold"}) == []
