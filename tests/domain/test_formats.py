"""Disk format inspection from the head and tail of an image."""

from __future__ import annotations

import struct

import pytest

from glimpse.domain import formats
from glimpse.errors import ImageFormatMismatch


def qcow2(virtual: int, *, backing: bool = False, data_file: bool = False) -> bytes:
    head = bytearray(512)
    head[:4] = b"QFI\xfb"
    struct.pack_into(">IQ", head, 4, 3, 4096 if backing else 0)
    struct.pack_into(">Q", head, 24, virtual)
    struct.pack_into(">Q", head, 72, 0b100 if data_file else 0)
    return bytes(head)


def vmdk(capacity_sectors: int, create_type: bytes) -> bytes:
    head = bytearray(2048)
    head[:4] = b"KDMV"
    struct.pack_into("<QQQQ", head, 12, capacity_sectors, 128, 1, 2)
    descriptor = b'# Disk DescriptorFile\ncreateType="' + create_type + b'"\n'
    head[512:512 + len(descriptor)] = descriptor
    return bytes(head)


def vhd_footer(size: int) -> bytes:
    footer = bytearray(512)
    footer[:8] = b"conectix"
    struct.pack_into(">Q", footer, 48, size)
    return bytes(footer)


def vdi(size: int) -> bytes:
    head = bytearray(0x200)
    head[0x40:0x44] = b"\x7f\x10\xda\xbe"
    struct.pack_into("<Q", head, 0x170, size)
    return bytes(head)


def iso(blocks: int) -> bytes:
    head = bytearray(0x8800)
    head[0x8001:0x8006] = b"CD001"
    struct.pack_into("<I", head, 0x8050, blocks)
    struct.pack_into("<H", head, 0x8080, 2048)
    return bytes(head)


@pytest.mark.parametrize("head,tail,expected,virtual", [
    (qcow2(1 << 30), b"", "qcow2", 1 << 30),
    (vmdk(2048, b"monolithicSparse"), b"", "vmdk", 2048 * 512),
    (b"\0" * 1024, vhd_footer(5 << 20), "vhd", 5 << 20),
    (vdi(7 << 20), b"", "vdi", 7 << 20),
    (iso(100), b"", "iso", 100 * 2048),
    (b"vhdxfile" + bytes(100), b"", "vhdx", None),
    (b"random bytes", b"", "raw", 12),
])
def test_detection(head: bytes, tail: bytes, expected: str, virtual: int | None) -> None:
    size = len(head) if expected == "raw" else 10 << 20
    found = formats.detect(head, tail, size)
    assert (found.format, found.virtual_size, found.unsafe) == (expected, virtual, None)


def test_unsafe_images() -> None:
    assert formats.detect(qcow2(1, backing=True), b"", 1).unsafe
    assert formats.detect(qcow2(1, data_file=True), b"", 1).unsafe
    assert formats.detect(vmdk(1, b"monolithicFlat"), b"", 1).unsafe
    assert formats.detect(b'# Disk DescriptorFile\nRW 10 FLAT "other.vmdk"', b"", 1).unsafe


def test_check_rules() -> None:
    raw = formats.detect(b"plain", b"", 5)
    q = formats.detect(qcow2(99), b"", 512)
    assert formats.check("raw", "bare", raw) == 5
    assert formats.check("raw", "bare", q) is None
    assert formats.check("qcow2", "bare", q) == 99
    assert formats.check("ami", "bare", raw) == 5
    assert formats.check("ploop", "bare", q) is None
    assert formats.check("qcow2", "ovf", raw) is None
    with pytest.raises(ImageFormatMismatch):
        formats.check("qcow2", "bare", raw)
    with pytest.raises(ImageFormatMismatch):
        formats.check("aki", "bare", q)
    with pytest.raises(ImageFormatMismatch):
        formats.check("qcow2", "bare", formats.detect(qcow2(1, backing=True), b"", 1))
