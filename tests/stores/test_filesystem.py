"""The filesystem store: the guarantees of the store interface."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glimpse.stores.base import (
    PendingObject,
    Store,
    StoreConfigError,
    StoreError,
    StoreObjectNotFound,
    StoreUnavailableError,
    put,
)
from glimpse.stores.filesystem import FilesystemStore
from glimpse.stores.loader import driver_class, load_stores


@pytest.fixture
def store(tmp_path: Path) -> FilesystemStore:
    return FilesystemStore(path=str(tmp_path / "objects"), read_chunk_size=1000)


def test_is_a_store(store: FilesystemStore) -> None:
    assert isinstance(store, Store)


def test_put_then_read_back(store: FilesystemStore) -> None:
    data = os.urandom(10_500)
    stored = put(store, "k1", [data[:5000], data[5000:]], size=len(data))
    assert stored.size == len(data) and stored.key == "k1"
    assert stored.url == store.url_for("k1") and stored.url.startswith("file:///")
    assert b"".join(store.open("k1")) == data
    assert all(len(chunk) <= 1000 for chunk in store.open("k1"))
    assert store.stat("k1") == len(data)


def test_ranged_reads(store: FilesystemStore) -> None:
    data = bytes(range(256)) * 20
    put(store, "r", [data])
    assert b"".join(store.open("r", offset=100, length=50)) == data[100:150]
    assert b"".join(store.open("r", offset=5000)) == data[5000:]
    assert b"".join(store.open("r", offset=0, length=0)) == b""
    assert b"".join(store.open("r", offset=len(data) - 1, length=10)) == data[-1:]


def test_failed_put_leaves_nothing(store: FilesystemStore) -> None:
    def failing() -> Iterator[bytes]:
        yield b"partial"
        raise RuntimeError("source broke")

    with pytest.raises(RuntimeError):
        put(store, "broken", failing())
    assert list(store.root.iterdir()) == []
    with pytest.raises(StoreObjectNotFound):
        store.open("broken")


def test_put_replaces_atomically(store: FilesystemStore) -> None:
    put(store, "k", [b"old"])

    def failing() -> Iterator[bytes]:
        yield b"new"
        raise RuntimeError

    with pytest.raises(RuntimeError):
        put(store, "k", failing())
    assert b"".join(store.open("k")) == b"old"


def test_missing_objects(store: FilesystemStore) -> None:
    with pytest.raises(StoreObjectNotFound):
        store.open("nope")
    with pytest.raises(StoreObjectNotFound):
        store.stat("nope")
    store.delete("nope")


def test_delete(store: FilesystemStore) -> None:
    put(store, "d", [b"x"])
    store.delete("d")
    with pytest.raises(StoreObjectNotFound):
        store.stat("d")


@pytest.mark.parametrize("key", ["", "../escape", "a/b", ".hidden"])
def test_unsafe_keys_are_refused(store: FilesystemStore, key: str) -> None:
    with pytest.raises(StoreError):
        put(store, key, [b"x"])


def test_purge_incomplete_removes_only_old_temporaries(store: FilesystemStore) -> None:
    old = store.root / ".incoming-old"
    old.write_bytes(b"x")
    past = time.time() - 3600
    os.utime(old, (past, past))
    fresh = store.root / ".incoming-fresh"
    fresh.write_bytes(b"y")
    put(store, "kept", [b"z"])
    assert store.purge_incomplete(older_than=600) == [".incoming-old"]
    assert sorted(p.name for p in store.root.iterdir()) == [".incoming-fresh", "kept"]


def test_check_reports_a_vanished_directory(store: FilesystemStore) -> None:
    store.check()
    store.root.rmdir()
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        store.check()


def test_source_errors_pass_through_untranslated(store: FilesystemStore) -> None:
    def source() -> Iterator[bytes]:
        yield b"x"
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        put(store, "k", source())


def test_drivers_are_found_by_entry_point(tmp_path: Path) -> None:
    assert driver_class("filesystem") is FilesystemStore
    with pytest.raises(ValueError, match="filesystem"):
        driver_class("floppy")
    stores = load_stores({"a": {"driver": "filesystem", "path": str(tmp_path / "a"), "description": "A"}})
    assert isinstance(stores["a"], FilesystemStore)


def _resident_fraction(path: Path, length: int) -> float:
    """The share of the first ``length`` bytes of ``path`` in the page cache (``mincore``)."""
    import ctypes
    import ctypes.util
    import mmap

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    page = mmap.PAGESIZE
    pages = (length + page - 1) // page
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), length, access=mmap.ACCESS_COPY) as mapped:
        first = ctypes.c_char.from_buffer(mapped)  # exports the map: released before it closes
        vector = (ctypes.c_ubyte * pages)()
        failed = libc.mincore(ctypes.c_void_p(ctypes.addressof(first)), ctypes.c_size_t(length), vector)
        del first
    if failed:
        pytest.skip(f"mincore failed: {os.strerror(ctypes.get_errno())}")
    return sum(v & 1 for v in vector) / pages


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise on this platform")
@pytest.mark.parametrize(("options", "dropped"), [
    ({"drop_written_data_above": 0}, True),
    ({"drop_written_data_above": 100 << 20}, True),
    ({}, False),
    ({"drop_written_data": False, "drop_written_data_above": 0}, False),
])
def test_written_data_leaves_the_page_cache_only_beyond_the_threshold(
        tmp_path: Path, options: dict[str, object], dropped: bool) -> None:
    from glimpse.stores.filesystem import WRITEBACK_EVERY

    store = FilesystemStore(path=str(tmp_path / "objects"), **options)
    block = os.urandom(1 << 20)
    total = 2 * WRITEBACK_EVERY + (1 << 20)
    # A plain write of the same size just before the store's: the kernel may
    # evict pages of both under memory pressure from elsewhere (a busy CI
    # machine did, 16 % of them), but only the store drops its own.
    plain = tmp_path / "plain"
    with open(plain, "wb") as handle:
        for _ in range(total // len(block)):
            handle.write(block)
    put(store, "big", (block for _ in range(total // len(block))))
    resident = _resident_fraction(store.root / "big", WRITEBACK_EVERY)
    kept_by_kernel = _resident_fraction(plain, WRITEBACK_EVERY)
    if dropped:
        assert resident < 0.5, f"{resident:.0%} of the first 64 MiB still cached after the write ({options})"
        return
    if kept_by_kernel < 0.5:
        pytest.skip(f"the kernel itself evicted {1 - kept_by_kernel:.0%} of a plain write: too little memory to tell")
    assert resident > min(0.9, kept_by_kernel - 0.1), (
        f"only {resident:.0%} of the first 64 MiB cached ({options}); a plain write kept {kept_by_kernel:.0%}")


def test_a_pending_object_is_invisible_until_committed(store: FilesystemStore) -> None:
    pending = store.begin("p", size=6)
    assert isinstance(pending, PendingObject)
    pending.write(b"abc")
    pending.write(memoryview(b"xdefx")[1:4])
    local = pending.local_path()
    assert local is not None and Path(local).read_bytes() == b"abcdef"
    assert Path(local).parent == store.root and Path(local).name.startswith(".")
    with pytest.raises(StoreObjectNotFound):
        store.stat("p")
    stored = pending.commit()
    assert (stored.key, stored.size, stored.url) == ("p", 6, store.url_for("p"))
    assert b"".join(store.open("p")) == b"abcdef"
    assert not Path(local).exists()
    pending.abort()  # after commit: nothing happens
    assert store.stat("p") == 6


def test_an_aborted_object_leaves_no_file(store: FilesystemStore) -> None:
    put(store, "a", [b"old"])
    pending = store.begin("a")
    pending.write(b"new data")
    pending.abort()
    pending.abort()
    assert sorted(p.name for p in store.root.iterdir()) == ["a"]
    assert b"".join(store.open("a")) == b"old"
    with pytest.raises(StoreError):
        pending.write(b"more")


def test_a_negative_drop_threshold_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(StoreConfigError, match="drop_written_data_above"):
        FilesystemStore(path=str(tmp_path), drop_written_data_above=-1)
