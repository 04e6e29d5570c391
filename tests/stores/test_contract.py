"""The store driver contract: every driver in ``drivers.py`` passes these tests unchanged."""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glimpse.stores.base import (
    PendingObject,
    Store,
    StoreError,
    StoreObjectNotFound,
    StoreUnavailableError,
)
from tests.stores.drivers import DRIVERS, DriverUnderTest

MiB = 1024 * 1024


@pytest.fixture(params=sorted(DRIVERS))
def dut(request: pytest.FixtureRequest) -> Iterator[DriverUnderTest]:
    driver = DRIVERS[request.param](request)
    yield driver


def write(pending: PendingObject, data: bytes, piece: int = 64 * 1024 + 7) -> None:
    """Write ``data`` as views of one reused buffer (as the pipeline does): a driver may not keep them."""
    buffer = bytearray(piece)
    for start in range(0, len(data), piece):
        part = data[start:start + piece]
        buffer[:len(part)] = part
        pending.write(memoryview(buffer)[:len(part)])
        buffer[:] = b"\xee" * piece  # the next chunk reuses the buffer


def put(store: Store, key: str, data: bytes, *, hint: bool = True) -> None:
    pending = store.begin(key, size=len(data) if hint else None)
    write(pending, data)
    stored = pending.commit()
    assert (stored.key, stored.size, stored.url) == (key, len(data), store.url_for(key))


def read(store: Store, key: str, **where: int) -> bytes:
    chunks = store.open(key, **where)
    try:
        return b"".join(chunks)
    finally:
        chunks.close()  # type: ignore[attr-defined]


def test_an_empty_object_round_trips(dut: DriverUnderTest) -> None:
    put(dut.store, dut.key("empty"), b"")
    assert read(dut.store, dut.key("empty")) == b""
    assert dut.store.stat(dut.key("empty")) == 0


def test_one_byte_round_trips(dut: DriverUnderTest) -> None:
    put(dut.store, dut.key("one"), b"\x00", hint=False)
    assert read(dut.store, dut.key("one")) == b"\x00"
    assert dut.store.stat(dut.key("one")) == 1


