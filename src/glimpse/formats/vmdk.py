"""VMDK: sparse (``KDMV``) and stream-optimised files, their embedded descriptor, read as qemu's ``block/vmdk.c``.

Only a disk whose every byte is in this one file is accepted: a
``monolithicSparse`` or ``streamOptimized`` sparse file. Refused: text
descriptor files (their extents are other files), VMDK3 (``COWD``) extents, a
sparse header of capacity 0 (qemu then opens its embedded descriptor as a
descriptor file, extents and all), a descriptor naming any extent other than
``SPARSE``, a parent (``parentFileNameHint``, ``parentCID`` other than
``ffffffff``) and tables outside the file.
"""

from __future__ import annotations

import re

from glimpse.errors import ImageUnsafe
from glimpse.formats.source import ImageFile
from glimpse.formats.verdict import Verdict

FMT = "vmdk"
MAGIC = b"KDMV"
COWD_MAGIC = b"COWD"
SAFE_CREATE_TYPES = ("monolithicSparse", "streamOptimized")
_HEADER = "<4sIIQQQQIQQQc4sH"
_GD_AT_END = 0xFFFFFFFFFFFFFFFF
_FLAG_RGD = 1 << 1
_FLAG_MARKERS = 1 << 17
#: qemu reads this much descriptor text at sector 1 of a sparse file for its parent and CIDs.
_DESC_SIZE = 20 * 512
_MAX_DESCRIPTOR = 1024 * 1024
#: a line qemu's ``sscanf("%10s %ld %10s \"%511[^\n\r\"]\"")`` reads as an extent
_EXTENT = re.compile(rb'^\s*(\S{1,10})\s+([+-]?\d+)\s+(\S{1,10})\s+"([^\n\r"]{1,511})"', re.M)
_VERSION_LINE = re.compile(rb"version=[123]\r?\n")


def refuse(problem: str) -> ImageUnsafe:
    return ImageUnsafe(f"vmdk: {problem}")


def is_descriptor(head: bytes) -> bool:
    """Whether qemu would probe ``head`` as a VMDK text descriptor (comments and blank lines, then ``version=``)."""
    if head.startswith(b"# Disk DescriptorFile"):
        return True
    position = 0
    while position < len(head):
        if head[position:position + 1] == b"#":
            newline = head.find(b"\n", position)
            if newline < 0:
                return False
            position = newline + 1
        elif head[position:position + 1] == b" ":
            while head[position:position + 1] == b" ":
                position += 1
            if head[position:position + 1] == b"\r":
                position += 1
            if head[position:position + 1] != b"\n":
                return False
            position += 1
        else:
            return _VERSION_LINE.match(head, position) is not None
    return False


