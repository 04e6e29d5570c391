"""qcow2 (versions 2 and 3): the whole metadata structure, as qemu's ``block/qcow2.c`` reads it.

Refused: a backing file (name or format extension), an external data file
(feature bit, autoclear bit or name extension), any feature bit or header
extension we do not know, AES encryption, and tables (L1, refcount,
snapshots and their L1 tables) that lie outside the file or are too small for
the virtual size.
"""

from __future__ import annotations

from glimpse.errors import ImageUnsafe
from glimpse.formats.source import ImageFile
from glimpse.formats.verdict import Verdict

MAGIC = b"QFI\xfb"
FMT = "qcow2"

_INCOMPATIBLE = {0: "dirty", 1: "corrupt", 2: "external data file", 3: "compression type", 4: "extended L2"}
_COMPATIBLE = {0: "lazy refcounts"}
_AUTOCLEAR = {0: "bitmaps", 1: "raw external data"}

_EXT_END = 0
_EXT_BACKING_FORMAT = 0xE2792ACA
_EXT_FEATURE_NAMES = 0x6803F857
_EXT_BITMAPS = 0x23852875
_EXT_ENCRYPTION = 0x0537BE77
_EXT_DATA_FILE = 0x44415441
_KNOWN_EXTENSIONS = {_EXT_FEATURE_NAMES: "feature name table", _EXT_BITMAPS: "bitmaps",
                     _EXT_ENCRYPTION: "full disk encryption header"}

_MAX_L1_BYTES = 32 * 1024 * 1024  # qemu's QCOW_MAX_L1_SIZE
_MAX_REFTABLE_BYTES = 8 * 1024 * 1024  # qemu's QCOW_MAX_REFTABLE_SIZE
_MAX_SNAPSHOTS = 65536
_OFFSET_MASK = 0x00FFFFFFFFFFFE00


def refuse(problem: str) -> ImageUnsafe:
    return ImageUnsafe(f"qcow2: {problem}")


def inspect(image: ImageFile) -> Verdict:
    """Parse the header, extensions and tables of a qcow2 file; raise :class:`ImageUnsafe` or return its verdict."""
    (magic, version, backing_offset, backing_size, cluster_bits, size, crypt, l1_size, l1_offset,
     refcount_offset, refcount_clusters, nb_snapshots, snapshots_offset) = image.unpack(
        ">4sIQIIQIIQQIIQ", 0, what="header", fmt=FMT)
    if magic != MAGIC:
        raise refuse("the file does not start with the qcow2 magic")
    if version not in (2, 3):
        raise refuse(f"version {version} is not supported (only 2 and 3)")
    if backing_offset or backing_size:
        raise refuse("the image names a backing file; only self-contained images are accepted")
    if not 9 <= cluster_bits <= 21:
        raise refuse(f"cluster_bits {cluster_bits} is outside 9-21")
    cluster = 1 << cluster_bits
    header_length, compression_type, incompatible = 72, 0, 0
    if version == 3:
        incompatible, compatible, autoclear, refcount_order, header_length = image.unpack(
            ">QQQII", 72, what="version 3 header", fmt=FMT)
        _check_features(incompatible, compatible, autoclear)
        if refcount_order > 6:
            raise refuse(f"refcount_order {refcount_order} is above 6")
        if header_length < 104 or header_length % 8 or header_length > cluster:
            raise refuse(f"header_length {header_length} is not a multiple of 8 between 104 and the cluster size")
        if header_length > 104:
            (compression_type,) = image.unpack(">B", 104, what="compression type", fmt=FMT)
    if incompatible & (1 << 3):
        if compression_type not in (0, 1):
            raise refuse(f"compression type {compression_type} is unknown (zlib 0 and zstd 1 are)")
    elif compression_type != 0:
        raise refuse("a compression type is set without its incompatible feature bit")
    if crypt == 1:
        raise refuse("AES encryption (crypt_method 1) is insecure and refused")
    if crypt not in (0, 2):
        raise refuse(f"crypt_method {crypt} is unknown")
    extensions = _read_extensions(image, header_length, cluster)
    if crypt == 2 and _EXT_ENCRYPTION not in extensions:
        raise refuse("LUKS encryption is declared without its encryption header extension")
    if crypt == 0 and _EXT_ENCRYPTION in extensions:
        raise refuse("an encryption header extension is present in an unencrypted image")
    if version == 2 and _EXT_BITMAPS in extensions:
        raise refuse("a bitmaps extension is present in a version 2 image")
    entry_bytes = 16 if incompatible & (1 << 4) else 8
    if entry_bytes == 16 and cluster_bits < 14:
        raise refuse("extended L2 entries need clusters of at least 16 KiB")
    _check_l1(image, l1_offset, l1_size, size, cluster, entry_bytes, what="L1 table")
    _check_table(image, refcount_offset, refcount_clusters * cluster, cluster, "refcount table",
                 _MAX_REFTABLE_BYTES)
    if refcount_clusters == 0:
        raise refuse("the refcount table is empty")
    _check_snapshots(image, snapshots_offset, nb_snapshots, cluster, entry_bytes)
    return Verdict(FMT, size)


def _check_features(incompatible: int, compatible: int, autoclear: int) -> None:
    for bits, known, kind in ((incompatible, _INCOMPATIBLE, "incompatible"), (compatible, _COMPATIBLE, "compatible"),
                              (autoclear, _AUTOCLEAR, "autoclear")):
        unknown = [bit for bit in range(64) if bits >> bit & 1 and bit not in known]
        if unknown:
            raise refuse(f"unknown {kind} feature bit(s) {', '.join(map(str, unknown))}")
    if incompatible & (1 << 2) or autoclear & (1 << 1):
        raise refuse("the image uses an external data file; only self-contained images are accepted")
    if incompatible & (1 << 1):
        raise refuse("the image is marked corrupt")