@pytest.mark.parametrize("hint", [True, False], ids=["size-known", "size-unknown"])
def test_sizes_around_the_chunk_boundary_round_trip(dut: DriverUnderTest, hint: bool) -> None:
    for size in (dut.chunk - 1, dut.chunk, dut.chunk + 1, 2 * dut.chunk + 1):
        data = os.urandom(size)
        put(dut.store, dut.key(f"b{size}"), data, hint=hint)
        assert dut.store.stat(dut.key(f"b{size}")) == size
        assert hashlib.sha256(read(dut.store, dut.key(f"b{size}"))).digest() == hashlib.sha256(data).digest()


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_large_stream_is_written_and_read_with_flat_memory(dut: DriverUnderTest) -> None:
    block = os.urandom(MiB)
    written, got = hashlib.sha256(), hashlib.sha256()
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak resident set size
    before = _peak_rss()
    pending = dut.store.begin(dut.key("large"), size=None)
    for n in range(dut.large // MiB):
        data = n.to_bytes(8, "big") + block[8:]
        written.update(data)
        pending.write(data)
    pending.commit()
    chunks = dut.store.open(dut.key("large"))
    for chunk in chunks:
        got.update(chunk)
    chunks.close()  # type: ignore[attr-defined]
    grown = _peak_rss() - before
    assert got.digest() == written.digest()
    assert dut.store.stat(dut.key("large")) == dut.large
    assert grown < 96 * MiB, f"memory grew by {grown // MiB} MiB while streaming {dut.large // MiB} MiB"


def test_range_reads_at_both_ends(dut: DriverUnderTest) -> None:
    data = os.urandom(dut.chunk + 1000)
    put(dut.store, dut.key("r"), data)
    assert read(dut.store, dut.key("r"), offset=0, length=10) == data[:10]
    assert read(dut.store, dut.key("r"), offset=len(data) - 10) == data[-10:]
    assert read(dut.store, dut.key("r"), offset=len(data) - 1, length=100) == data[-1:]
    assert read(dut.store, dut.key("r"), offset=dut.chunk - 5, length=10) == data[dut.chunk - 5:dut.chunk + 5]
    assert read(dut.store, dut.key("r"), offset=len(data)) == b""
    assert read(dut.store, dut.key("r"), offset=5, length=0) == b""


def test_abort_leaves_nothing_in_the_backend(dut: DriverUnderTest) -> None:
    pending = dut.store.begin(dut.key("aborted"), size=None)
    write(pending, os.urandom(2 * dut.chunk + 100))
    pending.abort()
    pending.abort()  # a second abort is a no-op
    assert dut.names() == set()
    with pytest.raises(StoreObjectNotFound):
        dut.store.open(dut.key("aborted"))


def test_a_write_abandoned_without_abort_is_cleaned_up_by_delete_or_purge(dut: DriverUnderTest) -> None:
    pending = dut.store.begin(dut.key("crashed"), size=None)
    write(pending, os.urandom(2 * dut.chunk + 100))
    del pending  # the writer dies: no commit, no abort; its handles go with it
    for _ in range(3):  # as the periodic cleanup job would, a second time if the first found the object busy
        gc.collect()
        try:
            dut.store.delete(dut.key("crashed"))
        except StoreError:
            time.sleep(0.5)
            continue
        purge = getattr(dut.store, "purge_incomplete", None)
        if purge is not None:
            purge(older_than=0)
        break
    assert dut.names() == set()


def test_purge_removes_abandoned_writes_once_old_enough_and_never_committed_objects(dut: DriverUnderTest) -> None:
    kept = dut.key("kept")
    put(dut.store, kept, os.urandom(2 * dut.chunk + 5), hint=False)
    committed = dut.names()  # the object, and its segments where it has some
    pending = dut.store.begin(dut.key("crashed"), size=None)
    write(pending, os.urandom(2 * dut.chunk + 100))
    assert dut.names() - committed, "the abandoned write should have left something in the backend"
    del pending  # the writer dies: no commit, no abort
    gc.collect()
    purge = dut.store.purge_incomplete  # type: ignore[attr-defined]
    assert dut.key("crashed") not in purge(older_than=3600)  # too young: perhaps still being written
    assert dut.names() - committed
    time.sleep(1.1)  # backends keep times to the second
    deadline = time.monotonic() + 30
    while dut.names() != committed:
        assert time.monotonic() < deadline, dut.names()
        purge(older_than=1)
        time.sleep(0.2)
    assert read(dut.store, kept) and dut.store.stat(kept) == 2 * dut.chunk + 5


def test_a_concurrent_reader_never_sees_a_partial_object(dut: DriverUnderTest) -> None:
    key = dut.key("partial")
    data = os.urandom(2 * dut.chunk + 3)
    pending = dut.store.begin(key, size=len(data))
    seen: list[object] = []
    for start in range(0, len(data), dut.chunk // 2):
        pending.write(data[start:start + dut.chunk // 2])
        reader = threading.Thread(target=lambda: seen.append(_try_read(dut.store, key)))
        reader.start()
        reader.join()
    assert all(isinstance(result, StoreObjectNotFound) for result in seen), seen
    pending.commit()
    assert read(dut.store, key) == data


def _try_read(store: Store, key: str) -> object:
    try:
        return read(store, key)
    except StoreError as exc:
        return exc


def test_delete_removes_the_object_and_twice_is_fine(dut: DriverUnderTest) -> None:
    put(dut.store, dut.key("d"), os.urandom(2 * dut.chunk + 1), hint=False)
    assert dut.names() != set()
    dut.store.delete(dut.key("d"))
    dut.store.delete(dut.key("d"))
    assert dut.names() == set()
    with pytest.raises(StoreObjectNotFound):
        dut.store.stat(dut.key("d"))
    with pytest.raises(StoreObjectNotFound):
        dut.store.open(dut.key("d"))


def test_a_missing_key_is_not_found(dut: DriverUnderTest) -> None:
    with pytest.raises(StoreObjectNotFound):
        dut.store.open(dut.key("never"))
    with pytest.raises(StoreObjectNotFound):
        dut.store.stat(dut.key("never"))
    dut.store.delete(dut.key("never"))


def _unavailable_everywhere(store: Store, key: str) -> list[StoreUnavailableError]:
    """Every operation on a store that cannot be reached raises StoreUnavailableError."""
    raised = []
    for operation in (store.check, lambda: store.open(key), lambda: store.stat(key), lambda: store.delete(key),
                      lambda: _put_small(store, key)):
        with pytest.raises(StoreUnavailableError) as caught:
            operation()
        raised.append(caught.value)
    return raised


def _put_small(store: Store, key: str) -> None:
    pending = store.begin(key, size=3)
    try:
        pending.write(b"abc")
        pending.commit()
    finally:
        pending.abort()


def test_an_unreachable_backend_raises_store_unavailable(dut: DriverUnderTest) -> None:
    if dut.unreachable is None:
        pytest.skip("a local directory has no network between the driver and the data")
    for error in _unavailable_everywhere(dut.unreachable(), dut.key("x")):
        assert "127.0.0.1" not in str(error)


def test_credentials_never_show_in_errors_or_logs(dut: DriverUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    if dut.refused is None:
        pytest.skip("this driver has no credentials")
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = _unavailable_everywhere(dut.refused(), dut.key("x"))
    pending = dut.store.begin(dut.key("logged"), size=None)
    write(pending, os.urandom(dut.chunk + 1))
    pending.abort()
    put(dut.store, dut.key("logged"), b"data")
    dut.store.delete(dut.key("logged"))
    text = "\n".join([*(repr(e) + str(e) for e in errors), *(r.getMessage() for r in caplog.records)])
    for secret in dut.secrets:
        assert secret not in text


def test_a_key_with_url_characters_is_stored_under_exactly_that_name(dut: DriverUnderTest) -> None:
    key = dut.key("a b?c=d#e%2F..&multipart-manifest=get")
    put(dut.store, key, b"exact")
    assert read(dut.store, key) == b"exact"
    assert dut.names() == {key}
    dut.store.delete(key)
    assert dut.names() == set()


def test_list_keys_gives_every_committed_object_and_forgets_deleted_ones(dut: DriverUnderTest) -> None:
    """The optional listing of ``glimpse-manage orphans``: every driver we ship has it."""
    list_keys = getattr(dut.store, "list_keys")
    large = dut.chunk * 2 + 3  # written in parts or segments, listed once under its key
    put(dut.store, dut.key("one"), b"1")
    put(dut.store, dut.key("two"), os.urandom(large))
    assert {k for k in list_keys() if k.startswith(dut.prefix)} == {dut.key("one"), dut.key("two")}
    dut.store.delete(dut.key("one"))
    dut.store.delete(dut.key("two"))
    assert {k for k in list_keys() if k.startswith(dut.prefix)} == set()
