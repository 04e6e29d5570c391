"""The service layer used directly from Python, without HTTP: the internal API."""

from __future__ import annotations

import hashlib
import io
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glimpse import errors
from glimpse.context import RequestContext
from glimpse.domain.images import ImageStatus
from glimpse.domain.patch import parse_patch
from glimpse.domain.queries import parse_image_query
from glimpse.composition import Infrastructure, build_services, open_infrastructure, open_services
from glimpse.services import Services
from glimpse.settings import Settings


@pytest.fixture
def infrastructure(database_url: str, tmp_path: Path) -> Infrastructure:
    return open_infrastructure(Settings(data_dir=tmp_path, database_url=database_url))


@pytest.fixture
def services(infrastructure: Infrastructure) -> Iterator[Services]:
    built = build_services(infrastructure)  # closing the services releases the infrastructure
    yield built
    built.close()


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext.for_project(uuid.uuid4().hex)


def store_files(services: Services) -> list[str]:
    return os.listdir(services.settings.data_dir / "images")


def query(**params: str):  # type: ignore[no-untyped-def]
    return parse_image_query(params.items(), default_limit=25, max_limit=1000)


def test_life_cycle_through_python(services: Services, ctx: RequestContext) -> None:
    image = services.images.create(ctx, {"name": "py", "disk_format": "raw", "container_format": "bare",
                                         "os_distro": "cirros"})
    assert image.status is ImageStatus.QUEUED and image.owner == ctx.project_id
    data = [os.urandom(100_000) for _ in range(3)]
    image = services.image_data.upload(ctx, image.id, iter(data))
    assert image.status is ImageStatus.ACTIVE
    assert image.checksum == hashlib.md5(b"".join(data)).hexdigest()
    download = services.image_data.open_download(ctx, image.id)
    try:
        assert download.chunks is not None and b"".join(download.chunks) == b"".join(data)
    finally:
        download.close()
    image = services.images.update(ctx, image.id, parse_patch([{"op": "add", "path": "/k", "value": "v"}]))
    assert image.properties["k"] == "v"
    page = services.images.list(ctx, query(owner=ctx.project_id or ""))
    assert [i.id for i in page.images] == [image.id]
    services.images.delete(ctx, image.id)
    with pytest.raises(errors.ImageNotFound):
        services.images.get(ctx, image.id)
    assert image.id not in store_files(services)


def test_failing_stream_leaves_no_bytes_and_a_queued_image(services: Services, infrastructure: Infrastructure,
                                                          ctx: RequestContext) -> None:
    image = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})

    def broken() -> Iterator[bytes]:
        yield b"x" * 500_000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        services.image_data.upload(ctx, image.id, broken())
    after = services.images.get(ctx, image.id)
    assert after.status is ImageStatus.QUEUED and after.size is None and after.locations == ()
    assert store_files(services) == []
    assert infrastructure.image_repository.pending_deletions(image_id=image.id, stale_before=None) == []
    services.image_data.upload(ctx, image.id, [b"second try"])
    assert services.images.get(ctx, image.id).size == len(b"second try")


def test_declared_size_mismatch(services: Services, ctx: RequestContext) -> None:
    image = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})
    with pytest.raises(errors.SizeMismatch):
        services.image_data.upload(ctx, image.id, [b"12345"], size=4)
    with pytest.raises(errors.SizeMismatch):
        services.image_data.upload(ctx, image.id, [b"12345"], size=6)
    assert services.images.get(ctx, image.id).status is ImageStatus.QUEUED
    assert store_files(services) == []


def test_concurrent_uploads_in_process(services: Services, ctx: RequestContext) -> None:
    image = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})
    started, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def slow() -> Iterator[bytes]:
        yield b"a"
        started.set()
        release.wait(10)
        yield b"b"

    def first() -> None:
        outcome["first"] = services.image_data.upload(ctx, image.id, slow())

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(10)
    with pytest.raises(errors.ImageStatusConflict):
        services.image_data.upload(ctx, image.id, [b"c"])
    release.set()
    thread.join(10)
    assert services.images.get(ctx, image.id).size == 2


def test_visibility_and_permissions(services: Services, ctx: RequestContext) -> None:
    stranger = RequestContext.for_project(uuid.uuid4().hex)
    private = services.images.create(ctx, {"visibility": "private"})
    community = services.images.create(ctx, {"visibility": "community"})
    with pytest.raises(errors.ImageNotFound):
        services.images.get(stranger, private.id)
    assert services.images.get(stranger, community.id).id == community.id
    with pytest.raises(errors.Forbidden):
        services.images.update(stranger, community.id, parse_patch([{"op": "add", "path": "/x", "value": "y"}]))
    with pytest.raises(errors.Forbidden):
        services.images.delete(stranger, community.id)
    with pytest.raises(errors.Forbidden):
        services.images.create(ctx, {"visibility": "public"})
    admin = RequestContext.admin()
    assert services.images.create(admin, {"visibility": "public"}).visibility.value == "public"


def test_sharing_through_python(services: Services, ctx: RequestContext) -> None:
    guest = RequestContext.for_project(uuid.uuid4().hex)
    image = services.images.create(ctx, {"name": "shared"})
    assert guest.project_id is not None
    services.members.add(ctx, image.id, guest.project_id)
    assert services.images.get(guest, image.id).id == image.id
    with pytest.raises(errors.Forbidden):
        services.members.update(ctx, image.id, guest.project_id, "accepted")
    assert services.members.update(guest, image.id, guest.project_id, "accepted").status.value == "accepted"
    assert [i.id for i in services.images.list(guest, query(visibility="shared")).images] == [image.id]


