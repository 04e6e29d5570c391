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
from glimpse.services.ingest import Expected, FormatGate, IngestPipeline
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
    return (b"QFI\xfb" + struct.pack(">I", 3) + bytes(16) + struct.pack(">Q", virtual_size)).ljust(4096, b"\0")


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
