"""Releasing abandoned uploads: of several nodes sweeping at once, exactly one acts."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from glimpse.context import RequestContext
from glimpse.db.images import utcnow
from glimpse.db.tables import image_locations, images
from glimpse.composition import Infrastructure, build_services, open_infrastructure
from glimpse.db.engine import Database
from glimpse.services import Services
from glimpse.settings import Settings
from tests.conftest import _server_database

LEASE = dt.timedelta(seconds=15)


@pytest.fixture
def infrastructure(backend: str, tmp_path: Path) -> Iterator[list[Infrastructure]]:
    # A database of their own: the session's server sweeps the shared one, and would be a fifth node.
    databases = _server_database(backend, tmp_path)
    settings = Settings(data_dir=tmp_path, database_url=next(databases))
    yield [open_infrastructure(settings), *(open_infrastructure(settings, migrate=False) for _ in range(3))]
    next(databases, None)


@pytest.fixture
def nodes(infrastructure: list[Infrastructure]) -> Iterator[list[Services]]:
    built = [build_services(node) for node in infrastructure]
    yield built
    for services in built:
        services.close()


@pytest.fixture
def database(infrastructure: list[Infrastructure]) -> Database:
    return infrastructure[0].database


def abandoned_upload(services: Services, database: Database, *, expired: bool) -> str:
    """An image left ``saving`` by an uploading process that died (its lease last renewed long ago or not)."""
    ctx = RequestContext.for_project(uuid.uuid4().hex)
    image = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})
    renewed = utcnow() - (LEASE * 2 if expired else dt.timedelta(seconds=1))
    with database.write() as conn:
        conn.execute(images.update().where(images.c.id == image.id)
                     .values(status="saving", revision=images.c.revision + 1))
        conn.execute(image_locations.insert().values(
            image_id=image.id, store="file", key=image.id, url=f"file:///{image.id}", meta={}, status="pending",
            created_at=renewed, updated_at=renewed))
    return image.id


def status_of(database: Database, image_id: str) -> str:
    with database.read() as conn:
        return str(conn.execute(sa.select(images.c.status).where(images.c.id == image_id)).scalar_one())


def test_of_four_nodes_sweeping_at_once_exactly_one_releases_each_upload(nodes: list[Services], database: Database) -> None:
    expired = [abandoned_upload(nodes[0], database, expired=True) for _ in range(3)]
    alive = abandoned_upload(nodes[0], database, expired=False)
    released: list[int] = []
    start = threading.Barrier(len(nodes))

    def sweep(services: Services) -> None:
        start.wait()
        released.append(services.maintenance.release_abandoned_uploads(lease=LEASE))

    threads = [threading.Thread(target=sweep, args=(services,)) for services in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(released) == len(expired)
    assert all(status_of(database, image_id) == "queued" for image_id in expired)
    assert status_of(database, alive) == "saving"  # its lease has not run out
    with database.read() as conn:
        left = conn.execute(sa.select(image_locations.c.image_id)
                            .where(image_locations.c.image_id.in_(expired))).all()
    assert left == []
