"""Both views on every catalogued image: each refusal caught by the view(s) the catalogue names, benign ones pass."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from glimpse import formats
from glimpse.errors import ImageFormatMismatch, ImageUnsafe
from glimpse.formats.qemu import QEMU_FORMATS, QemuImgView
from glimpse.formats.verdict import Verdict
from tests.support.disk_images import require_qemu_img
from tests.support.image_cases import ALL, BENIGN, HOSTILE, Case, build_all

ERRORS = {"mismatch": ImageFormatMismatch, "unsafe": ImageUnsafe}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    require_qemu_img()
    return build_all(tmp_path_factory.mktemp("cases"))


@pytest.fixture(scope="module")
def qemu() -> QemuImgView:
    view = QemuImgView.find()
    if not view.active:
        pytest.skip(view.describe())
    return view


def _qemu_size(path: Path, disk_format: str) -> int:
    done = subprocess.run(["qemu-img", "info", "--output=json", "-f", QEMU_FORMATS.get(disk_format, "raw"), str(path)],
                          capture_output=True, check=False)
    return int(json.loads(done.stdout)["virtual-size"]) if done.returncode == 0 else 1 << 30


def _qemu_refuses(qemu: QemuImgView, case: Case, path: Path, verdict: Verdict) -> bool:
    if case.container_format not in formats.DIRECT_CONTAINERS:
        return False
    try:
        qemu.check(str(path), case.disk_format, verdict)
    except ImageUnsafe:
        return True
    return False


@pytest.mark.parametrize("case", BENIGN, ids=[c.name for c in BENIGN])
def test_benign_images_pass_both_views(case: Case, images: dict[str, Path], qemu: QemuImgView) -> None:
    verdict = formats.inspect(str(images[case.name]), case.disk_format, case.container_format)
    assert verdict.virtual_size > 0
    qemu.check(str(images[case.name]), case.disk_format, verdict)


@pytest.mark.parametrize("case", HOSTILE, ids=[c.name for c in HOSTILE])
def test_hostile_images_are_caught_by_the_views_the_catalogue_names(case: Case, images: dict[str, Path],
                                                                     qemu: QemuImgView) -> None:
    path = images[case.name]
    try:
        verdict = formats.inspect(str(path), case.disk_format, case.container_format)
        inspector_refuses = False
    except (ImageFormatMismatch, ImageUnsafe) as exc:
        inspector_refuses = True
        assert isinstance(exc, ERRORS[case.outcome]), exc
        assert case.says in exc.message, exc.message
        verdict = Verdict(case.disk_format, _qemu_size(path, case.disk_format))
    # qemu is asked with the virtual size it finds itself: only its own objections count
    qemu_refuses = _qemu_refuses(qemu, case, path, verdict)
    assert (inspector_refuses, qemu_refuses) == {
        "both": (True, True), "inspector": (True, False), "qemu": (False, True)}[case.caught_by]


def test_qemu_view_refuses_a_virtual_size_other_than_the_inspectors(images: dict[str, Path],
                                                                    qemu: QemuImgView) -> None:
    path = str(images["qcow2 v3"])
    verdict = formats.inspect(path, "qcow2", "bare")
    with pytest.raises(ImageUnsafe, match="virtual size"):
        qemu.check(path, "qcow2", Verdict("qcow2", verdict.virtual_size + 512))


def test_every_catalogued_case_has_a_distinct_name() -> None:
    assert len({case.name for case in ALL}) == len(ALL)
