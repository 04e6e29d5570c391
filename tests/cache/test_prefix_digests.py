"""A filler's file is digested as the filler reports bytes final, and still checked as a whole when the fill ends."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from glimpse.cache.verify import PrefixDigests
from glimpse.domain.images import Image, ImageStatus, Visibility

MiB = 1 << 20


def record(data: bytes, algorithm: str | None = "sha512", *, checksum: str | None = None) -> Image:
    now = dt.datetime.now(dt.timezone.utc)
    return Image(id="img-1", name="i", status=ImageStatus.ACTIVE, visibility=Visibility.PRIVATE, owner="p",
                 created_at=now, updated_at=now, disk_format="raw", container_format="bare", size=len(data),
                 checksum=checksum or hashlib.md5(data).hexdigest(), os_hash_algo=algorithm,
                 os_hash_value=hashlib.new(algorithm, data).hexdigest() if algorithm else None)


def fill(path: Path, data: bytes, reports: list[int], *, corrupt_at: int | None = None,
         image: Image | None = None) -> str | None:
    """Write ``data`` into ``path`` piece by piece, reporting each end in ``reports`` as final; the mismatch."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    prefix = PrefixDigests(fd, image or record(data))
    try:
        written = 0
        for final in [*reports, len(data)]:
            piece = bytearray(data[written:final])
            if corrupt_at is not None and written <= corrupt_at < final:
                piece[corrupt_at - written] ^= 0xFF
            os.pwrite(fd, piece, written)
            written = final
            if final in reports:
                prefix.advance(final)
        return prefix.mismatch()
    finally:
        prefix.close()
        os.close(fd)


def test_a_file_digested_as_it_grew_matches_its_record(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB + 12345)
    assert fill(tmp_path / "f", data, [1, MiB, MiB, 2 * MiB + 7]) is None


def test_a_changed_byte_is_found_in_a_reported_part_and_in_the_part_never_reported(tmp_path: Path) -> None:
    data = os.urandom(3 * MiB)
    assert fill(tmp_path / "early", data, [MiB, 2 * MiB], corrupt_at=10) == "sha512 differs from the image's os_hash_value"
    assert fill(tmp_path / "late", data, [MiB, 2 * MiB], corrupt_at=3 * MiB - 1) is not None


def test_a_record_without_a_strong_multihash_is_checked_by_md5_too(tmp_path: Path) -> None:
    data = os.urandom(2 * MiB)
    for algorithm in (None, "md5", "sha1"):
        wrong_md5 = record(data, algorithm, checksum="0" * 32)
        assert fill(tmp_path / "f", data, [MiB], image=wrong_md5) == "md5 differs from the image's checksum"
        assert fill(tmp_path / "f", data, [MiB], corrupt_at=5, image=record(data, algorithm)) is not None
        assert fill(tmp_path / "f", data, [MiB], image=record(data, algorithm)) is None


def test_a_record_with_a_strong_multihash_is_checked_by_it_alone(tmp_path: Path) -> None:
    """The md5 pass is skipped: a stale md5 does not fail the file, a changed byte still does."""
    data = os.urandom(2 * MiB)
    for algorithm in ("sha256", "sha512", "sha3_256", "blake2b"):
        assert fill(tmp_path / "f", data, [MiB], image=record(data, algorithm, checksum="0" * 32)) is None
        assert fill(tmp_path / "f", data, [MiB], corrupt_at=MiB + 3,
                    image=record(data, algorithm)) == f"{algorithm} differs from the image's os_hash_value"


def test_a_file_shorter_than_the_record_is_refused(tmp_path: Path) -> None:
    data = os.urandom(MiB)
    fd = os.open(tmp_path / "short", os.O_RDWR | os.O_CREAT, 0o600)
    prefix = PrefixDigests(fd, record(data))
    try:
        os.pwrite(fd, data[:-1], 0)
        prefix.advance(len(data))  # a report beyond the end of the file reads what is there
        assert prefix.mismatch() == f"size {len(data) - 1} instead of {len(data)}"
    finally:
        prefix.close()
        os.close(fd)
