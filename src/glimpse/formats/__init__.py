"""Format inspection of uploaded image data: what the bytes are, and whether a hypervisor may be given them.

:func:`inspect` is the one entry point. It reads the whole metadata structure
of the declared format from a local file (random access, metadata only) and
refuses anything a hypervisor's qemu could be tricked by. ``qemu.py`` holds the
second, independent view (``qemu-img info`` in a sandbox); the service runs both.

The table of ``disk_format`` against what the data is, and why, is
``docs/image-safety.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from glimpse.errors import ImageFormatMismatch, ImageUnsafe
from glimpse.formats import archives, qcow2, signatures, vdi, vhd, vhdx, vmdk
from glimpse.formats.source import ImageFile
from glimpse.formats.verdict import Verdict

__all__ = ["InspectionRules", "Verdict", "inspect", "inspect_file", "regions_read"]

TiB = 1024 ** 4

#: disk formats with a structure of their own, and the parser of each
PARSERS: dict[str, Callable[[ImageFile], Verdict]] = {
    "qcow2": qcow2.inspect, "vmdk": vmdk.inspect, "vhd": vhd.inspect, "vhdx": vhdx.inspect, "vdi": vdi.inspect,
}
#: disk formats whose data is the disk itself: nothing recognisable may be inside
PLAIN = frozenset({"raw", "iso", "ami", "ari", "aki"})
#: containers whose data is the disk image itself
DIRECT_CONTAINERS = frozenset({"bare", "ovf", "ami", "ari", "aki"})
#: containers that are tar archives of several files
ARCHIVE_CONTAINERS = frozenset({"ova", "docker"})
#: formats whose bytes at 32 KiB are their own metadata, so an ISO volume descriptor there is a second format
_METADATA_AT_32K = frozenset({"qcow2", "vmdk", "vhdx", "vdi"})
#: what inspection (and ``qemu-img info -f raw``) reads of plain data: the signatures in its first 64 KiB
#: (at 0 and at 32 KiB) and in its last 512 bytes; kept with a wide margin
PLAIN_HEAD = 1024 * 1024
PLAIN_TAIL = 64 * 1024


@dataclass(frozen=True)
class InspectionRules:
    """What the operator allows: the largest virtual size, and whether tar containers are inspected or refused."""

    max_virtual_size: int = 16 * TiB
    refuse_archives: bool = True


def regions_read(disk_format: str | None, container_format: str | None) -> tuple[int, int] | None:
    """``(head, tail)`` when inspecting such data reads only its first ``head`` and last ``tail`` bytes (and its size).

    True of the plain formats in a direct container: a file holding those two
    regions at their places, zeros between, and the right length, gets the same
    verdict as the whole data. ``None`` when inspection may read anywhere (a
    format with metadata of its own, an archive): the whole data is needed.
    """
    if disk_format in PLAIN and container_format in DIRECT_CONTAINERS:
        return PLAIN_HEAD, PLAIN_TAIL
    return None


def inspect(path: str, disk_format: str | None, container_format: str | None,
            rules: InspectionRules = InspectionRules()) -> Verdict:
    """Inspect the image file at ``path`` declared as ``disk_format`` in ``container_format``.

    Returns the :class:`Verdict` (detected format, virtual size in bytes).
    Raises :class:`ImageFormatMismatch` when the data is another format than
    declared, and :class:`ImageUnsafe` when it must not reach a hypervisor;
    both messages name the format and the problem.
    """
    with ImageFile.open(path) as image:
        return inspect_file(image, disk_format, container_format, rules)


def inspect_file(image: ImageFile, disk_format: str | None, container_format: str | None,
                 rules: InspectionRules) -> Verdict:
    """:func:`inspect` on an open :class:`ImageFile` (a whole file, or a member of an archive)."""
    if disk_format is None or container_format is None:
        raise ImageUnsafe("image data cannot be inspected before disk_format and container_format are set")
    if container_format in ARCHIVE_CONTAINERS:
        if rules.refuse_archives:
            raise ImageUnsafe(f"container_format '{container_format}': archives of several files are refused on "
                              "this site; upload the disk image itself with container_format 'bare'")
        return archives.inspect_tar(image, disk_format, container_format,
                                    lambda member, fmt: inspect_file(member, fmt, "bare", rules))
    if container_format in ("ami", "ari", "aki") and disk_format != container_format:
        raise ImageUnsafe(f"container_format '{container_format}' needs the same disk_format, not '{disk_format}'")
    if container_format not in DIRECT_CONTAINERS:
        raise ImageUnsafe(f"container_format '{container_format}' cannot be inspected, so it is refused; "
                          "use 'bare' (or 'ova'/'docker' where the site allows archives)")
    verdict = _inspect_disk(image, disk_format)
    if verdict.virtual_size > rules.max_virtual_size:
        raise ImageUnsafe(f"{disk_format}: the virtual size {verdict.virtual_size} is above this site's limit of "
                          f"{rules.max_virtual_size} bytes")
    return verdict


def _inspect_disk(image: ImageFile, disk_format: str) -> Verdict:
    found = signatures.announced(image)
    if len(found) > 1:
        raise ImageUnsafe(f"{disk_format}: the data is a polyglot that reads as {' and '.join(found)}")
    if disk_format in PLAIN:
        if found:
            raise ImageFormatMismatch(f"Image data does not match disk_format '{disk_format}': it is a "
                                      f"'{found[0]}' image. Set the disk_format the data really has.")
        if disk_format == "iso" and not signatures.is_iso(image):
            raise ImageFormatMismatch("Image data does not match disk_format 'iso': there is no ISO 9660 or UDF "
                                      "volume at 32 KiB. Set the disk_format the data really has.")
        return Verdict("iso" if disk_format == "iso" else "raw", image.size)
    if disk_format in _METADATA_AT_32K and signatures.is_iso(image):
        raise ImageUnsafe(f"{disk_format}: the data is a polyglot that reads as {disk_format} and as an ISO volume")
    parser = PARSERS.get(disk_format)
    if parser is None:
        raise ImageUnsafe(f"disk_format '{disk_format}' has no inspector on this site, so its data is refused")
    if found != [disk_format]:
        looks = found[0] if found else "raw"
        raise ImageFormatMismatch(f"Image data does not match disk_format '{disk_format}': it looks like "
                                  f"'{looks}'. Set the disk_format the data really has.")
    return parser(image)
