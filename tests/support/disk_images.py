"""Disk images built at test time: benign ones made by ``qemu-img``, hostile ones patched from them.

No image is kept in the repository. Each builder writes into a directory and
returns the path; ``qemu-img`` missing makes :func:`require_qemu_img` skip.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

MiB = 1024 * 1024


def require_qemu_img() -> str:
    found = shutil.which("qemu-img")
    if found is None:
        pytest.skip("qemu-img is not installed (Debian: qemu-utils; CI installs it with .ci/qemu.sh)")
    return found


def qemu_img(*args: str) -> None:
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


def created(directory: Path, name: str, fmt: str, size: str, *options: str) -> Path:
    path = directory / name
    qemu_img("create", "-q", "-f", fmt, *(["-o", ",".join(options)] if options else []), str(path), size)
    return path


def converted(directory: Path, name: str, fmt: str, *options: str, compress: bool = False) -> Path:
    """A small raw disk with some data, converted to ``fmt``."""
    source = raw_with_data(directory, name + ".src")
    path = directory / name
    qemu_img("convert", *(["-c"] if compress else []), "-O", fmt, *(["-o", ",".join(options)] if options else []),
             str(source), str(path))
    source.unlink()
    return path


def raw_with_data(directory: Path, name: str, size: int = 4 * MiB) -> Path:
    path = directory / name
    with open(path, "wb") as out:
        out.truncate(size)
        for offset in range(0, size, MiB):
            out.seek(offset + 4096)
            out.write(b"glimpse test data " * 100)
    return path


def patched(source: Path, name: str, changes: dict[int, bytes]) -> Path:
    """A copy of ``source`` with the bytes at each offset replaced."""
    path = source.with_name(name)
    shutil.copyfile(source, path)
    with open(path, "r+b") as out:
        for offset, data in changes.items():
            out.seek(offset if offset >= 0 else path.stat().st_size + offset)
            out.write(data)
    return path


def read(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset if offset >= 0 else path.stat().st_size + offset)
        return handle.read(length)


def appended(source: Path, name: str, data: bytes) -> Path:
    path = source.with_name(name)
    shutil.copyfile(source, path)
    with open(path, "ab") as out:
        out.write(data)
    return path


def vhd_checksum(footer: bytes, field: int) -> bytes:
    total = sum(footer) - sum(footer[field:field + 4])
    return struct.pack(">I", ~total & 0xFFFFFFFF)


def vhd_with_footer_change(source: Path, name: str, offset: int, data: bytes, *, fix_checksum: bool = True) -> Path:
    """``source`` (a VHD) with ``data`` at ``offset`` of its footer, in both copies, checksum recomputed."""
    footer = bytearray(read(source, -512, 512))
    footer[offset:offset + len(data)] = data
    if fix_checksum:
        footer[64:68] = vhd_checksum(bytes(footer), 64)
    changes = {-512: bytes(footer)}
    if read(source, 0, 8) == b"conectix":
        changes[0] = bytes(footer)
    return patched(source, name, changes)


def iso_volume(directory: Path, name: str, *, blocks: int = 64, system_area: bytes = b"") -> Path:
    """A minimal ISO 9660 volume: a primary volume descriptor and a terminator, ``blocks`` of 2048 bytes."""
    path = directory / name
    pvd = bytearray(2048)
    pvd[0:7] = b"\x01CD001\x01"
    pvd[80:88] = struct.pack("<I", blocks) + struct.pack(">I", blocks)
    pvd[128:132] = struct.pack("<H", 2048) + struct.pack(">H", 2048)
    terminator = b"\xffCD001\x01" + bytes(2041)
    with open(path, "wb") as out:
        out.truncate(blocks * 2048)
        out.write(system_area)
        out.seek(0x8000)
        out.write(bytes(pvd) + terminator)
    return path


Builder = Callable[[Path], Path]
