"""Which disk image formats a file's bytes announce, wherever qemu would look for them.

A ``raw`` (or ``iso``, ``aki``, ...) upload must announce none of them: qemu
told to probe, or a later conversion, would otherwise read it as that format.
Partition tables, filesystems and LUKS are not image formats and stay raw.
"""

from __future__ import annotations

from glimpse.formats import qcow2, vdi, vhd, vhdx, vmdk
from glimpse.formats.source import ImageFile

QED_MAGIC = b"QED\0"
_AT_START: tuple[tuple[bytes, str], ...] = (
    (qcow2.MAGIC, "qcow2"), (QED_MAGIC, "qed"), (vmdk.MAGIC, "vmdk"), (vmdk.COWD_MAGIC, "vmdk"),
    (vhd.MAGIC, "vhd"), (vhdx.MAGIC, "vhdx"), (b"Bochs Virtual HD Image", "bochs"),
    (b"WithoutFreeSpace", "ploop"), (b"WithouFreSpacExt", "ploop"),
    (b"#!/bin/sh\n#V2.0 Format\nmodprobe cloop", "cloop"),
)


def announced(image: ImageFile) -> list[str]:
    """Every image format the file's bytes announce (by qemu's probes); empty for plain data.

    More than one means a polyglot: a file that different readers read differently.
    """
    head = image.peek(0, 4096)
    found = [name for magic, name in _AT_START if head.startswith(magic)]
    if head[0x40:0x44] == vdi.SIGNATURE:
        found.append("vdi")
    if vmdk.is_descriptor(head):
        found.append("vmdk")
    if image.size >= 512:
        tail = image.peek(image.size - 512, 512)
        if tail.startswith(vhd.MAGIC) and "vhd" not in found:
            found.append("vhd")
        if tail.startswith(b"koly"):
            found.append("dmg")
    return found


def is_iso(image: ImageFile) -> bool:
    """An ISO 9660 or UDF volume recognition sequence at 32 KiB."""
    return image.peek(0x8001, 5) in (b"CD001", b"BEA01", b"NSR02", b"NSR03")


def is_luks(image: ImageFile) -> bool:
    return image.peek(0, 6) == b"LUKS\xba\xbe"
