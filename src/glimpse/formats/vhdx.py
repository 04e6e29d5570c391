"""VHDX: file identifier, both headers, the region table and the metadata region, with their CRC-32C checksums.

Refused: a log that needs replaying (qemu would write to the image), unknown
required regions or metadata items, a differencing disk (``has parent``) or a
parent locator, and a block allocation table outside the file or too small
for the virtual size.
"""

from __future__ import annotations

import struct
import uuid

from glimpse.errors import ImageUnsafe
from glimpse.formats.crc32c import crc32c
from glimpse.formats.source import ImageFile
from glimpse.formats.verdict import Verdict

FMT = "vhdx"
MAGIC = b"vhdxfile"
KiB, MiB = 1024, 1024 * 1024
_BAT = uuid.UUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
_METADATA = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
_FILE_PARAMETERS = uuid.UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
_VIRTUAL_DISK_SIZE = uuid.UUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
_PAGE83 = uuid.UUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
_LOGICAL_SECTOR = uuid.UUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
_PHYSICAL_SECTOR = uuid.UUID("CDA348C7-445D-4471-9CC9-E9885251C556")
_PARENT_LOCATOR = uuid.UUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
_KNOWN_ITEMS = {_FILE_PARAMETERS, _VIRTUAL_DISK_SIZE, _PAGE83, _LOGICAL_SECTOR, _PHYSICAL_SECTOR}
_MAX_SIZE = 64 * 1024 ** 4


def refuse(problem: str) -> ImageUnsafe:
    return ImageUnsafe(f"vhdx: {problem}")


def _checked(block: bytes, what: str) -> bool:
    stored = int.from_bytes(block[4:8], "little")
    return crc32c(block[:4] + b"\0\0\0\0" + block[8:]) == stored


def inspect(image: ImageFile) -> Verdict:
    """Parse a VHDX's headers, region table and metadata; return its virtual size or refuse it."""
    if image.read(0, 8, what="file identifier", fmt=FMT) != MAGIC:
        raise refuse("the file does not start with 'vhdxfile'")
    _check_headers(image)
    regions = _regions(image)
    if _METADATA not in regions or _BAT not in regions:
        raise refuse("the region table lacks the metadata or block allocation table region")
    size, block, logical = _metadata(image, *regions[_METADATA])
    _check_bat(image, *regions[_BAT], size=size, block=block, logical=logical)
    return Verdict(FMT, size)


def _check_headers(image: ImageFile) -> None:
    best: tuple[int, bytes] | None = None
    for offset in (64 * KiB, 128 * KiB):
        block = image.read(offset, 4 * KiB, what="header", fmt=FMT)
        if block[:4] == b"head" and _checked(block, "header"):
            sequence = int.from_bytes(block[8:16], "little")
            if best is None or sequence > best[0]:
                best = (sequence, block)
    if best is None:
        raise refuse("neither header has a valid signature and checksum")
    header = best[1]
    if header[48:64].strip(b"\0"):
        raise refuse("the log holds entries that would have to be replayed into the image")
    (version,) = struct.unpack_from("<H", header, 66)
    if version != 1:
        raise refuse(f"header version {version} is unknown")


def _regions(image: ImageFile) -> dict[uuid.UUID, tuple[int, int]]:
    table = image.read(192 * KiB, 64 * KiB, what="region table", fmt=FMT)
    if table[:4] != b"regi" or not _checked(table, "region table"):
        raise refuse("the region table has a bad signature or checksum")
    (count,) = struct.unpack_from("<I", table, 8)
    if count > 2047:
        raise refuse(f"the region table has {count} entries, more than 2047")
    regions: dict[uuid.UUID, tuple[int, int]] = {}
    for index in range(count):
        guid = uuid.UUID(bytes_le=table[16 + 32 * index:32 + 32 * index])
        offset, length, required = struct.unpack_from("<QII", table, 32 + 32 * index)
        if guid not in (_BAT, _METADATA):
            if required & 1:
                raise refuse(f"the region table has an unknown required region {guid}")
            continue
        if guid in regions:
            raise refuse(f"region {guid} appears twice")
        if offset % MiB or offset < MiB or length % MiB or offset + length > image.size:
            raise refuse(f"region {guid} (bytes {offset}-{offset + length}) is misaligned or outside the file")
        regions[guid] = (offset, length)
    return regions