def test_invalid_input_raises_domain_errors(services: Services, ctx: RequestContext) -> None:
    with pytest.raises(errors.SchemaViolation):
        services.images.create(ctx, {"min_ram": -1})
    with pytest.raises(errors.ReadOnlyAttribute):
        services.images.create(ctx, {"status": "active"})
    with pytest.raises(errors.ReservedAttribute):
        services.images.create(ctx, {"os_glance_lock": "x"})
    with pytest.raises(errors.InvalidQuery):
        services.images.list(ctx, query(marker=str(uuid.uuid4())))


def test_health_reports_each_part(services: Services) -> None:
    assert services.health() == {"database": "ok", "store:file": "ok", "store:os_glance_staging_store": "ok"}


def test_import_through_python(database_url: str, tmp_path: Path, ctx: RequestContext) -> None:
    import time

    from glimpse.domain.tasks import TaskStatus
    from glimpse.services.imports import ImportRequest

    services = open_services(Settings(data_dir=tmp_path, database_url=database_url, extensions=["image-import"]))
    try:
        assert services.imports.methods == ("glance-direct", "web-download")
        image = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})
        staged = services.imports.stage(ctx, image.id, [b"staged ", b"through python"])
        assert staged.status is ImageStatus.UPLOADING and staged.size == len(b"staged through python")
        task = services.imports.start(ctx, image.id, ImportRequest(method="glance-direct"))
        deadline = time.monotonic() + 30
        while services.imports.tasks_for_image(ctx, image.id)[0].status is not TaskStatus.SUCCESS:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert services.images.get(ctx, image.id).status is ImageStatus.ACTIVE
        assert task.status is TaskStatus.PENDING
        with pytest.raises(errors.InvalidRequest):
            services.imports.start(ctx, image.id, ImportRequest(method="teleport"))
        other = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})
        with pytest.raises(errors.Conflict):
            services.imports.start(ctx, other.id, ImportRequest(method="glance-direct"))
    finally:
        services.close()


def test_a_failed_import_reverts_its_image_in_one_step(database_url: str, tmp_path: Path, ctx: RequestContext) -> None:
    import time

    from glimpse.domain.tasks import TaskStatus
    from glimpse.services.imports import ImportRequest

    stores = {"file": {"driver": "filesystem", "path": str(tmp_path / "hot")},
              "cold": {"driver": "filesystem", "path": str(tmp_path / "cold")}}
    services = open_services(Settings(data_dir=tmp_path, database_url=database_url, extensions=["image-import"],
                                      stores=stores))
    try:
        image = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})
        staged = services.imports.stage(ctx, image.id, [b"x" * 5000])
        (tmp_path / "cold").rename(tmp_path / "cold-gone")  # copying to the second store fails
        services.imports.start(ctx, image.id, ImportRequest(method="glance-direct", stores=("file", "cold")))
        deadline = time.monotonic() + 30
        while (task := services.imports.tasks_for_image(ctx, image.id)[0]).status is not TaskStatus.FAILURE:
            assert time.monotonic() < deadline and task.status is not TaskStatus.SUCCESS
            time.sleep(0.05)
        failed = services.images.get(ctx, image.id)
        assert failed.status is ImageStatus.QUEUED and failed.properties["os_glance_failed_import"] == "file,cold"
        # back to queued and the failed stores recorded together: no reader sees one without the other
        assert failed.revision == staged.revision + 2  # one change to ``importing``, one back
        assert not (tmp_path / "hot" / image.id).exists()
    finally:
        services.close()


class _ShortReads(io.BytesIO):
    """A body reader that hands out at most ``step`` bytes per read, as a slow socket would."""

    def __init__(self, data: bytes, step: int) -> None:
        super().__init__(data)
        self.step = step

    def readinto(self, buffer: Any) -> int:
        return super().readinto(memoryview(buffer)[:self.step])


class _BrokenReader(io.BytesIO):
    def readinto(self, buffer: Any) -> int:
        if self.tell() >= 3 * 1024 * 1024:
            raise ConnectionResetError("the client went away")
        return super().readinto(buffer)


@pytest.mark.parametrize("reader", [io.BytesIO, lambda data: _ShortReads(data, 700_001)], ids=["full", "short"])
def test_upload_from_a_body_reader_hashes_and_stores_every_byte(
        services: Services, ctx: RequestContext, reader: Any) -> None:
    # Many more blocks than the ring has buffers, so every buffer is reused while hashes may lag behind.
    data = os.urandom(13 * 1024 * 1024 + 7)
    image = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})
    image = services.image_data.upload(ctx, image.id, reader(data), size=len(data))
    assert image.status is ImageStatus.ACTIVE and image.size == len(data)
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.os_hash_value == hashlib.sha512(data).hexdigest()
    download = services.image_data.open_download(ctx, image.id)
    try:
        assert download.chunks is not None and b"".join(download.chunks) == data
    finally:
        download.close()


def test_body_reader_failing_mid_upload_leaves_no_data(services: Services, ctx: RequestContext) -> None:
    image = services.images.create(ctx, {"disk_format": "raw", "container_format": "bare"})
    with pytest.raises(ConnectionResetError):
        services.image_data.upload(ctx, image.id, _BrokenReader(os.urandom(8 * 1024 * 1024)))
    image = services.images.get(ctx, image.id)
    assert image.status is ImageStatus.QUEUED and image.size is None and not image.locations
    assert store_files(services) == []
