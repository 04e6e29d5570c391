"""VHD (qemu's ``vpc``): the footer (and its copy), checksums, disk type and dynamic header, as qemu reads them.

Fixed and dynamic disks are accepted; differencing disks (a parent on the host)
and parent locators are refused. The virtual size follows qemu's rule: CHS
geometry for images made by Virtual PC or old qemu, the footer's current size
otherwise.
"""

from __future__ import annotations

import struct

from glimpse.errors import ImageUnsafe
from glimpse.formats.source import ImageFile
from glimpse.formats.verdict import Verdict

FMT = "vhd"
MAGIC = b"conectix"
_DYNAMIC_MAGIC = b"cxsparse"
_FOOTER = ">8sIIQI4sI4sQQHBBII16sB"
_FIXED, _DYNAMIC, _DIFFERENCING = 2, 3, 4
_MAX_GEOMETRY = 65535 * 16 * 255
_MAX_SECTORS = 0xFF000000 * 4096 // 512  # qemu's VHD_MAX_SECTORS
_CHS_CREATORS = (b"vpc ", b"qemu")


def refuse(problem: str) -> ImageUnsafe:
    return ImageUnsafe(f"vhd: {problem}")


def checksum(block: bytes, field: int) -> int:
    """The one's complement of the byte sum of ``block`` with its 4-byte checksum at ``field`` counted as zero."""
    return ~(sum(block) - sum(block[field:field + 4])) & 0xFFFFFFFF


def has_footer(image: ImageFile) -> bool:
    return image.peek(0, 8) == MAGIC or (image.size >= 512 and image.peek(image.size - 512, 8) == MAGIC)


def inspect(image: ImageFile) -> Verdict:
    """Parse a VHD's footer (at the start, else at the end, as qemu looks) and its dynamic header."""
    at_start = image.peek(0, 8) == MAGIC
    footer = image.read(0 if at_start else image.size - 512, 512, what="footer", fmt=FMT)
    if footer[:8] != MAGIC:
        raise refuse("no 'conectix' footer at the start or the end of the file")
    _check_footer(footer, "footer")
    fields = _fields(footer)
    disk_type = int(fields[13])
    if disk_type == _DIFFERENCING:
        raise refuse("a differencing disk reads its parent from another file")
    if disk_type not in (_FIXED, _DYNAMIC):
        raise refuse(f"disk type {disk_type} is unknown (2 fixed and 3 dynamic are accepted)")
    tail = image.read(image.size - 512, 512, what="footer copy at the end", fmt=FMT)
    if tail != footer:
        raise refuse("the footer copy at the end of the file differs from the footer")
    size = virtual_size(fields)
    if disk_type == _FIXED:
        if at_start:
            raise refuse("a fixed disk has its footer at the start")
        if size + 512 > image.size:
            raise refuse(f"the fixed disk is {size} bytes but the file holds only {image.size - 512}")
        return Verdict(FMT, size)
    _check_dynamic(image, fields[3], size)
    return Verdict(FMT, size)


def _fields(footer: bytes) -> tuple[int | bytes, ...]:
    return struct.unpack_from(_FOOTER, footer)


def _check_footer(footer: bytes, what: str) -> None:
    if checksum(footer, 64) != int.from_bytes(footer[64:68], "big"):
        raise refuse(f"the {what} checksum is wrong")


def virtual_size(fields: tuple[int | bytes, ...]) -> int:
    """qemu's ``vpc`` size rule: CHS geometry for 'vpc ' and 'qemu' creators unless it is the maximum."""
    creator, current = fields[5], fields[9]
    cylinders, heads, sectors = fields[10], fields[11], fields[12]
    assert isinstance(creator, bytes) and isinstance(current, int)
    assert isinstance(cylinders, int) and isinstance(heads, int) and isinstance(sectors, int)
    chs = cylinders * heads * sectors
    if creator in _CHS_CREATORS and chs != _MAX_GEOMETRY:
        return chs * 512
    return current // 512 * 512


def _check_dynamic(image: ImageFile, offset: int | bytes, size: int) -> None:
    assert isinstance(offset, int)
    header = image.read(offset, 1024, what="dynamic disk header", fmt=FMT)
    if header[:8] != _DYNAMIC_MAGIC:
        raise refuse("the dynamic disk header has no 'cxsparse' cookie")
    if checksum(header, 36) != int.from_bytes(header[36:40], "big"):
        raise refuse("the dynamic disk header checksum is wrong")
    table_offset = int.from_bytes(header[16:24], "big")
    entries = int.from_bytes(header[28:32], "big")
    block = int.from_bytes(header[32:36], "big")
    if header[40:56].strip(b"\0") or header[64:576].strip(b"\0"):
        raise refuse("the dynamic disk header names a parent")
    for index in range(8):
        locator = header[576 + 24 * index:600 + 24 * index]
        if locator.strip(b"\0"):
            raise refuse("the dynamic disk header has a parent locator")
    if block < 512 or block & (block - 1):
        raise refuse(f"block size {block} is not a power of two of at least 512")
    if size // 512 >= _MAX_SECTORS:
        raise refuse("the virtual size is beyond what a VHD can address")
    if entries * block < size:
        raise refuse("the block allocation table is too small for the virtual size")
    table = image.read(table_offset, entries * 4, what="block allocation table", fmt=FMT)
    limit = image.size - 512
    for index in range(0, len(table), 4):
        sector = int.from_bytes(table[index:index + 4], "big")
        if sector != 0xFFFFFFFF and sector * 512 + block > limit:
            raise refuse(f"entry {index // 4} of the block allocation table points outside the file")
