"""The ``image-conversion`` import plugin: import data converted by qemu-img to the operator's format.

The data is spooled to a local file, checked by the format gate (both views)
as the format it claims to be *before* qemu-img convert reads it (convert
would follow a backing file), converted in the same sandbox as ``qemu-img
info``, and the result goes on like any import: checked again against the new
``disk_format`` and hashed. Archives and data already in the output format
pass untouched.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from glimpse.domain.images import Image
from glimpse.errors import ImageTooLarge
from glimpse.formats import DIRECT_CONTAINERS
from glimpse.formats.qemu import QEMU_FORMATS, QemuImgView
from glimpse.services.image_checks import FormatGate
from glimpse.services.imports import Transformed

NAME = "image-conversion"
CHUNK = 1024 * 1024


class Conversion:
    """Converts import data to ``output_format`` with qemu-img; ``max_size`` bounds the spool and the output."""

    name = NAME

    def __init__(self, gate: FormatGate, qemu: QemuImgView, *, output_format: str, max_size: int,
                 spool_dir: Path) -> None:
        self._gate = gate
        self._qemu = qemu
        self._output_format = output_format
        self._max_size = max_size
        self._spool_dir = spool_dir

    @contextlib.contextmanager
    def apply(self, image: Image, chunks: Iterator[bytes], size: int | None) -> Iterator[Transformed]:
        if (image.disk_format == self._output_format or image.container_format not in DIRECT_CONTAINERS
                or image.disk_format not in QEMU_FORMATS):
            yield Transformed(chunks, size)
            return
        self._spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._spool_dir, prefix="convert-") as directory:
            source = Path(directory) / "source"
            written = 0
            with open(source, "wb") as out:
                for chunk in chunks:
                    written += len(chunk)
                    if written > self._max_size:
                        raise ImageTooLarge(f"image-conversion: the image is larger than {self._max_size} bytes")
                    out.write(chunk)
            self._gate.verify(image, str(source), written)
            target = Path(directory) / "converted"
            self._qemu.convert(str(source), image.disk_format or "raw", str(target), self._output_format,
                               max_size=self._max_size)
            source.unlink()
            with open(target, "rb") as converted:
                yield Transformed(iter(lambda: converted.read(CHUNK), b""), target.stat().st_size,
                                  disk_format=self._output_format)
