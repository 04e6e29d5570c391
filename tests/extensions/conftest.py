"""The third-party test extension, really installed (entry point and all) for a server to load."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Api, Server, start_server

PACKAGE = Path(__file__).parent / "acme_watermark"


@pytest.fixture(scope="session")
def acme_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the installed ``acme-watermark`` distribution, for ``PYTHONPATH``."""
    work = tmp_path_factory.mktemp("acme")
    source = work / "src"
    shutil.copytree(PACKAGE, source)  # build out of tree: leave no build/ or egg-info behind
    target = work / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True)
    assert list(target.glob("acme_watermark-*.dist-info/entry_points.txt"))
    return target


def start_with_extensions(data_dir: Path, extensions: str, site: Path | None = None,
                          env: dict[str, str] | None = None) -> Server:
    environment = {"GLIMPSE_EXTENSIONS": extensions, **(env or {})}
    if site is not None:
        environment["PYTHONPATH"] = os.pathsep.join([str(site), *sys.path])
    return start_server(data_dir, env=environment)


@pytest.fixture(scope="module")
def acme_server(acme_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_with_extensions(tmp_path_factory.mktemp("acme-server"), '["templates", "cache", "acme-watermark"]',
                                   acme_site, env={"GLIMPSE_IMAGE_CACHE_STALL_TIME": "1",
                                                   "GLIMPSE_IMAGE_CACHE_INTERVAL": "0.3"})
    yield server
    server.stop()


@pytest.fixture
def acme(acme_server: Server, project: str) -> Iterator[Api]:
    client = Api(acme_server.url, project)
    yield client
    client.close()
