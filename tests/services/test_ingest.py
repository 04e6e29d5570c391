"""The ingest pipeline: every byte that comes in is counted, hashed and format-checked before the store commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from glimpse import errors
from glimpse.domain.images import Image, ImageStatus, Visibility
from glimpse.services.image_checks import FormatGate
from glimpse.services.ingest import Expected, IngestPipeline
from glimpse.stores.base import PendingObject, StoredObject, put
from glimpse.stores.filesystem import FilesystemStore

MiB = 1 << 20


class RemoteLikeStore:
    """A real store whose pending objects have no local file (as S3, Swift or RBD): the pipeline must spool."""

    def __init__(self, root: Path) -> None:
        self.files = FilesystemStore(path=str(root))
        self.local_paths_asked = 0

    def url_for(self, key: str) -> str:
        return self.files.url_for(key)

    def begin(self, key: str, *, size: int | None = None) -> PendingObject:
        store = self

        class Pending:
            def __init__(self) -> None:
                self.key = key
                self._inner = store.files.begin(key, size=size)

            def write(self, chunk: bytes | memoryview) -> None:
                self._inner.write(chunk)

            def local_path(self) -> str | None:
                store.local_paths_asked += 1
                return None

            def commit(self) -> StoredObject:
                return self._inner.commit()

            def abort(self) -> None:
                self._inner.abort()

        return Pending()

    def open(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        return self.files.open(key, offset=offset, length=length)

    def delete(self, key: str) -> None:
        self.files.delete(key)

    def stat(self, key: str) -> int:
        return self.files.stat(key)

    def check(self) -> None:
        self.files.check()


def image(disk_format: str = "raw") -> Image:
    now = dt.datetime.now(dt.timezone.utc)
    return Image(id="img-1", name="i", status=ImageStatus.SAVING, visibility=Visibility.PRIVATE, owner="p",
                 created_at=now, updated_at=now, disk_format=disk_format, container_format="bare")


def qcow2_header(virtual_size: int) -> bytes:
    """The metadata of an empty qcow2 v3 image: header, refcount table and block, L1 table (64 KiB clusters)."""
    cluster = 1 << 16
    l1_size = -(-virtual_size // (cluster * cluster // 8))
    header = (b"QFI\xfb" + struct.pack(">IQIIQIIQQIIQQQQII", 3, 0, 0, 16, virtual_size, 0, l1_size, 3 * cluster,
                                        cluster, 1, 0, 0, 0, 0, 0, 4, 104) + bytes(8))
    refcount_table = struct.pack(">Q", 2 * cluster)
    refcount_block = struct.pack(">4H", 1, 1, 1, 1)
    return b"".join(part.ljust(cluster, b"\0") for part in (header, refcount_table, refcount_block, b""))


@pytest.fixture
def pipeline(tmp_path: Path) -> IngestPipeline:
    return IngestPipeline(FormatGate(), hash_algorithm="sha256", size_cap=64 * MiB, spool_dir=tmp_path / "spool",
                          block_size=MiB)


def test_ingest_commits_hashed_checked_data(pipeline: IngestPipeline, tmp_path: Path) -> None:
    store = FilesystemStore(path=str(tmp_path / "store"))
    data = os.urandom(3 * MiB + 17)
    done = pipeline.ingest("file", store, "k", iter([data[:MiB], data[MiB:]]), declared=len(data), inspect=image())
    assert (done.size, done.checksum, done.os_hash_algo) == (len(data), hashlib.md5(data).hexdigest(), "sha256")
    assert done.os_hash_value == hashlib.sha256(data).hexdigest()
    assert done.virtual_size == len(data) and done.stored.size == len(data)
    assert (tmp_path / "store" / "k").read_bytes() == data


def test_a_format_mismatch_aborts_before_commit(pipeline: IngestPipeline, tmp_path: Path) -> None:
    store = FilesystemStore(path=str(tmp_path / "store"))
    with pytest.raises(errors.ImageFormatMismatch, match="qcow2"):
        pipeline.ingest("file", store, "k", [b"plain bytes, not a qcow2 image"], inspect=image("qcow2"))
    assert list((tmp_path / "store").iterdir()) == []


def test_the_format_gate_sees_the_whole_file_head_and_tail(pipeline: IngestPipeline, tmp_path: Path) -> None:
    store = FilesystemStore(path=str(tmp_path / "store"))
    data = qcow2_header(10 * MiB) + os.urandom(2 * MiB)
    done = pipeline.ingest("file", store, "k", iter([data[:1000], data[1000:]]), inspect=image("qcow2"))
    assert done.virtual_size == 10 * MiB


def test_stores_without_a_local_file_are_checked_through_a_spool_that_is_removed(
        pipeline: IngestPipeline, tmp_path: Path) -> None:
    store = RemoteLikeStore(tmp_path / "remote")
    data = qcow2_header(5 * MiB) + os.urandom(MiB)
    done = pipeline.ingest("remote", store, "k", [data], inspect=image("qcow2"))
    assert done.virtual_size == 5 * MiB and store.local_paths_asked == 1
    assert list((tmp_path / "spool").iterdir()) == []
    with pytest.raises(errors.ImageFormatMismatch):
        pipeline.ingest("remote", store, "bad", [b"not qcow2"], inspect=image("qcow2"))
    assert list((tmp_path / "spool").iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "remote").iterdir()) == ["k"]


def test_an_unusable_spool_is_a_store_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "spool").write_bytes(b"a file where the spool directory should be")
    pipeline = IngestPipeline(FormatGate(), hash_algorithm="sha256", size_cap=MiB, spool_dir=tmp_path / "spool",
                              block_size=MiB)
    store = RemoteLikeStore(tmp_path / "remote")
    with pytest.raises(errors.StoreUnavailable, match="spool"):
        pipeline.ingest("remote", store, "k", [b"data"], inspect=image())
    assert list((tmp_path / "remote").iterdir()) == []


def test_limits_abort_and_leave_nothing(pipeline: IngestPipeline, tmp_path: Path) -> None:
    store = FilesystemStore(path=str(tmp_path / "store"))
    block = bytes(MiB)
    with pytest.raises(errors.ImageTooLarge):
        pipeline.ingest("file", store, "big", (block for _ in range(65)))
    with pytest.raises(errors.QuotaExceeded, match="image_stage_total"):
        pipeline.ingest("file", store, "quota", [block, block], quota_left=MiB, quota_name="image_stage_total")
    with pytest.raises(errors.SizeMismatch):
        pipeline.ingest("file", store, "short", [block], declared=2 * MiB)
    assert list((tmp_path / "store").iterdir()) == []


def test_a_copy_that_does_not_match_its_digests_is_not_committed(pipeline: IngestPipeline, tmp_path: Path) -> None:
    source = FilesystemStore(path=str(tmp_path / "a"))
    target = FilesystemStore(path=str(tmp_path / "b"))
    put(source, "k", [b"original"])
    good = Expected(hashlib.md5(b"original").hexdigest(), hashlib.sha256(b"original").hexdigest())
    copied = pipeline.ingest("b", target, "k", source.open("k"), expect=good)
    assert copied.checksum == good.checksum and (tmp_path / "b" / "k").read_bytes() == b"original"
    put(source, "k2", [b"bit rot"])
    with pytest.raises(errors.ImageDataCorrupt):
        pipeline.ingest("b", target, "k2", source.open("k2"), expect=good)
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["k"]


def test_store_errors_become_domain_errors_naming_the_store(pipeline: IngestPipeline, tmp_path: Path) -> None:
    store = FilesystemStore(path=str(tmp_path / "store"))
    (tmp_path / "store").rmdir()
    with pytest.raises(errors.StoreUnavailable, match="'file'"):
        pipeline.ingest("file", store, "k", [b"data"], inspect=image())


def _outcome(pipeline: IngestPipeline, store: object, key: str, path: Path, case: object) -> object:
    """The virtual size an ingest of ``path`` records, or the class of the error that refused it."""
    from tests.support.image_cases import Case

    assert isinstance(case, Case)
    now = dt.datetime.now(dt.timezone.utc)
    target = Image(id=key, name=case.name, status=ImageStatus.SAVING, visibility=Visibility.PRIVATE, owner="p",
                   created_at=now, updated_at=now, disk_format=case.disk_format,
                   container_format=case.container_format)
    data = path.read_bytes()
    chunks = [data[i:i + 300_000] for i in range(0, len(data), 300_000)]  # blocks that do not align with anything
    try:
        return pipeline.ingest("s", store, key, chunks, inspect=target).virtual_size  # type: ignore[arg-type]
    except (errors.ImageFormatMismatch, errors.ImageUnsafe) as exc:
        return type(exc)


def test_every_catalogued_image_gets_the_same_verdict_through_a_spool_as_from_a_local_file(tmp_path: Path) -> None:
    """Plain data is spooled sparse (head and tail only): the verdict must not change for any catalogued image."""
    from tests.support.disk_images import require_qemu_img
    from tests.support.image_cases import ALL, build_all

    require_qemu_img()
    (tmp_path / "cases").mkdir()
    images = build_all(tmp_path / "cases")
    pipeline = IngestPipeline(FormatGate(), hash_algorithm="sha256", size_cap=1 << 40, spool_dir=tmp_path / "spool",
                              block_size=MiB)
    local, remote = FilesystemStore(path=str(tmp_path / "local")), RemoteLikeStore(tmp_path / "remote")
    compared = 0
    for number, case in enumerate(ALL):
        expected = _outcome(pipeline, local, f"l{number}", images[case.name], case)
        assert _outcome(pipeline, remote, f"r{number}", images[case.name], case) == expected, case.name
        compared += 1
    assert compared == len(ALL) and list((tmp_path / "spool").iterdir()) == []


@pytest.mark.parametrize("size", [0, 1, 511, 4096, 0x8006, MiB, MiB + 1, 3 * MiB + 4097])
def test_plain_data_is_spooled_sparse_with_its_head_and_tail_in_place(tmp_path: Path, size: int) -> None:
    from glimpse.formats import PLAIN_HEAD, PLAIN_TAIL
    from glimpse.services.ingest import _Spool

    data = os.urandom(size)
    spool = _Spool(tmp_path, "k", (PLAIN_HEAD, PLAIN_TAIL))
    for start in range(0, size, 100_000):
        spool.write(memoryview(data)[start:start + 100_000])
    spool.complete(size)
    copy = Path(spool.path).read_bytes()
    assert len(copy) == size and copy[:PLAIN_HEAD] == data[:PLAIN_HEAD]
    assert copy[-PLAIN_TAIL:] == data[-PLAIN_TAIL:] if size else copy == b""
    if size > PLAIN_HEAD + PLAIN_TAIL:
        assert copy[PLAIN_HEAD:-PLAIN_TAIL] == bytes(size - PLAIN_HEAD - PLAIN_TAIL)  # nothing written between
        assert os.stat(spool.path).st_blocks * 512 < size  # a hole, not written zeros
    spool.remove()
    assert not Path(spool.path).exists()
