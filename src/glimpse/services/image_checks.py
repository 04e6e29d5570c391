"""The one format seam: both views of uploaded image data, run on a local file before the data is accepted.

Every way bytes arrive (upload, glance-direct and web-download imports, copies)
ends in :meth:`ImageChecks.check` with a local file holding exactly the
uploaded bytes. The built-in inspector (:mod:`glimpse.formats`) parses the
whole metadata structure; ``qemu-img info`` in a sandbox
(:class:`~glimpse.formats.qemu.QemuImgView`) must agree with it.
"""

from __future__ import annotations

import contextlib
import os

import tempfile
from collections.abc import Iterator

from glimpse import formats
from glimpse.domain.images import Image
from glimpse.errors import ImageFormatMismatch
from glimpse.formats.qemu import QemuImgView
from glimpse.stores.base import FileRegion, Store


class ImageChecks:
    """Inspects image data for the service layer; ``require_format_match=False`` lets mismatches through."""

    def __init__(self, rules: formats.InspectionRules, qemu: QemuImgView, *, require_format_match: bool = True
                 ) -> None:
        self._rules = rules
        self._qemu = qemu
        self._require_format_match = require_format_match

    def describe(self) -> str:
        return self._qemu.describe()

    def check(self, image: Image, path: str, size: int) -> int | None:
        """The virtual size to record for ``image`` whose data is the ``size`` bytes at ``path``.

        Raises :class:`ImageFormatMismatch` (data of another format than
        declared) and :class:`ImageUnsafe` (data a hypervisor must not get, or
        on which qemu-img and the inspector disagree).
        """
        if os.stat(path).st_size != size:
            raise ImageFormatMismatch(f"The data of image {image.id} changed while it was being checked.")
        try:
            verdict = formats.inspect(path, image.disk_format, image.container_format, self._rules)
        except ImageFormatMismatch:
            if self._require_format_match:
                raise
            return None
        if image.container_format in formats.DIRECT_CONTAINERS and image.disk_format is not None:
            self._qemu.check(path, image.disk_format, verdict)
        return verdict.virtual_size


@contextlib.contextmanager
def local_file(store: Store, key: str) -> Iterator[str]:
    """A local path holding the bytes of ``key``: the store's own file when it has one, else a temporary copy."""
    chunks = store.open(key)
    try:
        if isinstance(chunks, FileRegion) and chunks.offset == 0:
            path = os.readlink(f"/proc/self/fd/{chunks.fileno()}")
            if os.path.isfile(path) and os.path.samefile(path, f"/proc/self/fd/{chunks.fileno()}"):
                yield path
                return
        with tempfile.TemporaryDirectory(prefix="glimpse-inspect-") as directory:
            copy = os.path.join(directory, "image")
            with open(copy, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            yield copy
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()



