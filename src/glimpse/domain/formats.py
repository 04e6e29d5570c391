"""Disk image format inspection: what the uploaded bytes really are.

Only the first :data:`HEAD_SIZE` bytes and the last 512 bytes of the data are
looked at, so inspection runs while the image streams past. Detection gives
the format, its virtual size where the header records one, and a reason when
the image is unsafe to hand to a hypervisor (a qcow2 backing or data file, a
VMDK that points at other files).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from glimpse.errors import ImageFormatMismatch

HEAD_SIZE = 64 * 1024
TAIL_SIZE = 512
#: Formats whose signature we recognise; anything else is ``raw``.
INSPECTABLE = frozenset({"qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "raw"})
#: Formats with no signature of their own: their data must look raw.
OPAQUE = frozenset({"ami", "ari", "aki"})
_VMDK_SAFE_TYPES = (b"monolithicSparse", b"streamOptimized")


@dataclass(frozen=True)
class Detection:
    format: str
    virtual_size: int | None = None
    unsafe: str | None = None


def detect(head: bytes, tail: bytes, size: int) -> Detection:
    """Identify the format of an image of ``size`` bytes from its head and tail."""
    for probe in (_qcow2, _vmdk, _vhdx, _vdi, _vhd, _iso):
        found = probe(head, tail)
        if found is not None:
            return found
    return Detection("raw", virtual_size=size)


def check(declared: str | None, container: str | None, found: Detection) -> int | None:
    """Refuse data that does not match ``declared``; return the virtual size to record.

    Only ``bare`` containers are inspected: other containers wrap the disk. Raises
    :class:`ImageFormatMismatch` for a mismatch or an unsafe image.
    """
    if container != "bare" or declared is None:
        return found.virtual_size if found.format == declared else None
    if declared == "raw" or declared not in INSPECTABLE | OPAQUE:
        return found.virtual_size if found.format == "raw" else None
    expected = "raw" if declared in OPAQUE else declared
    if found.format != expected:
        raise ImageFormatMismatch(
            f"Image data does not match disk_format '{declared}': it looks like '{found.format}'. "
            "Set the disk_format the data really has."
        )
    if found.unsafe:
        raise ImageFormatMismatch(f"Image data is not safe to use: {found.unsafe}.")
    return found.virtual_size


def _qcow2(head: bytes, _tail: bytes) -> Detection | None:
    if len(head) < 32 or head[:4] != b"QFI\xfb":
        return None
    version, backing_offset = struct.unpack_from(">IQ", head, 4)
    (virtual,) = struct.unpack_from(">Q", head, 24)
    unsafe = None
    if backing_offset:
        unsafe = "the qcow2 image names a backing file"
    elif version >= 3 and len(head) >= 80:
        (incompatible,) = struct.unpack_from(">Q", head, 72)
        if incompatible & 0b100:
            unsafe = "the qcow2 image uses an external data file"
    return Detection("qcow2", virtual_size=virtual, unsafe=unsafe)


def _vmdk(head: bytes, _tail: bytes) -> Detection | None:
    if head[:4] == b"KDMV" and len(head) >= 44:
        capacity, _grain, descriptor_sector, descriptor_sectors = struct.unpack_from("<QQQQ", head, 12)
        start, end = descriptor_sector * 512, (descriptor_sector + descriptor_sectors) * 512
        descriptor = head[start:end] if descriptor_sector else b""
        unsafe = None
        if descriptor and not any(b'createType="' + t + b'"' in descriptor for t in _VMDK_SAFE_TYPES):
            unsafe = "the VMDK is not a monolithicSparse or streamOptimized disk"
        return Detection("vmdk", virtual_size=capacity * 512, unsafe=unsafe)
    if head.startswith(b"# Disk DescriptorFile"):
        return Detection("vmdk", unsafe="a VMDK descriptor refers to data in other files")
    return None


def _vhdx(head: bytes, _tail: bytes) -> Detection | None:
    return Detection("vhdx") if head[:8] == b"vhdxfile" else None


def _vdi(head: bytes, _tail: bytes) -> Detection | None:
    if len(head) < 0x178 or head[0x40:0x44] != b"\x7f\x10\xda\xbe":
        return None
    (virtual,) = struct.unpack_from("<Q", head, 0x170)
    return Detection("vdi", virtual_size=virtual)


def _vhd(head: bytes, tail: bytes) -> Detection | None:
    for footer in (head[:512], tail[-512:]):
        if len(footer) >= 56 and footer[:8] == b"conectix":
            (virtual,) = struct.unpack_from(">Q", footer, 48)
            return Detection("vhd", virtual_size=virtual)
    return None


def _iso(head: bytes, _tail: bytes) -> Detection | None:
    if len(head) < 0x8082 or head[0x8001:0x8006] != b"CD001":
        return None
    (blocks,) = struct.unpack_from("<I", head, 0x8050)
    (block_size,) = struct.unpack_from("<H", head, 0x8080)
    return Detection("iso", virtual_size=blocks * block_size)
