"""Tar containers inspected member by member when the operator allows them, and how the qemu-img view is chosen."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from glimpse import formats
from glimpse.errors import ImageUnsafe
from glimpse.formats.qemu import QemuImgView
from glimpse.formats.verdict import Verdict
from tests.support.disk_images import converted, created, require_qemu_img

ALLOW = formats.InspectionRules(refuse_archives=False)


def ova(path: Path, *members: tuple[str, Path | bytes]) -> Path:
    with tarfile.open(path, "w") as archive:
        for name, content in members:
            if isinstance(content, Path):
                archive.add(content, name)
            else:
                info = tarfile.TarInfo(name)
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
    return path


def test_an_ova_with_a_stream_optimized_disk_is_accepted_when_archives_are_allowed(tmp_path: Path) -> None:
    require_qemu_img()
    disk = converted(tmp_path, "disk.vmdk", "vmdk", "subformat=streamOptimized")
    path = ova(tmp_path / "a.ova", ("a.ovf", b"<Envelope/>"), ("disk.vmdk", disk))
    assert formats.inspect(str(path), "vmdk", "ova", ALLOW) == formats.inspect(str(disk), "vmdk", "bare")
    with pytest.raises(ImageUnsafe, match="archives of several files are refused"):
        formats.inspect(str(path), "vmdk", "ova")


def test_an_ova_member_pointing_at_host_files_is_refused(tmp_path: Path) -> None:
    require_qemu_img()
    flat = created(tmp_path, "flat.vmdk", "vmdk", "64M", "subformat=monolithicFlat")
    path = ova(tmp_path / "b.ova", ("a.ovf", b"<Envelope/>"), ("disk.vmdk", flat))
    with pytest.raises(ImageUnsafe, match="ova member 'disk.vmdk': vmdk: a descriptor file"):
        formats.inspect(str(path), "vmdk", "ova", ALLOW)


def test_archive_links_and_climbing_names_are_refused(tmp_path: Path) -> None:
    link = tmp_path / "link.tar"
    with tarfile.open(link, "w") as archive:
        info = tarfile.TarInfo("disk.vmdk")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        archive.addfile(info)
    with pytest.raises(ImageUnsafe, match="link"):
        formats.inspect(str(link), "vmdk", "ova", ALLOW)
    climbing = ova(tmp_path / "c.tar", ("../../disk.raw", b"x" * 1024))
    with pytest.raises(ImageUnsafe, match="outside the archive"):
        formats.inspect(str(climbing), "raw", "docker", ALLOW)


def test_data_that_is_no_tar_archive_is_refused_as_such(tmp_path: Path) -> None:
    path = tmp_path / "x.ova"
    path.write_bytes(b"\x01" * 4096)
    with pytest.raises(ImageUnsafe, match="not a tar archive"):
        formats.inspect(str(path), "vmdk", "ova", ALLOW)


def test_unknown_containers_and_formats_without_an_inspector_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.img"
    path.write_bytes(bytes(4096))
    with pytest.raises(ImageUnsafe, match="container_format 'shipping'"):
        formats.inspect(str(path), "raw", "shipping")
    with pytest.raises(ImageUnsafe, match="'ploop' has no inspector"):
        formats.inspect(str(path), "ploop", "bare")
    with pytest.raises(ImageUnsafe, match="needs the same disk_format"):
        formats.inspect(str(path), "raw", "aki")


def test_qemu_img_never_runs_unsandboxed_unless_the_operator_allows_it(tmp_path: Path) -> None:
    hostile = tmp_path / "h.qcow2"
    hostile.write_bytes(b"not even an image")
    refusing = QemuImgView("/usr/bin/qemu-img", None, None)
    assert not refusing.active and "bubblewrap" in refusing.describe()
    refusing.check(str(hostile), "qcow2", Verdict("qcow2", 1))  # does not run: nothing to refuse with
    allowed = QemuImgView("/usr/bin/qemu-img", None, None, allow_unsandboxed=True)
    assert allowed.active and "no sandbox" in allowed.describe()
    assert allowed.command(str(hostile), "vhd") == ["/usr/bin/qemu-img", "info", "--output=json", "-f", "vpc",
                                                    str(hostile)]
    absent = QemuImgView(None, "/usr/bin/bwrap", None)
    assert not absent.active and "alone" in absent.describe()


def test_the_sandboxed_command_sees_only_the_image(tmp_path: Path) -> None:
    command = QemuImgView("/usr/bin/qemu-img", "/usr/bin/bwrap", "/usr/bin/prlimit").command("/srv/x.img", "vhd")
    assert command[0] == "/usr/bin/prlimit" and "--unshare-all" in command and "--clearenv" in command
    binds = [command[i + 1:i + 3] for i, arg in enumerate(command) if arg == "--ro-bind"]
    assert binds == [["/usr", "/usr"], ["/srv/x.img", "/image"]]
    assert command[-6:] == ["/usr/bin/qemu-img", "info", "--output=json", "-f", "vpc", "/image"]


def test_a_sandbox_that_cannot_start_is_detected_before_any_upload() -> None:
    require_qemu_img()
    assert not QemuImgView("/usr/bin/qemu-img", "/bin/false", None).sandbox_works()
    found = QemuImgView.find()
    if found.bwrap is None:
        pytest.skip("bubblewrap is not installed or cannot sandbox here")
    assert found.sandbox_works()
