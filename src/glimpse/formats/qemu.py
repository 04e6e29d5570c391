"""The second view: ``qemu-img info`` itself, in a sandbox that sees only the one image file.

qemu is the parser a hypervisor will use, so where our inspector and qemu
disagree the image is refused. ``qemu-img`` runs under ``bwrap`` (bubblewrap):
no network, no host paths but ``/usr`` (read-only) and the image (read-only,
as ``/image``), and under ``prlimit`` (address space, CPU seconds, no file
writes), with a wall-clock timeout. Without a sandbox it does not run unless
the operator allows it; without ``qemu-img`` our inspector alone decides. Both
cases are logged once per process.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from glimpse.errors import ImageUnsafe
from glimpse.formats.verdict import Verdict

log = logging.getLogger(__name__)

#: our disk_format -> the name of qemu's block driver for it
QEMU_FORMATS = {"qcow2": "qcow2", "vmdk": "vmdk", "vhd": "vpc", "vhdx": "vhdx", "vdi": "vdi", "raw": "raw",
                "iso": "raw", "ami": "raw", "ari": "raw", "aki": "raw"}
_INSIDE = "/image"
_MEMORY = 1024 * 1024 * 1024
_CPU_SECONDS = 10
_WALL_SECONDS = 30.0
_CONVERT_SECONDS = 3600


@dataclass(frozen=True)
class QemuImgView:
    """How to run ``qemu-img info``: the programs found (``None`` when absent) and the operator's choices."""

    qemu_img: str | None
    bwrap: str | None
    prlimit: str | None
    allow_unsandboxed: bool = False

    @classmethod
    def find(cls, *, enabled: bool = True, allow_unsandboxed: bool = False) -> QemuImgView:
        """Look for the programs on ``PATH`` and say once, in the log, what the second view will be."""
        qemu_img = shutil.which("qemu-img") if enabled else None
        view = cls(qemu_img, shutil.which("bwrap"), shutil.which("prlimit"), allow_unsandboxed)
        if view.qemu_img is not None and view.bwrap is not None and not view.sandbox_works():
            log.warning("image inspection: bubblewrap cannot create a sandbox here (user namespaces disabled?)")
            view = cls(qemu_img, None, view.prlimit, allow_unsandboxed)
        log.info("image inspection: %s", view.describe())
        return view

    def sandbox_works(self) -> bool:
        """Whether ``qemu-img --version`` runs in the sandbox (bwrap needs namespaces the host may forbid)."""
        assert self.qemu_img is not None
        try:
            done = subprocess.run([*self._sandbox(os.devnull), "--", self.qemu_img, "--version"],
                                  capture_output=True, timeout=_WALL_SECONDS, check=False, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return done.returncode == 0

    @property
    def active(self) -> bool:
        return self.qemu_img is not None and (self.bwrap is not None or self.allow_unsandboxed)

    def describe(self) -> str:
        """One line for logs and the health detail."""
        if self.qemu_img is None:
            return "qemu-img is not installed (or disabled): the built-in inspector alone checks image data"
        if self.bwrap is None and not self.allow_unsandboxed:
            return ("qemu-img is installed but bubblewrap (bwrap) is not, and running it unsandboxed is not "
                    "allowed: the built-in inspector alone checks image data")
        sandbox = "bwrap" if self.bwrap else "no sandbox (allowed by the operator)"
        return f"built-in inspector and qemu-img info ({self.qemu_img}, {sandbox}) both check image data"

    def command(self, path: str, disk_format: str) -> list[str]:
        assert self.qemu_img is not None
        info = ["info", "--output=json", "-f", QEMU_FORMATS[disk_format]]
        limits = ([self.prlimit, f"--as={_MEMORY}", f"--cpu={_CPU_SECONDS}", "--fsize=0", "--nofile=64", "--"]
                  if self.prlimit else [])
        if self.bwrap is None:
            return [*limits, self.qemu_img, *info, path]
        return [*limits, *self._sandbox(path), "--", self.qemu_img, *info, _INSIDE]

    def convert(self, source: str, disk_format: str, target: str, target_format: str, *, max_size: int) -> None:
        """``qemu-img convert`` ``source`` into ``target`` (a new file), sandboxed like :meth:`check`.

        The sandbox sees the source read-only and only the target's directory
        writable; files may grow to ``max_size`` bytes. Raises :class:`ImageUnsafe`
        when qemu-img fails or cannot run sandboxed.
        """
        if not self.active or self.qemu_img is None:
            raise ImageUnsafe(f"image-conversion: qemu-img is not available here ({self.describe()})")
        convert = ["convert", "-q", "-f", QEMU_FORMATS[disk_format], "-O", QEMU_FORMATS[target_format]]
        limits = ([self.prlimit, f"--as={_MEMORY}", f"--cpu={_CONVERT_SECONDS}", f"--fsize={max_size}",
                   "--nofile=64", "--"] if self.prlimit else [])
        if self.bwrap is None:
            command = [*limits, self.qemu_img, *convert, source, target]
        else:
            directory = os.path.dirname(target)
            command = [*limits, *self._sandbox(source), "--bind", directory, "/out", "--", self.qemu_img, *convert,
                       _INSIDE, "/out/" + os.path.basename(target)]
        try:
            done = subprocess.run(command, capture_output=True, timeout=_CONVERT_SECONDS, check=False,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ImageUnsafe(f"image-conversion: qemu-img took longer than {_CONVERT_SECONDS} s") from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ImageUnsafe(f"image-conversion: qemu-img could not convert the {disk_format} image to "
                              f"{target_format}: {reason[-1] if reason else f'exit status {done.returncode}'}")

    def _sandbox(self, path: str) -> list[str]:
        """bwrap up to (not including) ``--``: only /usr, a private /dev and /tmp, and ``path`` as /image."""
        assert self.bwrap is not None
        return [self.bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
                "--ro-bind", "/usr", "/usr", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/bin", "/bin", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", path, _INSIDE]

    def check(self, path: str, disk_format: str, verdict: Verdict) -> None:
        """Refuse (:class:`ImageUnsafe`) unless qemu-img reads ``path`` as we did; a no-op when inactive."""
        if not self.active or disk_format not in QEMU_FORMATS:
            return
        try:
            done = subprocess.run(self.command(path, disk_format), capture_output=True, timeout=_WALL_SECONDS,
                                  check=False, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise ImageUnsafe(f"{disk_format}: qemu-img took longer than {_WALL_SECONDS:.0f} s to read the "
                              "image metadata") from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ImageUnsafe(f"{disk_format}: qemu-img cannot read the image: "
                              f"{reason[-1] if reason else f'exit status {done.returncode}'}")
        try:
            info = json.loads(done.stdout)
        except ValueError:
            raise ImageUnsafe(f"{disk_format}: qemu-img gave no readable answer") from None
        problem = disagreement(info, disk_format, verdict, inside=_INSIDE if self.bwrap else path)
        if problem:
            raise ImageUnsafe(f"{disk_format}: qemu-img {problem}")


def disagreement(info: dict[str, Any], disk_format: str, verdict: Verdict, *, inside: str) -> str | None:
    """What in qemu-img's ``info`` JSON contradicts our verdict or makes the image unsafe, else ``None``."""
    expected = QEMU_FORMATS[disk_format]
    if info.get("format") != expected:
        return f"reads the data as '{info.get('format')}', not '{expected}'"
    for key in ("backing-filename", "full-backing-filename", "backing-filename-format"):
        if key in info:
            return f"finds a backing file ({info[key]!r})"
    data = (info.get("format-specific") or {}).get("data") or {}
    if "data-file" in data:
        return f"finds an external data file ({data.get('data-file')!r})"
    for extent in data.get("extents") or ():
        if extent.get("filename") not in (None, inside):
            return f"finds an extent in another file ({extent.get('filename')!r})"
    for child in info.get("children") or ():
        child_info = child.get("info") or {}
        if child.get("name") != "file" or child_info.get("filename") not in (None, inside):
            return f"finds a child node {child.get('name')!r} ({child_info.get('filename')!r})"
    reported = info.get("virtual-size")
    # qemu counts whole 512-byte sectors (a raw file of 1000 bytes is 1024 to it): less than one apart is agreement
    if not isinstance(reported, int) or abs(reported - verdict.virtual_size) >= 512:
        return (f"reports a virtual size of {reported} bytes where the inspector found "
                f"{verdict.virtual_size}")
    return None