def _metadata(image: ImageFile, offset: int, length: int) -> tuple[int, int, int]:
    table = image.read(offset, 64 * KiB, what="metadata table", fmt=FMT)
    if table[:8] != b"metadata":
        raise refuse("the metadata region has no 'metadata' signature")
    (count,) = struct.unpack_from("<H", table, 10)
    if count > 2047:
        raise refuse(f"the metadata table has {count} entries, more than 2047")
    items: dict[uuid.UUID, bytes] = {}
    for index in range(count):
        entry = table[32 + 32 * index:64 + 32 * index]
        guid = uuid.UUID(bytes_le=entry[:16])
        item_offset, item_length, flags = struct.unpack_from("<III", entry, 16)
        if guid == _PARENT_LOCATOR:
            raise refuse("the metadata has a parent locator: a differencing disk reads another file")
        if guid not in _KNOWN_ITEMS:
            if flags & 0b100:
                raise refuse(f"the metadata has an unknown required item {guid}")
            continue
        if guid in items:
            raise refuse(f"metadata item {guid} appears twice")
        if item_offset < 64 * KiB or item_offset + item_length > length:
            raise refuse(f"metadata item {guid} lies outside the metadata region")
        items[guid] = image.read(offset + item_offset, item_length, what=f"metadata item {guid}", fmt=FMT)
    missing = [str(guid) for guid in _KNOWN_ITEMS if guid not in items]
    if missing:
        raise refuse(f"required metadata item(s) {', '.join(missing)} are missing")
    block, bits = struct.unpack("<II", items[_FILE_PARAMETERS][:8])
    if bits & 0b10:
        raise refuse("the file parameters mark a differencing disk (has parent)")
    if block < MiB or block > 256 * MiB or block & (block - 1):
        raise refuse(f"block size {block} is not a power of two between 1 MiB and 256 MiB")
    (size,) = struct.unpack("<Q", items[_VIRTUAL_DISK_SIZE][:8])
    (logical,) = struct.unpack("<I", items[_LOGICAL_SECTOR][:4])
    (physical,) = struct.unpack("<I", items[_PHYSICAL_SECTOR][:4])
    if logical not in (512, 4096) or physical not in (512, 4096):
        raise refuse("sector sizes must be 512 or 4096")
    if size % logical or size > _MAX_SIZE:
        raise refuse(f"virtual size {size} is not a multiple of the sector size or above 64 TiB")
    return size, block, logical


def _check_bat(image: ImageFile, offset: int, length: int, *, size: int, block: int, logical: int) -> None:
    chunk_ratio = (1 << 23) * logical // block
    blocks = -(-size // block)
    entries = blocks + (blocks - 1) // chunk_ratio if blocks else 0
    if entries * 8 > length:
        raise refuse("the block allocation table is too small for the virtual size")
    table = image.read(offset, entries * 8, what="block allocation table", fmt=FMT)
    for index in range(0, len(table), 8):
        entry = int.from_bytes(table[index:index + 8], "little")
        state, where = entry & 0b111, (entry >> 20) * MiB
        is_bitmap = (index // 8) % (chunk_ratio + 1) == chunk_ratio
        if state in (6, 7) and not is_bitmap and where + block > image.size:
            raise refuse(f"entry {index // 8} of the block allocation table points outside the file")
        if is_bitmap and state == 6:
            raise refuse("the block allocation table has a sector bitmap, which only differencing disks use")
