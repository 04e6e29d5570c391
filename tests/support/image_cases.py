"""The catalogue of test images: benign images of every format qemu-img writes, and hostile ones.

Each :class:`Case` builds its image in a directory and says what must happen:
``accept``, or which error (``mismatch`` is a 415, ``unsafe`` a 400) and which
of the two views, the built-in inspector and ``qemu-img info``, catch it on
its own (``both``, ``inspector`` or ``qemu``).
"""

from __future__ import annotations

import io
import struct
import tarfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.disk_images import (
    MiB,
    appended,
    converted,
    created,
    iso_volume,
    patched,
    qemu_img,
    raw_with_data,
    read,
    vhd_checksum,
    vhd_with_footer_change,
)


@dataclass(frozen=True)
class Case:
    name: str
    disk_format: str
    build: Callable[[Path], Path]
    outcome: str = "accept"  # accept, mismatch or unsafe
    caught_by: str = "both"  # for refusals: both, inspector or qemu
    container_format: str = "bare"
    #: a fragment the refusal message must contain
    says: str = ""


def _descriptor(text: str, size: int = 20 * 512) -> bytes:
    data = text.encode()
    return data + bytes(size - len(data))


_FLAT_DESCRIPTOR = """# Disk DescriptorFile
version=1
CID=4180e7e7
parentCID=ffffffff
createType="monolithicFlat"

RW 2097152 FLAT "/etc/passwd" 0
"""
_SPARSE_WITH = """# Disk DescriptorFile
version=1
CID=4180e7e7
parentCID={parent}
{extra}createType="monolithicSparse"

RW 2097152 SPARSE "v.vmdk"
"""


def _vmdk(directory: Path) -> Path:
    return created(directory, "v.vmdk", "vmdk", "1G")


def _qcow2(directory: Path) -> Path:
    return created(directory, "q.qcow2", "qcow2", "1G")


def _vhd_dynamic(directory: Path) -> Path:
    return created(directory, "d.vhd", "vpc", "1G")


def _vhd_parent_locator(directory: Path) -> Path:
    source = _vhd_dynamic(directory)
    offset = struct.unpack(">Q", read(source, 16, 8))[0]
    header = bytearray(read(source, offset, 1024))
    header[576:600] = b"W2ku" + struct.pack(">IIIQ", 512, 10, 0, 1536)
    header[36:40] = vhd_checksum(bytes(header), 36)
    return patched(source, "locator.vhd", {offset: bytes(header)})


def _vhdx_metadata_entry(source: Path, guid: uuid.UUID) -> tuple[int, int]:
    """Where metadata item ``guid`` of a VHDX is: (file offset of its table entry, file offset of the item)."""
    table = read(source, 192 * 1024, 64 * 1024)
    metadata_guid = uuid.UUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
    region = next(struct.unpack("<Q", table[32 + 32 * i:40 + 32 * i])[0]
                  for i in range(struct.unpack("<I", table[8:12])[0])
                  if uuid.UUID(bytes_le=table[16 + 32 * i:32 + 32 * i]) == metadata_guid)
    entries = read(source, region, 64 * 1024)
    index = next(i for i in range(struct.unpack("<H", entries[10:12])[0])
                 if uuid.UUID(bytes_le=entries[32 + 32 * i:48 + 32 * i]) == guid)
    entry = region + 32 + 32 * index
    return entry, region + struct.unpack("<I", entries[48 + 32 * index:52 + 32 * index])[0]