def _read_extensions(image: ImageFile, start: int, cluster: int) -> dict[int, bytes]:
    """The header extensions between the header and the end of the first cluster, by type."""
    found: dict[int, bytes] = {}
    offset = start
    end = min(cluster, image.size)
    while True:
        if offset + 8 > end:
            raise refuse("the header extensions run past the first cluster without an end marker")
        kind, length = image.unpack(">II", offset, what="header extension", fmt=FMT)
        if kind == _EXT_END:
            return found
        if kind == _EXT_BACKING_FORMAT:
            raise refuse("the image names a backing file format; only self-contained images are accepted")
        if kind == _EXT_DATA_FILE:
            raise refuse("the image names an external data file; only self-contained images are accepted")
        if kind not in _KNOWN_EXTENSIONS:
            raise refuse(f"unknown header extension 0x{kind:08x}")
        if kind in found:
            raise refuse(f"the {_KNOWN_EXTENSIONS[kind]} extension appears twice")
        padded = (length + 7) & ~7
        if offset + 8 + padded > end:
            raise refuse(f"the {_KNOWN_EXTENSIONS[kind]} extension runs past the first cluster")
        found[kind] = image.read(offset + 8, length, what=_KNOWN_EXTENSIONS[kind], fmt=FMT)
        if kind == _EXT_BITMAPS:
            _check_bitmaps(image, found[kind], cluster)
        if kind == _EXT_ENCRYPTION:
            _check_encryption(image, found[kind], cluster)
        offset += 8 + padded


def _check_bitmaps(image: ImageFile, data: bytes, cluster: int) -> None:
    if len(data) != 24:
        raise refuse("the bitmaps extension is not 24 bytes long")
    count = int.from_bytes(data[0:4], "big")
    size = int.from_bytes(data[8:16], "big")
    offset = int.from_bytes(data[16:24], "big")
    if count == 0 or count > 65535 or size == 0 or size > 64 * 1024 * 1024:
        raise refuse("the bitmaps extension has an impossible bitmap count or directory size")
    _check_table(image, offset, size, cluster, "bitmap directory", 64 * 1024 * 1024)


def _check_encryption(image: ImageFile, data: bytes, cluster: int) -> None:
    if len(data) != 16:
        raise refuse("the encryption header extension is not 16 bytes long")
    offset = int.from_bytes(data[0:8], "big")
    length = int.from_bytes(data[8:16], "big")
    _check_table(image, offset, length, cluster, "LUKS header", 64 * 1024 * 1024)
    if image.read(offset, 6, what="LUKS header", fmt=FMT) != b"LUKS\xba\xbe":
        raise refuse("the encryption header extension does not point at a LUKS header")


def _check_table(image: ImageFile, offset: int, length: int, cluster: int, what: str, limit: int) -> None:
    if offset % cluster:
        raise refuse(f"the {what} at offset {offset} is not cluster aligned")
    if length > limit:
        raise refuse(f"the {what} is {length} bytes, more than the {limit} qemu allows")
    if offset == 0 and length:
        raise refuse(f"the {what} overlaps the header")
    if offset + length > image.size:
        raise refuse(f"the {what} (bytes {offset}-{offset + length}) lies outside the {image.size}-byte file")


def _check_l1(image: ImageFile, offset: int, entries: int, size: int, cluster: int, entry_bytes: int, *,
              what: str) -> None:
    per_l2 = cluster // entry_bytes
    needed = -(-size // (cluster * per_l2))
    if entries < needed:
        raise refuse(f"the {what} has {entries} entries, fewer than the {needed} a virtual size of {size} needs")
    _check_table(image, offset, entries * 8, cluster, what, _MAX_L1_BYTES)
    table = image.read(offset, entries * 8, what=what, fmt=FMT) if entries else b""
    for index in range(0, len(table), 8):
        pointer = int.from_bytes(table[index:index + 8], "big") & _OFFSET_MASK
        if pointer and (pointer % cluster or pointer + cluster > image.size):
            raise refuse(f"entry {index // 8} of the {what} points at offset {pointer}, outside the file "
                         "or not cluster aligned")


def _check_snapshots(image: ImageFile, offset: int, count: int, cluster: int, entry_bytes: int) -> None:
    if count > _MAX_SNAPSHOTS:
        raise refuse(f"{count} snapshots is more than qemu allows ({_MAX_SNAPSHOTS})")
    if count == 0:
        return
    if offset % cluster or offset == 0:
        raise refuse("the snapshot table is not cluster aligned")
    position = offset
    for number in range(count):
        (l1_offset, l1_size, id_size, name_size, _date, _nsec, _clock, _vm_state, extra_size) = image.unpack(
            ">QIHHIIQII", position, what=f"snapshot {number} header", fmt=FMT)
        if extra_size > 1024:
            raise refuse(f"snapshot {number} has {extra_size} bytes of extra data, more than qemu allows")
        extra = image.read(position + 40, extra_size, what=f"snapshot {number} extra data", fmt=FMT)
        snapshot_size = int.from_bytes(extra[8:16], "big") if extra_size >= 16 else 0
        _check_l1(image, l1_offset, l1_size, snapshot_size, cluster, entry_bytes,
                  what=f"L1 table of snapshot {number}")
        position += 40 + extra_size + id_size + name_size
        position = (position + 7) & ~7
        if position > image.size:
            raise refuse(f"snapshot {number} runs past the end of the file")
