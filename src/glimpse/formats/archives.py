"""Tar containers (``ova``, ``docker``): every member inspected with the same rules as a bare image.

Only plain files and directories with relative names are accepted; links,
devices and names that climb out (``..``) are refused. A member that announces
an image format is inspected as that format; a VMDK descriptor member is
refused like an uploaded one. The archive's virtual size is that of its first
member in the declared disk format.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from io import FileIO

from glimpse.errors import ImageUnsafe
from glimpse.formats import signatures
from glimpse.formats.source import ImageFile
from glimpse.formats.verdict import Verdict

_MAX_MEMBERS = 1000


def inspect_tar(image: ImageFile, disk_format: str, container_format: str,
                inspect_member: Callable[[ImageFile, str], Verdict]) -> Verdict:
    """Walk the tar headers of ``image`` (seeking past data) and inspect each member."""
    if image.base:
        raise ImageUnsafe(f"{container_format}: archives inside archives are refused")
    disk: Verdict | None = None
    plain = 0
    with FileIO(image.fd, closefd=False) as raw:
        try:
            archive = tarfile.open(fileobj=raw, mode="r:")
        except tarfile.TarError as exc:
            raise ImageUnsafe(f"container_format '{container_format}': the data is not a tar archive ({exc})") \
                from None
        with archive:
            for count, member in enumerate(_members(archive, container_format)):
                if count >= _MAX_MEMBERS:
                    raise ImageUnsafe(f"{container_format}: more than {_MAX_MEMBERS} members")
                name = member.name
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ImageUnsafe(f"{container_format}: member {name!r} is a link or device")
                if name.startswith("/") or ".." in name.split("/"):
                    raise ImageUnsafe(f"{container_format}: member {name!r} has a name outside the archive")
                view = image.member(member.offset_data, member.size)
                found = signatures.announced(view)
                if not found:
                    plain = max(plain, member.size)
                    continue
                try:  # a polyglot member is refused as such whatever format it is inspected as
                    verdict = inspect_member(view, found[0])
                except ImageUnsafe as exc:
                    raise ImageUnsafe(f"{container_format} member {name!r}: {exc.message}") from None
                if disk is None and verdict.format == disk_format:
                    disk = verdict
    if disk is None and disk_format in ("raw", "iso") and plain:
        return Verdict("raw", plain)
    if disk is None:
        raise ImageUnsafe(f"container_format '{container_format}': no member is a '{disk_format}' disk")
    return disk


def _members(archive: tarfile.TarFile, container_format: str) -> list[tarfile.TarInfo]:
    try:
        return archive.getmembers()
    except tarfile.TarError as exc:
        raise ImageUnsafe(f"{container_format}: the tar archive is damaged ({exc})") from None
