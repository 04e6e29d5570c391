"""Operators: a wrong store configuration stops glimpse-api in one line; ``glimpse-manage store check``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.support import vault_store


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return vault_store.install(tmp_path_factory.mktemp("vault-site"))


def environment(site: Path, stores: dict[str, Any], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    env.update({"GLIMPSE_STORES": json.dumps(stores), "GLIMPSE_DEFAULT_STORE": next(iter(stores)),
                "PYTHONPATH": os.pathsep.join([str(site), *sys.path]), **extra})
    return env


def serve(tmp_path: Path, site: Path, stores: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "glimpse.cli.serve", "--host", "127.0.0.1", "--port", str(free_port()),
               "--data-dir", str(tmp_path / "node")]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment(site, stores))


def vault(tmp_path: Path, **options: Any) -> dict[str, Any]:
    return {"driver": "vault", "path": str(tmp_path / "vault"), "endpoint": "https://vault.test",
            "access_key": "ak", "secret_key": "sk", **options}


@pytest.mark.parametrize(("store", "expected"), [
    ({"driver": "floppy"}, "error: store 'bad': option 'driver': unknown store driver 'floppy'"),
    ({"driver": "vault", "endpoint": "https://vault.test", "access_key": "a", "secret_key": "s"},
     "error: store 'bad': option 'path': required by driver 'vault' but not set"),
    ({"driver": "filesystem", "path": "/tmp", "colour": "blue"},
     "error: store 'bad': option 'colour': not an option of driver 'filesystem'"),
    ("vault-region", "error: store 'bad': option 'region': 'east' is not a region; choose one of north, south"),
    ("vault-unreachable", "error: store 'bad': cannot be reached: cannot connect to vault.test: connection refused"),
])
def test_a_bad_store_stops_the_server_with_one_line(tmp_path: Path, site: Path, store: Any, expected: str) -> None:
    if store == "vault-region":
        store = vault(tmp_path, region="east")
    elif store == "vault-unreachable":
        store = vault(tmp_path, reachable=False, endpoint="https://keeper:hunter2@vault.test")
    good = {"driver": "filesystem", "path": str(tmp_path / "good")}
    done = serve(tmp_path, site, {"good": good, "bad": store})
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(expected), done.stderr
    assert "hunter2" not in done.stderr


def test_a_store_directory_that_cannot_be_made_names_the_path_option(tmp_path: Path, site: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    done = serve(tmp_path, site, {"file": {"driver": "filesystem", "path": str(tmp_path / "a-file" / "images")}})
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["error: store 'file': option 'path': Not a directory"]


def manage_store_check(site: Path, tmp_path: Path, stores: dict[str, Any], **extra: str
                       ) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(tmp_path / "node"), "store", "check"]
    return subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env=environment(site, stores, **extra))


def test_store_check_probes_every_store_and_fails_if_one_does(tmp_path: Path, site: Path) -> None:
    stores = {"file": {"driver": "filesystem", "path": str(tmp_path / "file")},
              "old": {"driver": "filesystem", "path": str(tmp_path / "old"), "read_only": True},
              "vault": vault(tmp_path)}
    done = manage_store_check(site, tmp_path, stores, GLIMPSE_EXTENSIONS='["image-import"]')
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "store 'file' (filesystem)", "store 'old' (filesystem)", "store 'vault' (vault)",
        "store 'os_glance_staging_store' (filesystem)"]
    assert "wrote, read and deleted 4096 bytes" in lines[0] and "read-only" in lines[1]
    assert list((tmp_path / "file").iterdir()) == [] and list((tmp_path / "vault").iterdir()) == []

    stores["vault"] = vault(tmp_path, refuse_writes=True)
    failed = manage_store_check(site, tmp_path, stores)
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[2] == (
        "store 'vault' (vault): FAILED: the vault answered 503: writes are suspended")
    assert failed.stdout.splitlines()[0].startswith("store 'file' (filesystem): ok")


def test_cleanup_removes_spool_files_a_crash_left_behind(tmp_path: Path) -> None:
    data_dir = tmp_path / "node"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLIMPSE_")}
    manage = [sys.executable, "-m", "glimpse.cli.manage", "--data-dir", str(data_dir)]
    assert subprocess.run([*manage, "db", "upgrade"], capture_output=True, env=env, timeout=60).returncode == 0
    (data_dir / "spool").mkdir(parents=True)
    left = data_dir / "spool" / "image-1-123-456"
    left.write_bytes(b"half an image")
    os.utime(left, (1_000_000, 1_000_000))
    done = subprocess.run([*manage, "cleanup", "--stale-minutes", "10"], capture_output=True, text=True, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "removed 1 incomplete temporary file(s)" in done.stdout
    assert list((data_dir / "spool").iterdir()) == []
