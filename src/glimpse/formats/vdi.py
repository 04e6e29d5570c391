"""VDI (VirtualBox): the header as qemu's ``block/vdi.c`` checks it; static and dynamic disks only.

Refused: undo and differencing disks, a link or parent UUID (another file),
and a block map or data area that does not fit the file.
"""

from __future__ import annotations

from glimpse.errors import ImageUnsafe
from glimpse.formats.source import ImageFile
from glimpse.formats.verdict import Verdict

FMT = "vdi"
SIGNATURE = b"\x7f\x10\xda\xbe"
_DYNAMIC, _STATIC = 1, 2
_BLOCK = 1024 * 1024
_MAX_BLOCKS = 0x3FFFFFFF  # qemu's VDI_BLOCKS_IN_IMAGE_MAX
_UNALLOCATED = 0xFFFFFFFF


def refuse(problem: str) -> ImageUnsafe:
    return ImageUnsafe(f"vdi: {problem}")


def inspect(image: ImageFile) -> Verdict:
    """Parse a VDI header and block map; return its virtual size or refuse it."""
    header = image.read(0, 512, what="header", fmt=FMT)
    if header[0x40:0x44] != SIGNATURE:
        raise refuse("the header has no VDI signature")
    version, header_size, kind = (int.from_bytes(header[o:o + 4], "little") for o in (0x44, 0x48, 0x4C))
    bmap, data, sector = (int.from_bytes(header[o:o + 4], "little") for o in (0x154, 0x158, 0x168))
    disk_size = int.from_bytes(header[0x170:0x178], "little")
    block, extra, blocks = (int.from_bytes(header[o:o + 4], "little") for o in (0x178, 0x17C, 0x180))
    if version != 0x00010001 or header_size < 0x180:
        raise refuse(f"version 0x{version:08x} with a {header_size}-byte header is not supported")
    if kind not in (_DYNAMIC, _STATIC):
        raise refuse(f"image type {kind} (undo or differencing) reads other files")
    if header[0x1A8:0x1B8].strip(b"\0") or header[0x1B8:0x1C8].strip(b"\0"):
        raise refuse("the header names a link or parent image")
    if bmap % 512 or data % 512 or sector != 512 or block != _BLOCK or extra:
        raise refuse("the block map, data offset, sector or block size is not what qemu supports")
    if blocks > _MAX_BLOCKS or disk_size > blocks * block:
        raise refuse(f"a disk of {disk_size} bytes does not fit {blocks} blocks")
    map_bytes = blocks * 4
    if data < bmap + -(-map_bytes // 512) * 512:
        raise refuse("the block map overlaps the data area")
    table = image.read(bmap, map_bytes, what="block map", fmt=FMT)
    for index in range(0, len(table), 4):
        where = int.from_bytes(table[index:index + 4], "little")
        if where < _UNALLOCATED - 1 and (where >= blocks or data + (where + 1) * block > image.size):
            raise refuse(f"entry {index // 4} of the block map points outside the file")
    if kind == _STATIC and data + blocks * block > image.size:
        raise refuse("the static disk is larger than the file")
    return Verdict(FMT, -(-disk_size // 512) * 512)