def inspect(image: ImageFile) -> Verdict:
    """Parse a VMDK sparse file (header, footer, embedded descriptor, grain directory); refuse anything else."""
    head = image.peek(0, 4096)
    if head[:4] == COWD_MAGIC:
        raise refuse("VMDK3 (COWD) hosted sparse extents are not accepted")
    if head[:4] != MAGIC:
        if is_descriptor(head):
            raise refuse("a descriptor file refers to extents in other files; upload a monolithicSparse or "
                         "streamOptimized VMDK")
        raise refuse("the file does not start with the VMDK sparse magic")
    header = image.unpack(_HEADER, 0, what="sparse header", fmt=FMT)
    capacity, desc_offset, desc_size = header[3], header[5], header[6]
    if capacity == 0:
        raise refuse("a sparse header of capacity 0 makes qemu read its descriptor as a descriptor file")
    if header[10] == _GD_AT_END:
        header = _footer_header(image)
        capacity = header[3]
    _, version, flags, _, grain, _, _, gtes_per_gt, rgd_offset, gd_offset, _, _, _, compression = header
    if version not in (1, 2, 3):
        raise refuse(f"version {version} is not supported")
    if compression not in (0, 1):
        raise refuse(f"compression algorithm {compression} is unknown")
    if gtes_per_gt == 0 or gtes_per_gt > 512:
        raise refuse(f"{gtes_per_gt} grain table entries per table is outside 1-512")
    if grain == 0 or grain & (grain - 1) or grain > 0x200000:
        raise refuse(f"a grain of {grain} sectors is not a power of two up to 0x200000")
    if desc_offset:
        if desc_size * 512 > _MAX_DESCRIPTOR:
            raise refuse(f"the embedded descriptor is larger than {_MAX_DESCRIPTOR} bytes")
        _check_descriptor(image.read(desc_offset * 512, desc_size * 512, what="embedded descriptor", fmt=FMT))
    _check_parent_region(image)
    gd_entries = -(-capacity // (gtes_per_gt * grain))
    _check_directory(image, gd_offset, gd_entries, gtes_per_gt, "grain directory")
    if flags & _FLAG_RGD:
        _check_directory(image, rgd_offset, gd_entries, gtes_per_gt, "redundant grain directory")
    return Verdict(FMT, capacity * 512)


def _footer_header(image: ImageFile) -> tuple[int, ...]:
    """The header of a stream-optimised file's footer, checked as qemu checks it (markers around it)."""
    start = image.size - 1536
    marker_value, marker_size, marker_type = image.unpack("<QII", start, what="footer marker", fmt=FMT)
    footer = image.unpack(_HEADER, start + 512, what="footer", fmt=FMT)
    eos_value, eos_size, eos_type = image.unpack("<QII", start + 1024, what="end-of-stream marker", fmt=FMT)
    if (footer[0] != MAGIC or marker_size or marker_type != 3 or eos_value or eos_size or eos_type != 0
            or not footer[2] & _FLAG_MARKERS):
        raise refuse("the grain directory is at the end but the footer is invalid")
    if footer[10] == _GD_AT_END:
        raise refuse("the footer puts the grain directory at the end again")
    return footer


def _descriptor_text(raw: bytes) -> bytes:
    """The descriptor as qemu's C string functions see it: up to the first NUL."""
    end = raw.find(b"\0")
    return raw if end < 0 else raw[:end]


def create_type(text: bytes) -> bytes | None:
    """``createType`` as qemu's ``vmdk_parse_description`` reads it: first occurrence, two characters skipped."""
    position = text.find(b"createType")
    if position < 0:
        return None
    start = position + len(b"createType") + 2
    end = text.find(b'"', start)
    return None if start >= len(text) or end < 0 else text[start:end]


def _check_descriptor(raw: bytes) -> None:
    text = _descriptor_text(raw)
    kind = create_type(text)
    if kind is None:
        raise refuse("the embedded descriptor has no createType")
    if kind.decode("latin-1") not in SAFE_CREATE_TYPES:
        raise refuse(f"createType {kind.decode('latin-1')!r} is not accepted (only "
                     f"{' and '.join(SAFE_CREATE_TYPES)} keep all data in one file)")
    for match in _EXTENT.finditer(text):
        if match.group(3) != b"SPARSE":
            raise refuse(f"the descriptor names a {match.group(3).decode('latin-1')} extent "
                         f"{match.group(4).decode('latin-1')!r}; only the file's own SPARSE extent is accepted")
    _check_parent(text, "the embedded descriptor")


def _check_parent_region(image: ImageFile) -> None:
    """qemu looks for a parent in the descriptor text at sector 1, whatever the header says."""
    region = image.peek(512, _DESC_SIZE)
    if b"parentFileNameHint" in region:
        raise refuse("the descriptor names a parent (parentFileNameHint)")
    _check_parent(_descriptor_text(region), "the descriptor at sector 1")


def _check_parent(text: bytes, where: str) -> None:
    if b"parentFileNameHint" in text:
        raise refuse(f"{where} names a parent (parentFileNameHint)")
    position = text.find(b"parentCID")
    if position < 0:
        return
    value = re.match(rb"\s*(?:0[xX])?([0-9a-fA-F]+)", text[position + len(b"parentCID="):])
    if value is None or int(value.group(1)[-16:], 16) != 0xFFFFFFFF:
        raise refuse(f"{where} names a parent (parentCID is not ffffffff)")


def _check_directory(image: ImageFile, offset: int, entries: int, gtes_per_gt: int, what: str) -> None:
    if entries > 512 * 1024 * 1024 // 4:
        raise refuse(f"the {what} is larger than qemu allows")
    table = image.read(offset * 512, entries * 4, what=what, fmt=FMT)
    for index in range(0, len(table), 4):
        sector = int.from_bytes(table[index:index + 4], "little")
        if sector and sector * 512 + gtes_per_gt * 4 > image.size:
            raise refuse(f"entry {index // 4} of the {what} points outside the file")