def _vhdx_with_parent(directory: Path) -> Path:
    source = created(directory, "x.vhdx", "vhdx", "1G")
    _, item = _vhdx_metadata_entry(source, uuid.UUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B"))
    bits = struct.unpack("<I", read(source, item + 4, 4))[0] | 0b10
    return patched(source, "parent.vhdx", {item + 4: struct.pack("<I", bits)})


def _vhdx_with_parent_locator(directory: Path) -> Path:
    source = created(directory, "x.vhdx", "vhdx", "1G")
    entry, _ = _vhdx_metadata_entry(source, uuid.UUID("BECA12AB-B2E6-4523-93EF-C309E000C746"))
    return patched(source, "locator.vhdx",
                   {entry: uuid.UUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C").bytes_le})


def _ova(directory: Path) -> Path:
    disk = converted(directory, "disk.vmdk", "vmdk", "subformat=streamOptimized")
    path = directory / "appliance.ova"
    with tarfile.open(path, "w") as archive:
        descriptor = b"<?xml version='1.0'?><Envelope/>"
        info = tarfile.TarInfo("appliance.ovf")
        info.size = len(descriptor)
        archive.addfile(info, io.BytesIO(descriptor))
        archive.add(disk, "disk.vmdk")
    return path


def _mbr(directory: Path) -> Path:
    return patched(raw_with_data(directory, "mbr.raw"), "mbr2.raw", {446: b"\x80" + bytes(3) + b"\x83",
                                                                     510: b"\x55\xaa"})


def _gpt(directory: Path) -> Path:
    return patched(_mbr(directory), "gpt.raw", {450: b"\xee", 512: b"EFI PART"})


def _luks(directory: Path) -> Path:
    return patched(raw_with_data(directory, "luks.raw"), "luks2.raw", {0: b"LUKS\xba\xbe\x00\x02"})


def _qed(directory: Path) -> Path:
    path = directory / "q.qed"
    qemu_img("create", "-q", "-f", "qed", str(path), "64M")
    return path


BENIGN = [
    Case("qcow2 v3", "qcow2", lambda d: converted(d, "v3.qcow2", "qcow2")),
    Case("qcow2 v2", "qcow2", lambda d: converted(d, "v2.qcow2", "qcow2", "compat=0.10")),
    Case("qcow2 compressed", "qcow2", lambda d: converted(d, "c.qcow2", "qcow2", compress=True)),
    Case("qcow2 zstd and extended L2", "qcow2",
         lambda d: converted(d, "z.qcow2", "qcow2", "compression_type=zstd,extended_l2=on", compress=True)),
    Case("qcow2 with a bitmap", "qcow2", lambda d: _bitmap(d)),
    Case("vmdk monolithicSparse", "vmdk", lambda d: converted(d, "s.vmdk", "vmdk")),
    Case("vmdk streamOptimized", "vmdk", lambda d: converted(d, "so.vmdk", "vmdk", "subformat=streamOptimized")),
    Case("vhd dynamic", "vhd", lambda d: converted(d, "d.vhd", "vpc")),
    Case("vhd fixed", "vhd", lambda d: converted(d, "f.vhd", "vpc", "subformat=fixed")),
    Case("vhd fixed with its exact size", "vhd", lambda d: converted(d, "fs.vhd", "vpc",
                                                                    "subformat=fixed,force_size=on")),
    Case("vhdx", "vhdx", lambda d: converted(d, "x.vhdx", "vhdx")),
    Case("vdi dynamic", "vdi", lambda d: converted(d, "d.vdi", "vdi")),
    Case("vdi static", "vdi", lambda d: converted(d, "s.vdi", "vdi", "static=on")),
    Case("raw", "raw", lambda d: raw_with_data(d, "plain.raw")),
    Case("raw with an MBR", "raw", _mbr),
    Case("raw with a GPT", "raw", _gpt),
    Case("raw LUKS volume", "raw", _luks),
    Case("iso", "iso", lambda d: iso_volume(d, "cd.iso")),
    Case("hybrid iso with an MBR", "iso", lambda d: iso_volume(d, "hybrid.iso", system_area=bytes(510) + b"\x55\xaa")),
    Case("ami disk", "ami", lambda d: raw_with_data(d, "ami.img"), container_format="ami"),
    Case("qcow2 in an ovf container", "qcow2", lambda d: converted(d, "ovf.qcow2", "qcow2"), container_format="ovf"),
]


def _bitmap(directory: Path) -> Path:
    path = converted(directory, "b.qcow2", "qcow2")
    qemu_img("bitmap", "--add", str(path), "b0")
    return path


HOSTILE = [
    # qcow2
    Case("qcow2 backing file", "qcow2",
         lambda d: created(d, "b.qcow2", "qcow2", "1G", f"backing_file={_qcow2(d)}", "backing_fmt=qcow2"),
         "unsafe", says="backing file"),
    Case("qcow2 external data file", "qcow2",
         lambda d: created(d, "df.qcow2", "qcow2", "1G", f"data_file={d / 'df.raw'}"), "unsafe", says="data file"),
    Case("qcow2 unknown incompatible feature", "qcow2",
         lambda d: patched(_qcow2(d), "f.qcow2", {72: struct.pack(">Q", 1 << 5)}), "unsafe", says="feature"),
    Case("qcow2 data file bit alone", "qcow2",
         lambda d: patched(_qcow2(d), "dfb.qcow2", {72: struct.pack(">Q", 1 << 2)}), "unsafe",
         caught_by="inspector", says="data file"),
    Case("qcow2 backing format extension", "qcow2",
         lambda d: patched(_qcow2(d), "bf.qcow2", {112: struct.pack(">I", 0xE2792ACA)}), "unsafe",
         says="backing file format"),
    Case("qcow2 data file name extension", "qcow2",
         lambda d: patched(_qcow2(d), "dn.qcow2", {112: struct.pack(">I", 0x44415441)}), "unsafe",
         says="data file"),
    Case("qcow2 unknown header extension", "qcow2",
         lambda d: patched(_qcow2(d), "ux.qcow2", {112: struct.pack(">I", 0x12345678)}), "unsafe",
         caught_by="inspector", says="unknown header extension"),
    Case("qcow2 L1 table outside the file", "qcow2",
         lambda d: patched(_qcow2(d), "l1.qcow2", {40: struct.pack(">Q", 1 << 40)}), "unsafe",
         caught_by="inspector", says="L1 table"),
    Case("qcow2 snapshot table outside the file", "qcow2",
         lambda d: patched(_qcow2(d), "sn.qcow2", {60: struct.pack(">IQ", 1, 1 << 40)}), "unsafe",
         caught_by="inspector", says="snapshot"),
    Case("qcow2 marked corrupt", "qcow2",
         lambda d: patched(_qcow2(d), "c.qcow2", {72: struct.pack(">Q", 1 << 1)}), "unsafe",
         caught_by="inspector", says="corrupt"),
    Case("qcow2 of 17 TiB", "qcow2", lambda d: created(d, "huge.qcow2", "qcow2", "17T"), "unsafe",
         caught_by="inspector", says="virtual size"),
    Case("qcow2 declared raw", "raw", _qcow2, "mismatch", caught_by="inspector", says="qcow2"),
    Case("qcow2 declared vmdk", "vmdk", _qcow2, "mismatch", says="qcow2"),
    Case("random bytes declared qcow2", "qcow2", lambda d: raw_with_data(d, "r.raw"), "mismatch", says="qcow2"),
    Case("qcow2 and vhd polyglot", "qcow2",
         lambda d: appended(_qcow2(d), "poly.qcow2", read(converted(d, "f.vhd", "vpc", "subformat=fixed"), -512, 512)),
         "unsafe", caught_by="inspector", says="polyglot"),
    Case("qcow2 and iso polyglot", "qcow2",
         lambda d: patched(_qcow2(d), "qiso.qcow2", {0x8000: read(iso_volume(d, "v.iso"), 0x8000, 4096)}),
         "unsafe", caught_by="inspector", says="ISO volume"),
    Case("iso with a qcow2 header in its system area", "iso",
         lambda d: iso_volume(d, "qiso.iso", system_area=read(_qcow2(d), 0, 4096)), "mismatch",
         caught_by="inspector", says="qcow2"),
    # vmdk
    Case("vmdk monolithicFlat descriptor", "vmdk",
         lambda d: created(d, "flat.vmdk", "vmdk", "64M", "subformat=monolithicFlat"), "unsafe", says="descriptor"),
    Case("vmdk twoGbMaxExtentSparse descriptor", "vmdk",
         lambda d: created(d, "two.vmdk", "vmdk", "64M", "subformat=twoGbMaxExtentSparse"), "unsafe",
         says="descriptor"),
    Case("vmdk embedded descriptor with a FLAT extent", "vmdk",
         lambda d: patched(_vmdk(d), "fe.vmdk", {512: _descriptor(_FLAT_DESCRIPTOR)}), "unsafe",
         caught_by="inspector", says="monolithicFlat"),
    Case("vmdk capacity 0 opening its embedded descriptor", "vmdk",
         lambda d: patched(_vmdk(d), "c0.vmdk", {12: bytes(8), 512: _descriptor(_FLAT_DESCRIPTOR)}), "unsafe",
         says="capacity 0"),
    Case("vmdk parentFileNameHint", "vmdk",
         lambda d: patched(_vmdk(d), "ph.vmdk", {512: _descriptor(_SPARSE_WITH.format(
             parent="ffffffff", extra='parentFileNameHint="/etc/passwd"\n'))}), "unsafe", says="parent"),
    Case("vmdk parentCID", "vmdk",
         lambda d: patched(_vmdk(d), "pc.vmdk", {512: _descriptor(_SPARSE_WITH.format(parent="1a2b3c4d", extra=""))}),
         "unsafe", caught_by="inspector", says="parentCID"),
    Case("vmdk createType in a comment hiding a VMFS extent", "vmdk",
         lambda d: patched(_vmdk(d), "cm.vmdk", {512: _descriptor(_SPARSE_WITH.format(parent="ffffffff", extra="")
                                                                 + 'RW 100 VMFS "/dev/sda"\n')}),
         "unsafe", caught_by="inspector", says="VMFS"),
    # vhd, vhdx, vdi, qed
    Case("vhd differencing", "vhd", lambda d: vhd_with_footer_change(_vhd_dynamic(d), "diff.vhd", 60,
                                                                     struct.pack(">I", 4)), "unsafe",
         caught_by="inspector", says="differencing"),
    Case("vhd bad footer checksum", "vhd",
         lambda d: vhd_with_footer_change(_vhd_dynamic(d), "sum.vhd", 24, b"\xff\xff", fix_checksum=False),
         "unsafe", says="checksum"),
    Case("vhd parent locator", "vhd", _vhd_parent_locator, "unsafe", caught_by="inspector", says="parent"),
    Case("vhd fixed declared raw", "raw", lambda d: converted(d, "f.vhd", "vpc", "subformat=fixed"), "mismatch",
         caught_by="inspector", says="vhd"),
    Case("vhdx differencing", "vhdx", _vhdx_with_parent, "unsafe", says="differencing"),
    Case("vhdx parent locator", "vhdx", _vhdx_with_parent_locator, "unsafe", says="parent locator"),
    Case("vdi with a parent", "vdi",
         lambda d: patched(created(d, "p.vdi", "vdi", "64M"), "pp.vdi", {0x1B8: uuid.uuid4().bytes}), "unsafe",
         says="parent"),
    Case("vdi differencing type", "vdi",
         lambda d: patched(created(d, "t.vdi", "vdi", "64M"), "tt.vdi", {0x4C: struct.pack("<I", 4)}), "unsafe",
         caught_by="inspector", says="differencing"),
    Case("qed declared raw", "raw", _qed, "mismatch", caught_by="inspector", says="qed"),
    # containers
    Case("ova container", "vmdk", _ova, "unsafe", caught_by="inspector", container_format="ova", says="ova"),
    Case("docker container", "raw", lambda d: raw_with_data(d, "layer.tar"), "unsafe", caught_by="inspector",
         container_format="docker", says="docker"),
    Case("compressed container", "raw", lambda d: raw_with_data(d, "c.gz"), "unsafe", caught_by="inspector",
         container_format="compressed", says="compressed"),
]

ALL = BENIGN + HOSTILE


def build_all(directory: Path) -> dict[str, Path]:
    """Every case's image, each in a directory of its own (so builders may reuse file names)."""
    paths = {}
    for number, case in enumerate(ALL):
        place = directory / f"case{number}"
        place.mkdir()
        paths[case.name] = case.build(place)
    return paths


__all__ = ["ALL", "BENIGN", "HOSTILE", "MiB", "Case", "build_all"]
