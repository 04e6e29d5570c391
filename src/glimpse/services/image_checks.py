"""The format gate: both views of an image's data, run on a local file before the data is committed.

Every way bytes arrive (upload, glance-direct and web-download imports,
copies) goes through :class:`~glimpse.services.ingest.IngestPipeline`, which
calls :meth:`FormatGate.verify` with a local file holding exactly the uploaded
bytes. The built-in inspector (:mod:`glimpse.formats`) parses the whole
metadata structure; ``qemu-img info`` in a sandbox
(:class:`~glimpse.formats.qemu.QemuImgView`) must agree with it. See
``docs/image-safety.md``.
"""

from __future__ import annotations

import os

from glimpse import formats
from glimpse.domain.images import Image
from glimpse.errors import ImageFormatMismatch
from glimpse.formats.qemu import QemuImgView


class FormatGate:
    """The format check before commit; ``require_match=False`` lets data of another format through (not unsafe data).

    Without ``qemu`` the programs are looked up on ``PATH`` (:meth:`QemuImgView.find`).
    """

    def __init__(self, rules: formats.InspectionRules | None = None, qemu: QemuImgView | None = None, *,
                 require_match: bool = True) -> None:
        self._rules = rules or formats.InspectionRules()
        self._qemu = qemu or QemuImgView.find()
        self._require_match = require_match

    @property
    def qemu(self) -> QemuImgView:
        """The second view, for whoever else runs qemu-img the same way (image conversion)."""
        return self._qemu

    def describe(self) -> str:
        """Which views check image data on this node (for logs and health details)."""
        return self._qemu.describe()

    def regions(self, image: Image) -> tuple[int, int] | None:
        """``(head, tail)``: the first and last bytes of ``image``'s data that :meth:`verify` reads; ``None``: all of it.

        A local file with those two regions in place, zeros between and the
        data's length is verified exactly as the whole data would be.
        """
        return formats.regions_read(image.disk_format, image.container_format)

    def verify(self, image: Image, path: str, size: int) -> int | None:
        """The virtual size to record for ``image`` whose data is the ``size`` bytes at ``path``.

        Raises :class:`ImageFormatMismatch` (data of another format than
        declared, when a match is required) and :class:`ImageUnsafe` (data a
        hypervisor must not get, or on which qemu-img and the inspector disagree).
        """
        if os.stat(path).st_size != size:
            raise ImageFormatMismatch(f"The data of image {image.id} changed while it was being checked.")
        try:
            verdict = formats.inspect(path, image.disk_format, image.container_format, self._rules)
        except ImageFormatMismatch:
            if self._require_match:
                raise
            return None
        if image.container_format in formats.DIRECT_CONTAINERS and image.disk_format is not None:
            self._qemu.check(path, image.disk_format, verdict)
        return verdict.virtual_size
